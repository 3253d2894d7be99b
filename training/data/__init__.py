"""Melodies as data: from MIDI files to prepared files to training windows (numpy and mido; TensorFlow only
inside the tf.data pipeline of windows).

    midi_melody  one MIDI file -> its melody line as token arrays, each with its metre; a reason when skipped
    metre        bar lines from time signatures; long bars cut into bars the model knows; the report's metres
    convert      find MIDI files and convert many, in parallel, each bounded in time
    octaves      move melodies by whole octaves into a range of notes (prepare --transpose-into)
    dataset      prepared melody files (.npz, no pickle) and the seed course's legacy format
    windows      the split by melody, fixed-length windows with their features, the tf.data pipeline

May import: device.core and training.data (never device.engine, the other training packages or the commands).
"""
