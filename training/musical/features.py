"""Musical features of one melody, for comparing generated melodies with real ones (numpy only).

Each feature maps a melody (tokens, one per 16th step, see device/core/encoding.py) to a number or, for the two
histograms, a vector. They follow Yang & Lerch 2018 ("On the evaluation of generative models in music", the
mgeval toolkit) for pitch and rhythm, plus features of form (repetition) and key that mgeval lacks.
A melody is first made canonical, so two spellings of the same notes get the same features.

Units: steps are 16th notes; a bar has ``bar_steps`` steps and the melody's first step lies at bar step
``bar_offset``; pitches and intervals in semitones; shares and fractions 0..1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device.core import encoding
from device.core.timegrid import DEFAULT_BAR_STEPS

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Diatonic pitch-class sets, one per major key (C, Db, D, ...): a mode (dorian, minor, ...) is one of them.
DIATONIC = np.array([[(pc - root) % 12 in MAJOR_SCALE for pc in range(12)] for root in range(12)])
KEY_NAMES = ("C", "D♭", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
# Note lengths in steps that have a name (16th, 8th, dotted 8th, quarter, dotted quarter, half, dotted half,
# whole); every other length falls in a last bin, "other".
NAMED_LENGTHS = (1, 2, 3, 4, 6, 8, 12, 16)
BARS_BACK = (1, 2, 4)  # same note 1, 2 and 4 bars back


@dataclass(frozen=True)
class Melody:
    """A canonical melody and its notes, with where its bars fall."""

    tokens: np.ndarray  # int64 [steps]
    pitches: np.ndarray  # int64 [notes]
    starts: np.ndarray  # int64 [notes], step of each note-on
    lengths: np.ndarray  # int64 [notes], steps until the note ends
    bar_steps: int = DEFAULT_BAR_STEPS
    bar_offset: int = 0

    @classmethod
    def of(cls, tokens, bar_steps: int = DEFAULT_BAR_STEPS, bar_offset: int = 0) -> Melody:
        canonical = np.asarray(encoding.canonical(int(t) for t in tokens), np.int64)
        notes = encoding.tokens_to_notes(canonical)
        as_array = np.array([[n.pitch, n.start, n.end - n.start] for n in notes], np.int64).reshape(-1, 3)
        return cls(canonical, as_array[:, 0], as_array[:, 1], as_array[:, 2], bar_steps, bar_offset)

    def bars(self) -> list[np.ndarray]:
        """The whole bars of the melody (a partial first and last bar are left out)."""
        first = (-self.bar_offset) % self.bar_steps
        count = (len(self.tokens) - first) // self.bar_steps
        return [self.tokens[first + i * self.bar_steps: first + (i + 1) * self.bar_steps] for i in range(count)]


def pitch_count(melody: Melody) -> float:
    """Number of distinct pitches."""
    return float(len(np.unique(melody.pitches)))


def pitch_class_histogram(melody: Melody) -> np.ndarray:
    """Share of the notes on each pitch class C..B, float [12] (all 0 without notes)."""
    counts = np.bincount(melody.pitches % 12, minlength=12).astype(float)
    return counts / max(1.0, counts.sum())


def pitch_range(melody: Melody) -> float:
    """Highest minus lowest pitch, semitones (0 without notes)."""
    return float(np.ptp(melody.pitches)) if len(melody.pitches) else 0.0


def mean_interval(melody: Melody) -> float:
    """Mean absolute interval between consecutive notes, semitones (0 with fewer than 2 notes)."""
    return float(np.mean(np.abs(np.diff(melody.pitches)))) if len(melody.pitches) > 1 else 0.0


def note_count(melody: Melody) -> float:
    """Number of notes."""
    return float(len(melody.pitches))


def inter_onset_interval(melody: Melody) -> float:
    """Mean steps from one note-on to the next (0 with fewer than 2 notes)."""
    return float(np.mean(np.diff(melody.starts))) if len(melody.starts) > 1 else 0.0


def note_length_histogram(melody: Melody) -> np.ndarray:
    """Share of the notes of each length in NAMED_LENGTHS, then of any other length, float [9]."""
    bins = np.array([NAMED_LENGTHS.index(n) if n in NAMED_LENGTHS else len(NAMED_LENGTHS) for n in melody.lengths],
                    np.int64)
    counts = np.bincount(bins, minlength=len(NAMED_LENGTHS) + 1).astype(float)
    return counts / max(1.0, counts.sum())


def silence_share(melody: Melody) -> float:
    """Share of the steps on which no note sounds (1 for a melody without notes)."""
    return 1.0 - float(melody.lengths.sum()) / max(1, len(melody.tokens))


def bar_repetition(melody: Melody) -> float:
    """Number of bars, with at least one note-on, that repeat an earlier bar exactly (pitches and rhythm)."""
    seen, repeats = set(), 0
    for bar in melody.bars():
        if not np.any(bar < encoding.NUM_PITCHES):
            continue
        key = bar.tobytes()
        repeats += key in seen
        seen.add(key)
    return float(repeats)


def longest_repeat(melody: Melody) -> float:
    """Steps of the longest stretch of tokens that occurs twice without overlapping itself."""
    tokens, best = melody.tokens, 0
    for shift in range(1, len(tokens) // 2 + 1):
        if shift <= best:
            continue  # a repeat at this shift cannot be longer than the shift
        same = np.concatenate([[False], tokens[shift:] == tokens[:-shift], [False]])
        edges = np.flatnonzero(np.diff(same.astype(np.int8)))
        if len(edges):
            best = max(best, min(shift, int(np.max(edges[1::2] - edges[::2]))))
    return float(best)


def same_note_bars_back(bars: int) -> Callable[[Melody], float]:
    """The feature: share of the note-ons whose pitch also starts a note exactly ``bars`` bars earlier."""
    def feature(melody: Melody) -> float:
        distance = bars * melody.bar_steps
        eligible = melody.starts[melody.starts >= distance]
        if len(eligible) == 0:
            return 0.0
        return float(np.mean(melody.tokens[eligible - distance] == melody.tokens[eligible]))

    feature.__name__ = f"same_note_{bars}_bar{'s' if bars > 1 else ''}_back"
    return feature


def key_fit(pitches: np.ndarray) -> np.ndarray:
    """For each of the 12 diatonic sets (major keys C..B), the share of ``pitches`` in it, float [12]."""
    if len(pitches) == 0:
        return np.ones(12)
    return DIATONIC[:, pitches % 12].mean(axis=1)


def best_keys(pitches: np.ndarray) -> np.ndarray:
    """Indices (0 = C major and its modes) of the diatonic sets that hold the most of ``pitches`` (ties: all)."""
    fit = key_fit(pitches)
    return np.flatnonzero(fit == fit.max())


def in_key_fraction(melody: Melody) -> float:
    """Share of the notes in the diatonic set (a major key or one of its modes) that holds the most of them."""
    return float(key_fit(melody.pitches).max())


def key_held(melody: Melody) -> float:
    """Share of the second half's notes in the key (diatonic set) that fits the first half best.

    Of several equally good keys for the first half, the one that fits the second half best. 1 when a
    half has no notes.
    """
    half = len(melody.tokens) // 2
    first, second = melody.pitches[melody.starts < half], melody.pitches[melody.starts >= half]
    if len(first) == 0 or len(second) == 0:
        return 1.0
    return float(key_fit(second)[best_keys(first)].max())


FEATURES: dict[str, Callable[[Melody], float | np.ndarray]] = {
    "pitch_count": pitch_count,
    "pitch_class_histogram": pitch_class_histogram,
    "pitch_range": pitch_range,
    "mean_interval": mean_interval,
    "note_count": note_count,
    "inter_onset_interval": inter_onset_interval,
    "note_length_histogram": note_length_histogram,
    "silence_share": silence_share,
    "bar_repetition": bar_repetition,
    "longest_repeat": longest_repeat,
    **{f.__name__: f for f in map(same_note_bars_back, BARS_BACK)},
    "in_key_fraction": in_key_fraction,
    "key_held": key_held,
}


def feature_table(melodies: list[Melody]) -> dict[str, np.ndarray]:
    """Every feature of every melody: name -> float [melodies] or, for a histogram, [melodies, bins]."""
    return {name: np.array([feature(m) for m in melodies], float) for name, feature in FEATURES.items()}
