"""Chords, progressions and keys: ``Am7`` -> root A and tones A C E G; ``"Am F C G"`` -> a chord per bar. Pure.

A chord name is a root ``A``..``G`` with an optional ``#`` or ``b``, then its quality: nothing (major), ``m``,
``7``, ``m7``, ``maj7``, ``dim``, ``aug``, ``sus2``, ``sus4``, ``6``, ``m6`` (and the jazz ``dim7`` and
``m7b5``). A bass after a slash (``C/E``) is read and checked but does not change the chord's tones. In a
progression, chords are separated by spaces and each lasts one bar; ``Am:2`` holds A minor for two bars.
A progression is played cycled, from its first chord on the first bar.

The key of a progression is the diatonic set (a major scale and its modes: A minor is C major's notes) holding
the most of its chord tones, each counted for the bars it lasts; of equally good ones, the one whose tonic
or relative minor is the first chord's root. ``Harmony`` is what the sampler is told at one step: the chord
and key sounding then, and where the step lies in its bar. Pitch classes: 0 = C .. 11 = B.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from device.core.scales import PITCH_CLASSES, ScaleError, pitch_class
from device.core.timegrid import STEPS_PER_QUARTER

# Semitones above the root of each quality's tones.
QUALITIES = {
    "": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10), "maj7": (0, 4, 7, 11),
    "dim": (0, 3, 6), "aug": (0, 4, 8), "sus2": (0, 2, 7), "sus4": (0, 5, 7), "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9), "dim7": (0, 3, 6, 9), "m7b5": (0, 3, 6, 10),
}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # as key signatures spell them
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
MAX_CHORD_BARS = 64  # Am:64 at most
NAMES_HELP = ("a root A-G with # or b, then nothing (major), m, 7, m7, maj7, dim, aug, sus2, sus4, 6 or m6; "
              ":N holds it N bars; a /bass is ignored")


class ChordError(ValueError):
    """A chord or progression that cannot be read; the message names it."""


@dataclass(frozen=True)
class Chord:
    """One chord: ``name`` as written (without its bars), its ``root`` and ``tones`` (pitch classes 0..11)."""

    name: str
    root: int
    tones: frozenset[int]


@dataclass(frozen=True)
class Key:
    """A diatonic set: the major scale on ``root`` (0..11) and its modes (its relative minor: root + 9)."""

    root: int

    @property
    def tones(self) -> frozenset[int]:
        return frozenset((self.root + step) % 12 for step in MAJOR_SCALE)

    @property
    def name(self) -> str:
        return f"{MAJOR_NAMES[self.root]} major / {MINOR_NAMES[(self.root + 9) % 12]} minor"


@dataclass(frozen=True)
class Harmony:
    """What the sampler is told about one step: the ``chord`` and ``key`` sounding (None: none known) and the
    step's place in its bar, ``bar_step`` (0 = the bar line). ``on_beat``: the step starts a beat (a quarter)."""

    chord: Chord | None
    key: Key | None
    bar_step: int = 0

    @property
    def on_beat(self) -> bool:
        return self.bar_step % STEPS_PER_QUARTER == 0


def parse_chord(text: str) -> Chord:
    """``"Am7"`` -> Chord("Am7", 9, {9, 0, 4, 7}); ChordError naming ``text`` if it is not a chord name."""
    name = text.strip()
    symbol, slash, bass = name.partition("/")
    split = 2 if symbol[1:2] in ("#", "b") else 1  # no quality starts with # or b: "Bb" is B flat
    root_text, quality = symbol[:split], symbol[split:]
    try:
        if not root_text or root_text[0] not in "ABCDEFG" or quality not in QUALITIES:
            raise ScaleError("")
        root = pitch_class(root_text)
        if slash:
            if not bass or bass[0] not in "ABCDEFG":
                raise ScaleError("")
            pitch_class(bass)
    except ScaleError:
        raise ChordError(f"{text.strip()!r} is not a chord name ({NAMES_HELP})") from None
    return Chord(name, root, frozenset((root + step) % 12 for step in QUALITIES[quality]))


@dataclass(frozen=True)
class Progression:
    """Chords one after another, each for whole bars, cycled: ``chords`` is ((chord, bars), ...)."""

    chords: tuple[tuple[Chord, int], ...]

    @property
    def bars(self) -> int:
        """The progression's length in bars (one cycle)."""
        return sum(bars for _, bars in self.chords)

    def chord_at(self, bar: int) -> Chord:
        """The chord of bar ``bar`` (0 = the first bar; the progression cycles, and runs back before 0)."""
        bar %= self.bars
        for chord, bars in self.chords:
            if bar < bars:
                return chord
            bar -= bars
        raise AssertionError("unreachable: bar < self.bars")

    def harmony_at(self, step: int, bar_steps: int) -> Harmony:
        """The Harmony of 16th step ``step`` (0 = the first bar's first step) with bars of ``bar_steps``."""
        return Harmony(self.chord_at(step // bar_steps), self.key, step % bar_steps)

    @cached_property
    def key(self) -> Key:
        """The key its chords imply (the module docstring says how)."""
        weights = [0.0] * 12
        for chord, bars in self.chords:
            for tone in chord.tones:
                weights[tone] += bars
        return best_key(weights, prefer=self.chords[0][0].root)

    @property
    def text(self) -> str:
        """The progression written as ``parse_progression`` reads it."""
        return " ".join(chord.name + (f":{bars}" if bars > 1 else "") for chord, bars in self.chords)


def parse_progression(text: str) -> Progression:
    """``"Am F:2 C G"`` -> a Progression; ChordError naming the first chord it cannot read."""
    chords = []
    for word in text.split():
        symbol, colon, count = word.partition(":")
        if colon and not (count.isdigit() and 1 <= int(count) <= MAX_CHORD_BARS):
            raise ChordError(f"{word!r}: the bars after ':' must be a whole number 1..{MAX_CHORD_BARS}")
        chords.append((parse_chord(symbol), int(count) if colon else 1))
    if not chords:
        raise ChordError(f"no chords in {text!r} (e.g. \"Am F C G\": {NAMES_HELP})")
    return Progression(tuple(chords))


def best_key(weights: Sequence[float], prefer: int | None = None, previous: Key | None = None) -> Key | None:
    """The key (diatonic set) holding the most of ``weights`` (12 per pitch class, e.g. seconds heard); None when
    all are 0. Of equally good keys: ``previous`` if it is one, else the one whose tonic or relative minor is
    ``prefer`` (a pitch class), else the lowest root."""
    if not any(weights):
        return None
    scores = [sum(weights[(root + step) % 12] for step in MAJOR_SCALE) for root in range(12)]
    top = max(scores)
    best = [root for root in range(12) if scores[root] >= top - 1e-9]
    if previous is not None and previous.root in best:
        return previous
    if prefer is not None:
        for root in best:
            if prefer in (root, (root + 9) % 12):
                return Key(root)
    return Key(best[0])


def chord_of(pitches: Iterable[int]) -> Chord | None:
    """The chord a set of MIDI pitches held together makes: its tones are their pitch classes; named as a chord
    of QUALITIES on the lowest note (or another root) when the tones are exactly one, else by its notes
    (``C+E+F#``). None for no pitches."""
    pitches = sorted(set(pitches))
    if not pitches:
        return None
    tones = frozenset(p % 12 for p in pitches)
    bass = pitches[0] % 12
    for root in (bass, *sorted(tones - {bass})):
        for quality, steps in QUALITIES.items():
            if frozenset((root + s) % 12 for s in steps) == tones:
                slash = "" if root == bass else f"/{PITCH_CLASSES[bass]}"
                return Chord(PITCH_CLASSES[root] + quality + slash, root, tones)
    return Chord("+".join(PITCH_CLASSES[t] for t in sorted(tones, key=lambda t: (t - bass) % 12)), bass, tones)
