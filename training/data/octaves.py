"""Moving melodies by whole octaves into a range of MIDI notes (``prepare --transpose-into LOW..HIGH``).

A model fine-tuned from another (``train --from``) can only learn notes its base was trained on. A melody whose
notes lie outside that range is moved up or down by the fewest whole octaves that put all of it inside; its
key and tune stay as they are. A melody that spans more than the range cannot be moved in, and is left out.
Notes are MIDI numbers (60 = middle C) or names in scientific pitch notation (C4 = 60, G3 = 55, F#5 = 78).
"""

from __future__ import annotations

import re

import numpy as np

from device.core import encoding
from device.core.scales import ScaleError, pitch_class

NOTE = re.compile(r"^\s*(?:(\d{1,3})|([A-Ga-g][#b]?)(-?\d))\s*$")


def parse_note(text: str) -> int:
    """A MIDI note 0..127 from ``"55"`` or ``"G3"``; ValueError naming the text."""
    found = NOTE.match(text)
    try:
        if found is None:
            raise ValueError
        pitch = int(found[1]) if found[1] else pitch_class(found[2]) + 12 * (int(found[3]) + 1)
    except (ValueError, ScaleError):
        raise ValueError(f"{text.strip()!r} is not a note: give a MIDI number (60) or a name (C4 = 60)") from None
    if not 0 <= pitch < encoding.NUM_PITCHES:
        raise ValueError(f"{text.strip()!r} is MIDI note {pitch}, outside 0..127")
    return pitch


def parse_range(text: str) -> tuple[int, int]:
    """``"55..93"`` or ``"G3..A6"`` -> (55, 93); ValueError unless it is LOW..HIGH with at least an octave."""
    low, dots, high = text.partition("..")
    if not dots:
        raise ValueError(f"{text!r}: give the range as LOW..HIGH, e.g. 55..93 or G3..A6")
    low_note, high_note = parse_note(low), parse_note(high)
    if high_note - low_note < 11:
        raise ValueError(f"{text!r}: the range must span at least an octave (12 notes) to move melodies by octaves")
    return low_note, high_note


def octave_shift(low: int, high: int, target: tuple[int, int]) -> int | None:
    """Semitones (a multiple of 12, the fewest octaves; 0 when already inside) that move notes ``low..high``
    into ``target``; None when they span more than it."""
    if high - low > target[1] - target[0]:
        return None
    octaves = min(range(-10, 11), key=lambda k: (not (target[0] <= low + 12 * k and high + 12 * k <= target[1]),
                                                  abs(k)))
    return 12 * octaves


def shifted(melody: np.ndarray, semitones: int) -> np.ndarray:
    """``melody`` with every note-on moved by ``semitones`` (note-off and no-event stay)."""
    tokens = np.asarray(melody).copy()
    notes = tokens < encoding.NUM_PITCHES
    tokens[notes] += semitones
    return tokens


def into_range(melodies: list[np.ndarray], target: tuple[int, int]) -> tuple[list[np.ndarray | None], list[str]]:
    """Each melody moved by whole octaves into ``target`` (None: left out, it spans more), and one phrase per
    melody that moved or was left out ("melody 2 up 1 octave"; melodies counted from 1)."""
    moved, said = [], []
    for number, melody in enumerate(melodies, start=1):
        notes = melody[melody < encoding.NUM_PITCHES]
        shift = octave_shift(int(notes.min()), int(notes.max()), target) if len(notes) else 0
        if shift is None:
            moved.append(None)
            said.append(f"melody {number} left out: notes {notes.min()}..{notes.max()} span more than "
                        f"{target[0]}..{target[1]}")
            continue
        moved.append(shifted(melody, shift) if shift else melody)
        if shift:
            octaves = abs(shift) // 12
            said.append(f"melody {number} {'up' if shift > 0 else 'down'} {octaves} octave{'s' * (octaves > 1)}")
    return moved, said
