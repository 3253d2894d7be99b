"""Fitting the model: its shape and graphs, the run folder, one training session, fine-tuning.

    model            ModelShape (layers, units, inputs) and the one builder of both graphs (sequence and step)
    runs             the run folder: TrainConfig, what train writes and evaluate/export read
    create           making a run folder; what counts as a run (one finished epoch), discarding one that is not
    session          one training session: windows -> tf.data -> Keras fit, its schedule and strategy
    history          Keras callbacks: history.json with the curves picture, and the time budget
    outcome          how a session ended: the one-line summary and its warning
    finetune         train --from: the base model's weights, shape and pitch range; naming melodies outside it
    warm_start       how the shipped default was made from the token-only model (python -m training.fit.warm_start)
    contract_writer  the JSON contract written beside an exported .tflite

May import: device.core, training.data and training.fit (never device.engine, evaluation, musical or the
commands).
"""
