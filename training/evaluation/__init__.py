"""Evaluating a model: token by token against baselines, and an exported file as the box runs it.

    baselines      the unigram and the interpolated Kneser-Ney n-gram (numpy only)
    report         the report: a row of figures per model, the comparisons and verdict, the table
    verdict        better, worse or not clearly different, melody by melody; no verdict on too few melodies
    sequence       evaluate --run: a run's Keras model (and the model it was fine-tuned from) on its melodies
    exported       evaluate --model: an exported .tflite stepped by the box's StepModel, on its contract's data
    measure        NLL, perplexity and top-1 of a .tflite through StepModel in each runtime; into its contract
    parity         the .tflite against the Keras model: max logit difference, top-1 agreement, KL
    runtime_check  a script one runtime's Python runs: step a .tflite through StepModel (no TensorFlow)

May import: device.core, device.engine, training.data, training.fit and training.evaluation (never musical or the
commands).
"""
