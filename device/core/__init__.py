"""The musical core: what every other part shares. Imports nothing of ours outside core/.

    encoding    one token per 16th step: 0-127 note-on, 128 note-off, 129 no event
    timegrid    steps per quarter, pulses per step, the default bar, a step's seconds at a tempo, a bar's metre
    scales      scales and note names (C:major, F#:dorian; C4 = MIDI 60)
    chords      chord names and progressions (Am7, "Am F C G"), the key they imply, the Harmony of a step
    clock       a monotonic clock and a fake one for tests
    features    the model's inputs beyond the last token (bar position, lookback), for training and the box
    contract    the JSON contract beside every .tflite, checked on load; where the shipped models are
    files       files written whole: new ones under a stamped name taken atomically, and replacements
    midireader  MIDI files and live MIDI to the 16th-step grid, one set of rules
    stderr      what C libraries print, hidden unless --verbose
"""
