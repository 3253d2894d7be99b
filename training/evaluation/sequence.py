"""Evaluate a training run's Keras model (``evaluate --run``), and the model a run was fine-tuned from.

Each melody is read whole, in one pass from a zero state (the same as stepping it token by token from a reset),
with its features for a lookback model, the melody preceded by START_TOKEN. Baselines are fitted on the run's
training split; the n-gram order (1..max_order) is the one with the lowest NLL on the evaluated melodies, which
flatters the n-gram. A fine-tuned run is also compared with its base (``train --from``), read the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.core import encoding, features
from device.core.contract import sha256_of
from training.data.windows import DEFAULT_METRE, metres, sequence_inputs
from training.evaluation.report import Outputs, assemble, baseline_outputs
from training.fit import finetune
from training.fit.model import ModelShape, build_models
from training.fit.runs import RunError, load_data, load_run, read_json

METHOD = ("full sequences from a zero state, START_TOKEN first; baselines fitted on the training split; n-gram "
          "order chosen on these melodies")


def lstm_outputs(sequence_model, melodies: list[np.ndarray], melody_metres=None, feature_names=(),
                 batch_tokens: int = 32768) -> Outputs:
    """Per-token log P(true token) and argmax of the sequence model, melodies concatenated in order."""
    import tensorflow as tf  # lazy: TensorFlow takes over a second to import; the numpy-only modules never need it

    melody_metres = melody_metres or [DEFAULT_METRE] * len(melodies)
    order = np.argsort([len(m) for m in melodies])
    log_probs: list = [None] * len(melodies)
    predicted: list = [None] * len(melodies)
    start = 0
    while start < len(order):
        count = 1
        while start + count < len(order) and len(melodies[order[start + count]]) * (count + 1) <= batch_tokens:
            count += 1
        batch = [order[i] for i in range(start, start + count)]
        logp = tf.nn.log_softmax(sequence_model(batch_inputs(melodies, batch, melody_metres, feature_names),
                                                training=False), axis=-1).numpy()
        for row, index in enumerate(batch):
            n = len(melodies[index])
            targets = np.asarray(melodies[index], np.int64)
            log_probs[index] = logp[row, np.arange(n), targets]
            predicted[index] = np.argmax(logp[row, :n], axis=-1)
        start += count
    return np.concatenate(log_probs), np.concatenate(predicted)


def batch_inputs(melodies, batch, melody_metres, feature_names):
    """The sequence model's inputs for melodies ``batch``, padded to the longest (padding is never scored)."""
    longest = max(len(melodies[i]) for i in batch)
    tokens = np.full((len(batch), longest), encoding.NO_EVENT, np.int32)
    extra = {name: np.zeros((len(batch), longest, *features.INPUTS[name][0]), features.INPUTS[name][1])
             for name in feature_names}
    for row, index in enumerate(batch):
        inputs = sequence_inputs(melodies[index], melody_metres[index], feature_names)
        n = len(melodies[index])
        tokens[row, :n] = (inputs["tokens"] if feature_names else inputs)[0]
        for name in feature_names:
            extra[name][row, :n] = inputs[name][0]
    return {"tokens": tokens, **extra} if feature_names else tokens


def weights_outputs(shape: ModelShape, weights: Path, melodies, melody_metres) -> Outputs:
    """``lstm_outputs`` of the model of ``shape`` with the Keras ``weights``."""
    model = build_models(shape).sequence
    model.load_weights(weights)
    return lstm_outputs(model, melodies, melody_metres, shape.feature_names)


def recorded_base(config: dict) -> tuple[str, Path | None] | None:
    """(name, weights) of the model a run was fine-tuned from, as its config.json records it; weights None when
    they are no longer here or have changed since (SHA-256). None for a run trained from scratch."""
    weights = finetune.recorded_weights(config)
    if weights is None:
        return None
    recorded = config["base"].get("sha256")
    if not weights.is_file() or (recorded and sha256_of(weights) != recorded):
        return config["base"]["source"], None
    return config["base"]["source"], weights


def base_note(name: str) -> str:
    return f"Not compared with {name}, the model it was fine-tuned from: its weights are not here or have changed."


def evaluate(outputs: dict[str, Outputs], train: list[np.ndarray], melodies: list[np.ndarray], max_order: int = 6,
             base: str = "") -> dict:
    """The evaluation report of a model's outputs (and its base's, as "base") against the baselines."""
    found, search = baseline_outputs(train, melodies, max_order)
    return assemble({**outputs, **found}, melodies, METHOD, search, base)


def evaluate_run(run_path: Path, data: Path | None = None, max_order: int = 6) -> dict:
    """Load a run's best weights and evaluate on its validation split (or on ``data``); a fine-tuned run is also
    compared with the model it started from."""
    run = load_run(run_path)
    if not run.best_weights.is_file():
        raise RunError(f"{run.best_weights}: no checkpoint (did training finish an epoch?)")
    if data:
        melody_set = load_data((str(data),))
        melodies, melody_metres = melody_set.melodies, metres(melody_set, range(len(melody_set)))
    else:
        melodies, melody_metres = run.side("validation"), metres(run.melodies, run.split.validation)
    kept = [i for i, m in enumerate(melodies) if len(m)]
    melodies, melody_metres = [melodies[i] for i in kept], [melody_metres[i] for i in kept]
    outputs = {"lstm": weights_outputs(run.model, run.best_weights, melodies, melody_metres)}
    base = recorded_base(read_json(run.path / "config.json"))
    if base and base[1]:
        outputs["base"] = weights_outputs(run.model, base[1], melodies, melody_metres)
    report = evaluate(outputs, run.side("train"), melodies, max_order, base[0] if base and base[1] else "")
    report["evaluated_on"] = str(data) if data else "validation split"
    if base and not base[1]:
        report["note"] = base_note(base[0])
    return report
