"""Harmony: where the chords the melody keeps to come from, one ``Harmony`` (device/core/chords.py) per step.
Imports core/, engine/, midi/ and itself.

    progression  a progression given as text (--chords "Am F C G"): a chord per bar of the transport, cycled
    listener     the chords a player holds on the MIDI input (--harmony follow), and the key of what was heard
    source       the source a box's configuration asks for
    flags        the command line's harmony flags (--chords, --harmony follow, --harmony-channel, --record-input)

Both are harmony sources for the loop (device/play/loop.py): ``hear(tick)`` on every tick of the transport
(a tick has ``pulse`` and ``running``), and ``at(step)``, the Harmony of a 16th step, asked when its token is
chosen and again just before it plays.
"""
