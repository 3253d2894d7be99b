"""Rendering: the box heard and seen without a synth. Imports core/, midi/ and itself.

    synth      a small monophonic synth in numpy
    voice      the built-in voice: the box's notes on the sound card, and melodies rendered to audio
    pianoroll  piano-roll pictures (PNG) of melodies, with numpy only
    font       the pixel font their labels and titles are drawn in
"""
