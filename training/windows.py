"""Melodies -> training examples: the split by melody, fixed-length windows, and the tf.data pipeline.

Every melody is preceded by ``START_TOKEN`` (the model's first input), so a
melody of n tokens gives the sequence ``[START] + melody`` with inputs ``seq[:-1]``
and targets ``seq[1:]`` (n predictions). Windows of ``window`` steps cut that
into examples with a target at every position (sequence to sequence). A window
shorter than ``window`` (the end of a melody) is padded; padded steps get weight 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device import encoding

PAD_TOKEN = encoding.NO_EVENT


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


def make_windows(melodies: list[np.ndarray], window: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut melodies into (inputs, targets, weights), each [examples, window].

    Windows start every ``stride`` steps of each melody; the last one may be
    padded (weight 0 where padded). Inputs are int32 tokens, weights float32 0/1.
    """
    if window < 1 or stride < 1:
        raise ValueError(f"window {window} and stride {stride} must be >= 1")
    inputs, targets, weights = [], [], []
    for melody in melodies:
        seq = with_start(melody)
        predictions = len(seq) - 1
        for begin in range(0, max(predictions, 1), stride):
            x = seq[begin:begin + window]
            y = seq[begin + 1:begin + window + 1]
            if len(y) == 0:
                break
            pad = window - len(y)
            inputs.append(np.pad(x[:len(y)], (0, pad), constant_values=PAD_TOKEN))
            targets.append(np.pad(y, (0, pad), constant_values=PAD_TOKEN))
            weights.append(np.pad(np.ones(len(y), np.float32), (0, pad)))
            if begin + window >= predictions:
                break
    if not inputs:
        raise ValueError("no windows: the melodies are empty")
    return np.stack(inputs).astype(np.int32), np.stack(targets).astype(np.int32), np.stack(weights)


def transpose_window(inputs, targets, weights, max_shift: int, seed: int | None = None):
    """Shift every note-on of one window (inputs and targets alike) by one random number of semitones.

    The shift is drawn uniformly from the shifts in -max_shift..max_shift that keep
    all notes in 0..127; tokens 128 and 129 are untouched. A TensorFlow function
    for ``tf.data.Dataset.map``.
    """
    import tensorflow as tf

    both = tf.concat([inputs, targets], axis=0)
    is_note = both < encoding.NUM_PITCHES
    big = tf.constant(10_000, tf.int32)
    low = tf.reduce_min(tf.where(is_note, both, big))
    high = tf.reduce_max(tf.where(is_note, both, -big))
    has_notes = tf.reduce_any(is_note)
    lo = tf.where(has_notes, tf.maximum(-max_shift, -low), 0)
    hi = tf.where(has_notes, tf.minimum(max_shift, encoding.NUM_PITCHES - 1 - high), 0)
    shift = tf.random.uniform([], lo, hi + 1, dtype=tf.int32, seed=seed)

    def move(tokens):
        return tf.where(tokens < encoding.NUM_PITCHES, tokens + shift, tokens)

    return move(inputs), move(targets), weights


def make_dataset(inputs, targets, weights, batch_size: int, shuffle: bool, seed: int, max_shift: int = 0):
    """A tf.data pipeline over windows: (optionally) shuffle each epoch, transpose, batch, prefetch."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((inputs, targets, weights))
    if shuffle:
        data = data.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    if max_shift > 0:
        data = data.map(lambda x, y, w: transpose_window(x, y, w, max_shift, seed=seed),
                        num_parallel_calls=1, deterministic=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
