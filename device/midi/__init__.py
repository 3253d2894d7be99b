"""MIDI ports: what the box plays to and listens on. Imports core/ and itself.

    ports         opening outputs and inputs by name, virtual ports, a MIDI file that records
    polled_input  an rtmidi input read by polling on a thread of ours
    midi_in       the input's messages to the loop and the clock follower, never blocking
    reconnect     losing, checking and reopening a port (hot-plug), for the input and the output alike
    fanout        one input, several readers (call and response, the chord listener, the input recorder)
    midi_out      tokens to note messages on an output, surviving an unplugged synth
    reconnect     hot-plug for both: a port lost, checked and reopened, with its counters
"""
