"""Musical evaluation: melodies from the box's generator and the n-gram against real ones (evaluate --musical).

    features  features of one melody: pitch, rhythm, repetition and key (after mgeval)
    compare   each feature's distribution per set against the reference: overlap (OA) and KL; the table
    run       the sets compared: the box's generator, the n-gram, training melodies; the length they allow
    plot      the PNG of the feature distributions (matplotlib)
    opening   how silent a melody's start is, the box's against real tunes (python -m training.musical.opening)
    harmony   the model over chord progressions, with and without the chords: chord tones, key, form

May import: device.core, device.engine, training.data, training.evaluation and training.musical (never fit or the
commands).
"""
