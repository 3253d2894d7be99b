"""The transport: the loop's only source of time, one tick per MIDI clock pulse. Imports core/, midi/ and itself.

    base      the Tick and the Transport protocol
    internal  the box's own clock at a set tempo (clock.mode = internal, and lead)
    follow    steps on the MIDI clock arriving at the input (clock.mode = follow)
    lead      MIDI clock, Start and Stop sent with the notes (clock.mode = lead)
    link      an Ableton Link session's timeline (clock.mode = link)
"""
