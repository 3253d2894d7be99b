"""The bundled corpus: folk.npz (prepared public-domain folk tunes) and how it is rebuilt.

    build  music21's O'Neill's and Ryan's Mammoth ABC -> one MIDI file per tune -> prepare -> folk.npz

May import: anything in training (it runs the prepare command's pipeline) and device.core.
"""
