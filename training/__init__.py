"""The desktop side of Melody Box: MIDI files -> prepared melodies -> a trained LSTM -> a .tflite for the box.

The commands, on top (each a ``melodybox-train`` subcommand; they may import anything below):

    cli        melodybox-train: the subcommands, loaded only when run (--help needs no TensorFlow)
    prepare    MIDI files or folders -> a prepared melody file (.npz), with a report per file
    train      prepared melodies -> a run folder (from scratch or --from a trained model)
    evaluate   a run or an exported model against unigram and n-gram baselines (and its base), with a verdict
    export     a run -> NAME.tflite + NAME.json, the contract the box checks

The packages below them, by stage:

    data/        melodies: MIDI -> tokens with their metre, prepared files, octaves, windows for training
    fit/         the model's shape and graphs, run folders, a training session, fine-tuning, the contract writer
    evaluation/  baselines, the report and its verdict, a run's Keras model and an exported file as the box runs it
    musical/     musical features of generated melodies against real ones
    corpus/      how the bundled corpus (corpus/folk.npz) is rebuilt

The dependency rule: imports point down and never back. data/ imports device.core and data; fit/ device.core,
data and fit; evaluation/ device.core, device.engine, data, fit and evaluation; musical/ device.core,
device.engine, data, evaluation and musical; corpus/ anything in training. No package imports a command (only
corpus/ may), and device/ never imports training/. Imports sit at the top of each file; the few inside a
function say why on their line (``# lazy:``: TensorFlow, Keras, matplotlib, music21). tests/test_training_layout.py
enforces all of it, imports inside functions included.
"""
