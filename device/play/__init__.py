"""Playing: the real-time loop and its modes. Imports core/, engine/, midi/, transport/ and itself.

    loop     steps on the transport: plays each token at its onset, reads the controls, computes the next
    answer   call and response: listens to a player's call, answers on the bar line
    capture  the last bars played, written to a MIDI file while the box plays on
    takes    what the player plays on the input, a MIDI file per take (--record-input)
"""
