"""Playing a key-normalised model in a chosen key: its notes move by a shift of -6..+5 semitones.

A key-normalised model (contract ``encoding.key``) learned every melody moved to one key, its
``native`` one (C). The generator keeps the model in that key and works in the key that sounds:
the model's logits are moved up by the shift before sampling (so scale lock, pitch range and
déjà-vu see sounding pitches), and each token chosen or heard is moved back down before the model
hears it. Standard library and numpy only.
"""

from __future__ import annotations

import numpy as np

from device import encoding

UNREACHABLE = np.float32(-1e9)  # logit of a sounding pitch the model's range cannot reach: never chosen


def shift_for(native: int, key: int) -> int:
    """Semitones -6..+5 from the pitch class ``native`` to the pitch class ``key`` (the nearer way round)."""
    return (key - native + 6) % 12 - 6


def _moved(pitch: int, semitones: int) -> int:
    """``pitch`` moved by ``semitones``, an octave back if that leaves 0..127."""
    moved = pitch + semitones
    return moved + 12 if moved < 0 else moved - 12 if moved >= encoding.NUM_PITCHES else moved


def model_token(token: int, shift: int) -> int:
    """The token the model hears for sounding ``token``: a note-on moved down by ``shift``; other tokens as they are."""
    return _moved(token, -shift) if encoding.is_note_on(token) else token


def sounding_token(token: int, shift: int) -> int:
    """The token that sounds for the model's ``token``: a note-on moved up by ``shift``."""
    return _moved(token, shift) if encoding.is_note_on(token) else token


def sounding_logits(logits: np.ndarray, shift: int) -> np.ndarray:
    """The model's logits [130] as logits of sounding tokens: note-on logits moved up by ``shift`` semitones.
    Sounding pitches no model pitch maps to get UNREACHABLE; note-off and no-event stay."""
    logits = np.asarray(logits, dtype=np.float32)
    if shift == 0:
        return logits
    moved = np.array(logits, copy=True)
    pitches = encoding.NUM_PITCHES
    moved[:pitches] = UNREACHABLE
    if shift > 0:
        moved[shift:pitches] = logits[:pitches - shift]
    else:
        moved[:pitches + shift] = logits[-shift:pitches]
    return moved
