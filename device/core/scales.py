"""Scales and note names: the pitch classes of a scale, read from text such as ``C:major``. Standard library only.

A scale is a root pitch class (0..11, 0 = C) and a name from ``SCALES``. Text names a scale as
``ROOT:NAME`` (``C:major``, ``F#:dorian``, ``Bb:minor_pentatonic``; ``-`` or ``_`` between words)
or ``chromatic`` alone (every pitch: no lock). Note names follow scientific pitch notation: C4 = MIDI 60.
"""

from __future__ import annotations

from functools import lru_cache

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLATS = {"Db": 1, "Eb": 3, "Fb": 4, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11}
CHROMATIC = "chromatic"
# Semitones above the root of each scale's pitches.
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural_minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    CHROMATIC: tuple(range(12)),
}
ALIASES = {"minor": "natural_minor", "ionian": "major", "aeolian": "natural_minor"}


class ScaleError(ValueError):
    """A scale's text or name is not one this module knows."""


def pitch_class(name: str) -> int:
    """The pitch class 0..11 of a note name without octave: C, C#, Db, ..., B (letter case ignored)."""
    text = name.strip()
    text = text[:1].upper() + text[1:].replace("B", "b") if len(text) > 1 else text.upper()
    if text in PITCH_CLASSES:
        return PITCH_CLASSES.index(text)
    if text in FLATS:
        return FLATS[text]
    raise ScaleError(f"{name!r} is not a note name (C, C#, Db, D, ..., B)")


def scale_name(name: str) -> str:
    """The canonical name of a scale (``minor-pentatonic`` -> ``minor_pentatonic``); ScaleError if unknown."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in SCALES:
        raise ScaleError(f"unknown scale {name!r} (known: {', '.join(SCALES)})")
    return key


def parse_scale(text: str) -> tuple[int, str]:
    """``"C:major"`` -> (0, "major"); ``"chromatic"`` -> (0, "chromatic"). ScaleError names the text."""
    root, colon, name = text.partition(":")
    try:
        if not colon:
            if scale_name(root) != CHROMATIC:
                raise ScaleError("give the root too, as ROOT:NAME (e.g. C:major)")
            return 0, CHROMATIC
        return pitch_class(root), scale_name(name)
    except ScaleError as error:
        raise ScaleError(f"scale {text!r}: {error}") from None


def scale_text(root: int, name: str) -> str:
    """The text form of a scale, as parse_scale reads it: ``C:major``, or ``chromatic``."""
    name = scale_name(name)
    return CHROMATIC if name == CHROMATIC else f"{PITCH_CLASSES[check_root(root)]}:{name}"


def check_root(root: int) -> int:
    """``root`` if it is a pitch class 0..11, else ScaleError."""
    if isinstance(root, bool) or not 0 <= int(root) <= 11 or int(root) != root:
        raise ScaleError(f"scale root {root!r} is not a pitch class 0..11")
    return int(root)


@lru_cache(maxsize=128)
def in_scale(root: int, name: str) -> tuple[bool, ...]:
    """For each MIDI pitch 0..127, whether it belongs to the scale ``name`` on ``root`` (0..11)."""
    classes = {(check_root(root) + step) % 12 for step in SCALES[scale_name(name)]}
    return tuple(pitch % 12 in classes for pitch in range(128))


def note_name(pitch: int) -> str:
    """``60`` -> ``"C4"``, ``61`` -> ``"C#4"``, ``21`` -> ``"A0"`` (scientific pitch notation, C4 = 60)."""
    return f"{PITCH_CLASSES[pitch % 12]}{pitch // 12 - 1}"
