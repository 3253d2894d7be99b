"""A piano-roll picture of a melody as a PNG, with numpy, zlib and struct only (no matplotlib on the Pi).

Time runs left to right (one column block per 16th-note step), pitch bottom to
top (one row block per semitone). Notes are filled bars; thin grey lines mark
beats, dark lines mark bars (16 steps), light bands mark the black keys.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from device.encoding import STEPS_PER_QUARTER, Note, tokens_to_notes

STEPS_PER_BAR = 4 * STEPS_PER_QUARTER
WHITE, BLACK_KEY, BEAT, BAR = (255, 255, 255), (238, 240, 245), (215, 215, 215), (90, 90, 90)
NOTE, NOTE_EDGE = (40, 90, 200), (15, 40, 110)
BLACK_KEYS = {1, 3, 6, 8, 10}


def pitch_span(notes: list[Note], margin: int = 2, minimum: int = 12) -> tuple[int, int]:
    """Lowest and highest MIDI pitch to draw: the notes' range plus ``margin``, at least ``minimum`` rows."""
    if not notes:
        return 60 - minimum // 2, 60 + minimum // 2
    low = min(n.pitch for n in notes) - margin
    high = max(n.pitch for n in notes) + margin
    while high - low + 1 < minimum:
        low, high = low - 1, high + 1
    return max(0, low), min(127, high)


def roll_image(tokens: Iterable[int], step_px: int = 6, pitch_px: int = 5) -> np.ndarray:
    """The piano roll of ``tokens`` as an RGB image array (height, width, 3) of uint8.

    ``step_px`` pixels per 16th-note step, ``pitch_px`` pixels per semitone.
    """
    tokens = list(tokens)
    notes = tokens_to_notes(tokens)
    low, high = pitch_span(notes)
    steps = max(len(tokens), 1)
    rows = high - low + 1
    image = np.empty((rows * pitch_px, steps * step_px, 3), dtype=np.uint8)
    image[:] = WHITE
    for pitch in range(low, high + 1):
        if pitch % 12 in BLACK_KEYS:
            top = (high - pitch) * pitch_px
            image[top : top + pitch_px] = BLACK_KEY
    for step in range(0, steps, STEPS_PER_QUARTER):
        image[:, step * step_px] = BAR if step % STEPS_PER_BAR == 0 else BEAT
    for note in notes:
        top = (high - note.pitch) * pitch_px
        left, right = note.start * step_px + 1, note.end * step_px - 1
        image[top : top + pitch_px, left:right] = NOTE_EDGE
        image[top + 1 : top + pitch_px - 1, left + 1 : right - 1] = NOTE
    return image


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an RGB uint8 image (height, width, 3) as PNG bytes (8-bit truecolour, no filter)."""
    height, width, channels = image.shape
    if channels != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} and dtype {image.dtype}")
    rows = np.concatenate([np.zeros((height, 1), dtype=np.uint8), image.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def save_pianoroll(tokens: Iterable[int], path: str | Path, step_px: int = 6, pitch_px: int = 5) -> None:
    """Write the piano roll of ``tokens`` to a PNG file."""
    Path(path).write_bytes(png_bytes(roll_image(tokens, step_px, pitch_px)))
