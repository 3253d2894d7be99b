"""Key normalisation: every melody moved to the diatonic set of C before training.

A key-normalised model learns one set of pitch classes (C major and its modes: A minor, D dorian,
G mixolydian, ...) instead of inferring the key from its own notes; the box moves what it plays to a
chosen key (device/keyshift.py). A melody's key is the diatonic set that holds the most of its notes
(training.musical_features.best_keys; the lowest of equals). It moves by the smallest interval that
puts that set on C: -6..+5 semitones, so the register changes by at most a tritone.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from device import encoding
from training.musical_features import best_keys

NATIVE_KEY = 0  # pitch class of the diatonic set a key-normalised model plays in: C (C major, A minor, D dorian, ...)


def key_of(tokens: np.ndarray) -> int:
    """The pitch class 0..11 of the major key whose diatonic set holds the most of the melody's note-ons
    (0 = C; a melody without notes is in C)."""
    pitches = np.asarray(tokens)[np.asarray(tokens) < encoding.NUM_PITCHES]
    return int(best_keys(pitches.astype(np.int64))[0]) if len(pitches) else NATIVE_KEY


def shift_to_native(key: int) -> int:
    """Semitones -6..+5 that move a melody in ``key`` (pitch class) to NATIVE_KEY."""
    return (NATIVE_KEY - key + 6) % 12 - 6


def to_native_key(tokens: np.ndarray) -> np.ndarray:
    """``tokens`` moved to NATIVE_KEY: note-ons shifted (kept within 0..127 by octaves), other tokens as they are."""
    tokens = np.asarray(tokens)
    shift = shift_to_native(key_of(tokens))
    if shift == 0:
        return tokens
    notes = tokens < encoding.NUM_PITCHES
    moved = tokens.copy()
    pitches = tokens[notes].astype(np.int64) + shift
    pitches = np.where(pitches < 0, pitches + 12, np.where(pitches > 127, pitches - 12, pitches))
    moved[notes] = pitches.astype(tokens.dtype)
    return moved


def most_common_key(melodies: list[np.ndarray]) -> int:
    """The pitch class of the key most of ``melodies`` are in (ties: the lowest)."""
    counts = Counter(key_of(m) for m in melodies)
    return min(counts, key=lambda key: (-counts[key], key)) if counts else NATIVE_KEY
