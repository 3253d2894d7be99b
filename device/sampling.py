"""Choosing the next token from logits: temperature, pitch-range mask, seeded randomness.

numpy only. Temperature and masks live here, not in the model graph.
"""

from __future__ import annotations

import math

import numpy as np

from device import encoding
from device.controlstate import ControlState


def temperature_from_knob(position: float, low: float = 0.05, high: float = 3.0) -> float:
    """Map a knob position 0..1 to a temperature.

    Geometric on both halves: 0 -> ``low`` (near-greedy), 0.5 -> exactly 1.0,
    1 -> ``high`` (wild). Positions outside 0..1 are clamped (an ADC can overshoot
    a little); a NaN position raises ValueError. Requires 0 < low < 1 < high.
    """
    if not 0 < low < 1 < high:
        raise ValueError(f"temperature range needs 0 < low < 1 < high, got low={low}, high={high}")
    if math.isnan(position):
        raise ValueError("knob position is NaN")
    position = min(1.0, max(0.0, float(position)))
    if position == 0.5:
        return 1.0
    if position < 0.5:
        return low ** (1.0 - 2.0 * position)
    return high ** (2.0 * position - 1.0)


class Sampler:
    """Samples tokens from logits with a seeded numpy Generator.

    ``pitch_range`` (lo, hi), inclusive MIDI pitches: note-ons outside it are never
    chosen; NOTE_OFF and NO_EVENT are never masked.
    """

    def __init__(self, seed: int | None = None, pitch_range: tuple[int, int] | None = None):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.pitch_range = pitch_range
        self._mask = np.zeros(encoding.VOCAB_SIZE, dtype=bool)  # True = excluded
        if pitch_range is not None:
            low, high = (int(v) for v in pitch_range)
            if not 0 <= low <= high < encoding.NUM_PITCHES:
                raise ValueError(f"pitch_range {pitch_range} is not within 0..127 with low <= high")
            self._mask[:low] = True
            self._mask[high + 1 : encoding.NUM_PITCHES] = True

    def reseed(self, seed: int | None) -> None:
        """Start a fresh random stream from ``seed``."""
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def probabilities(self, logits: np.ndarray, controls: ControlState) -> np.ndarray:
        """The masked softmax of ``logits / controls.temperature`` (float64, sums to 1); temperature > 0."""
        scaled = self._masked(logits) / float(controls.temperature)
        scaled -= scaled.max()  # stable: the largest term becomes exp(0) = 1
        weights = np.exp(scaled)
        return weights / weights.sum()

    def sample(self, logits: np.ndarray, controls: ControlState) -> int:
        """Choose a token 0..129 under ``controls``: temperature 0 is greedy, > 0 samples, < 0 or NaN raises."""
        temperature = controls.temperature
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if temperature == 0:
            return int(np.argmax(self._masked(logits)))
        probabilities = self.probabilities(logits, controls)
        cumulative = np.cumsum(probabilities)
        index = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right"))
        return min(index, encoding.VOCAB_SIZE - 1)

    def _masked(self, logits: np.ndarray) -> np.ndarray:
        values = np.asarray(logits, dtype=np.float64).reshape(-1)
        if values.shape != (encoding.VOCAB_SIZE,):
            raise ValueError(f"logits have {values.size} values, expected {encoding.VOCAB_SIZE}")
        if not np.all(np.isfinite(values)):
            raise ValueError("logits contain NaN or infinity")
        return np.where(self._mask, -np.inf, values)
