"""Melodies -> training examples: the split by melody, fixed-length windows, and the tf.data pipeline.

Every melody is preceded by ``START_TOKEN`` (the model's first input), so a
melody of n tokens gives the sequence ``[START] + melody`` with inputs ``seq[:-1]``
and targets ``seq[1:]`` (n predictions). Windows of ``window`` steps cut that
into examples with a target at every position (sequence to sequence). A window
shorter than ``window`` (the end of a melody) is padded; padded steps get weight 0.

Windows start on bar lines: the first at the melody's start (START_TOKEN), the
others where the predicted step is a bar's first step, every ``stride`` steps
rounded up to whole bars. A model with lookback inputs gets them per window as
well, computed over the whole melody by device.core.features (so a window that starts
in bar 9 still sees bars 7 and 8): the inputs are then a dict {"tokens": ...,
"lookback": ..., "bar_position": ..., "repeats": ...}, else the tokens alone.
A melody's metre is (bar_steps, bar_offset): steps per bar and the bar step of
its first step; data without metre is taken as (16, 0), 4/4 from the bar line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.core import encoding, features, timegrid

PAD_TOKEN = encoding.NO_EVENT
DEFAULT_METRE = (timegrid.DEFAULT_BAR_STEPS, 0)


@dataclass(frozen=True)
class Split:
    """Melody indices (into the loaded MelodySet) on each side; no melody is on both."""

    train: tuple[int, ...]
    validation: tuple[int, ...]
    seed: int
    fraction: float

    def to_json(self) -> dict:
        return {"seed": self.seed, "validation_fraction": self.fraction, "train": list(self.train),
                "validation": list(self.validation)}

    @classmethod
    def from_json(cls, data: dict) -> Split:
        return cls(tuple(data["train"]), tuple(data["validation"]), int(data["seed"]),
                   float(data["validation_fraction"]))


def split_melodies(count: int, fraction: float, seed: int) -> Split:
    """Split melody indices 0..count-1 at random (seeded); ``fraction`` (0..1) goes to validation.

    At least one melody lands on each side when ``count >= 2``.
    """
    if count < 2:
        raise ValueError(f"need at least 2 melodies to split, got {count}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction {fraction} is outside 0..1 (exclusive)")
    order = np.random.default_rng(seed).permutation(count)
    n_val = min(count - 1, max(1, round(count * fraction)))
    return Split(tuple(sorted(int(i) for i in order[n_val:])), tuple(sorted(int(i) for i in order[:n_val])),
                 seed, fraction)


def with_start(melody: np.ndarray) -> np.ndarray:
    """``[START_TOKEN] + melody`` as int32."""
    return np.concatenate([[encoding.START_TOKEN], np.asarray(melody, np.int32)]).astype(np.int32)


def metres(melody_set, indices) -> list[tuple[int, int]]:
    """(bar_steps, bar_offset) of the melodies ``indices`` of a MelodySet; (16, 0) where it records none."""
    bar_steps, bar_offset = getattr(melody_set, "bar_steps", None), getattr(melody_set, "bar_offset", None)
    if bar_steps is None or bar_offset is None:
        return [DEFAULT_METRE] * len(indices)
    return [(int(bar_steps[i]), int(bar_offset[i])) for i in indices]


def run_windows(run, side: str, window: int, stride: int):
    """(inputs, targets, weights) of one side ("train" or "validation") of a training run, as its model reads them."""
    indices = run.split.train if side == "train" else run.split.validation
    return make_windows(run.side(side), window, stride, metres(run.melodies, indices), run.model.feature_names)


def sequence_inputs(melody: np.ndarray, metre: tuple[int, int] = DEFAULT_METRE, feature_names=()):
    """The sequence model's inputs for one whole melody (``[START] + melody[:-1]``), batch 1."""
    tokens = with_start(melody)[:-1][None]
    if not feature_names:
        return tokens
    found = features.melody_features(melody, *metre)
    return {"tokens": tokens, **{name: found[name][None] for name in feature_names}}


def window_starts(predictions: int, window: int, stride: int, metre: tuple[int, int] | None) -> list[int]:
    """Where windows begin (indices of predicted steps): 0, then bar lines every ``stride`` steps rounded up to
    bars; without a metre every ``stride`` steps."""
    bar_steps, bar_offset = metre or (1, 0)
    starts, stride = [0], -(-stride // bar_steps) * bar_steps
    begin = (-bar_offset) % bar_steps or stride
    while starts[-1] + window < predictions and begin < predictions:
        starts.append(begin)
        begin += stride
    return starts


def make_windows(melodies: list[np.ndarray], window: int, stride: int, melody_metres=None, feature_names=()):
    """Cut melodies into (inputs, targets, weights), each [examples, window, ...].

    Windows begin at ``window_starts``; the last one may be padded (weight 0 where
    padded). Inputs are int32 tokens (or a dict with the features), weights float32 0/1.
    ``melody_metres``: (bar_steps, bar_offset) per melody; None: windows every ``stride`` steps, features
    for (16, 0).
    """
    if window < 1 or stride < 1:
        raise ValueError(f"window {window} and stride {stride} must be >= 1")
    melody_metres = melody_metres or [None] * len(melodies)
    columns: dict[str, list] = {name: [] for name in ("tokens", "targets", "weights", *feature_names)}
    for melody, metre in zip(melodies, melody_metres, strict=True):
        seq = with_start(melody)
        found = features.melody_features(melody, *(metre or DEFAULT_METRE)) if feature_names else {}
        for begin in window_starts(len(seq) - 1, window, stride, metre):
            y = seq[begin + 1:begin + window + 1]
            if len(y) == 0:
                break
            pad = window - len(y)
            columns["tokens"].append(np.pad(seq[begin:begin + len(y)], (0, pad), constant_values=PAD_TOKEN))
            columns["targets"].append(np.pad(y, (0, pad), constant_values=PAD_TOKEN))
            columns["weights"].append(np.pad(np.ones(len(y), np.float32), (0, pad)))
            for name in feature_names:
                part = found[name][begin:begin + len(y)]
                fill = features.NONE if name == "lookback" else 0
                columns[name].append(np.pad(part, [(0, pad)] + [(0, 0)] * (part.ndim - 1), constant_values=fill))
    if not columns["tokens"]:
        raise ValueError("no windows: the melodies are empty")
    stacked = {name: np.stack(rows) for name, rows in columns.items()}
    tokens = stacked["tokens"].astype(np.int32)
    inputs = {"tokens": tokens, **{name: stacked[name] for name in feature_names}} if feature_names else tokens
    return inputs, stacked["targets"].astype(np.int32), stacked["weights"]


def transpose_window(inputs, targets, weights, max_shift: int, seed: int | None = None):
    """Shift every note-on of one window (inputs, lookback tokens and targets alike) by one random number of
    semitones.

    The shift is drawn uniformly from the shifts in -max_shift..max_shift that keep
    all notes in 0..127; other tokens are untouched. ``inputs`` is the tokens or a dict
    with "tokens" (and "lookback"). A TensorFlow function for ``tf.data.Dataset.map``.
    """
    import tensorflow as tf  # lazy: TensorFlow takes over a second to import; windows are numpy until here

    tokens = inputs["tokens"] if isinstance(inputs, dict) else inputs
    parts = [tokens, targets]
    if isinstance(inputs, dict) and "lookback" in inputs:
        parts.append(tf.reshape(inputs["lookback"], [-1]))
    both = tf.concat(parts, axis=0)
    is_note = both < encoding.NUM_PITCHES
    big = tf.constant(10_000, tf.int32)
    low = tf.reduce_min(tf.where(is_note, both, big))
    high = tf.reduce_max(tf.where(is_note, both, -big))
    has_notes = tf.reduce_any(is_note)
    lo = tf.where(has_notes, tf.maximum(-max_shift, -low), 0)
    hi = tf.where(has_notes, tf.minimum(max_shift, encoding.NUM_PITCHES - 1 - high), 0)
    shift = tf.random.uniform([], lo, hi + 1, dtype=tf.int32, seed=seed)

    def move(values):
        return tf.where(values < encoding.NUM_PITCHES, values + shift, values)

    if not isinstance(inputs, dict):
        return move(inputs), move(targets), weights
    moved = {**inputs, "tokens": move(tokens)}
    if "lookback" in inputs:
        moved["lookback"] = move(inputs["lookback"])
    return moved, move(targets), weights


def make_dataset(inputs, targets, weights, batch_size: int, shuffle: bool, seed: int, max_shift: int = 0):
    """A tf.data pipeline over windows: (optionally) shuffle each epoch, transpose, batch, prefetch."""
    import tensorflow as tf  # lazy: TensorFlow takes over a second to import; windows are numpy until here

    data = tf.data.Dataset.from_tensor_slices((inputs, targets, weights))
    if shuffle:
        data = data.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
    if max_shift > 0:
        data = data.map(lambda x, y, w: transpose_window(x, y, w, max_shift, seed=seed),
                        num_parallel_calls=1, deterministic=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
