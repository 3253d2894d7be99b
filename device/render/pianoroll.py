"""A piano-roll picture of a melody as a PNG, with numpy, zlib and struct only (no matplotlib on the Pi).

Time runs left to right (one column block per 16th-note step), pitch bottom to
top (one row block per semitone). Notes are filled bars; thin grey lines mark
beats, dark lines mark bars (16 steps), light bands mark the black keys and a
line each octave (below C). With axes, note names label every C, E and G on the
left (only the Cs when rows are too thin; C4 = MIDI 60, middle C) and bar
numbers (from 1) stand above the bar lines; a title (wrapped to the picture's
width) can go above it all. Nothing is cut at an edge. Text is drawn in the pixel
font of device/render/font.py (capitals 14 pixels high), so no font files are needed.
The default sizes (10 pixels a 16th, 12 a semitone) make 8 bars of 4/4 1,320 pixels wide.

With ``chords`` (one per bar, e.g. a progression's), the rows of each bar's chord tones are tinted
(CHORD_TONE) and the chord's name is written under its bar, so notes on chord tones can be seen at a glance.

Two kinds of roll share this drawing: ``roll_image`` draws tokens, one column block per step,
in one colour; ``pulse_roll_image`` draws the notes as the box plays them (device.engine.dynamics.
articulate: start and end in transport pulses, 6 per 16th, with velocities), each note shaded by
its velocity (darker = louder, see ``velocity_legend``), with faint lines between the 16ths so
that a gated end can be read within its 16th.
"""

from __future__ import annotations

import struct
import textwrap
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from device.core.encoding import Note, tokens_to_notes
from device.core.scales import note_name
from device.core.timegrid import DEFAULT_BAR_STEPS, PULSES_PER_QUARTER, PULSES_PER_STEP, STEPS_PER_QUARTER
from device.render import font

WHITE, BLACK_KEY, BEAT, BAR = (255, 255, 255), (238, 240, 245), (215, 215, 215), (90, 90, 90)
NOTE, NOTE_EDGE, OCTAVE, INK = (40, 90, 200), (15, 40, 110), (170, 170, 185), (40, 40, 40)
MARKED, MARKED_EDGE = (235, 120, 30), (150, 60, 0)  # notes picked out, e.g. outside a scale
STEP_LINE = (232, 232, 232)  # between 16ths, in pulse rolls
CHORD_TONE = (200, 236, 200)  # the rows of the bar's chord tones, with chords
# A note's fill by velocity, pale yellow (soft) through orange and red to dark purple (loud): darker = louder,
# with most stops above 50, where accents and humanise move a melody's velocities (68..127 at velocity 100).
VELOCITY_SHADES = ((1, (252, 240, 170)), (50, (250, 170, 40)), (80, (225, 85, 50)), (100, (150, 35, 100)),
                   (120, (60, 15, 90)), (127, (35, 10, 70)))
BLACK_KEYS = {1, 3, 6, 8, 10}
TEXT_SCALE = 2  # image pixels per font pixel
GLYPH_W, GLYPH_H = font.CELL_W * TEXT_SCALE, font.CELL_H * TEXT_SCALE  # a character's cell
CAP_H = font.CAP_H * TEXT_SCALE  # a capital's or digit's height: note names and bar numbers
ADVANCE = font.advance(TEXT_SCALE)  # one character plus a gap
LABEL_W = 3 * ADVANCE + 2 * TEXT_SCALE  # room for "C-1" .. "C9" left of the roll
LABEL_H = GLYPH_H + 2 * TEXT_SCALE  # a line of text and its gap: bar numbers, the title
BELOW = CAP_H // 2 + TEXT_SCALE  # white below the roll: the lowest row's name, centred on it, stays whole
STEP_PX, PITCH_PX = 10, 12  # the roll's default pixels per 16th step and per semitone: C, E and G all named


def text_image(text: str, colour: tuple[int, int, int] = INK) -> np.ndarray:
    """``text`` as an RGB array on white, in the pixel font at TEXT_SCALE (characters outside it are blanks)."""
    return font.text_image(text, TEXT_SCALE, colour)


def paste(image: np.ndarray, part: np.ndarray, top: int, left: int) -> None:
    """Draw ``part`` onto ``image`` at (top, left), cut at the image's edges; white pixels of ``part`` stay clear."""
    height = min(part.shape[0], image.shape[0] - top)
    width = min(part.shape[1], image.shape[1] - left)
    if height <= 0 or width <= 0:
        return
    piece = part[:height, :width]
    ink = np.any(piece != WHITE, axis=2)
    image[top : top + height, left : left + width][ink] = piece[ink]


def pitch_span(notes: list[Note], margin: int = 2, minimum: int = 12) -> tuple[int, int]:
    """Lowest and highest MIDI pitch to draw: the notes' range plus ``margin``, at least ``minimum`` rows."""
    if not notes:
        return 60 - minimum // 2, 60 + minimum // 2
    low = min(n.pitch for n in notes) - margin
    high = max(n.pitch for n in notes) + margin
    while high - low + 1 < minimum:
        low, high = low - 1, high + 1
    return max(0, low), min(127, high)


class TimedNote(Protocol):
    """A note in any time unit (steps for device.core.encoding.Note, pulses for device.engine.dynamics.PulseNote)."""

    pitch: int
    start: int
    end: int | None  # None: still sounding, drawn to the roll's end


Colours = Callable[[TimedNote], tuple[tuple[int, int, int], tuple[int, int, int]]]  # a note's (edge, fill)
Chords = Sequence[tuple[str, Iterable[int]]]  # one per bar: (name, pitch classes of its tones)


def roll_image(tokens: Iterable[int], step_px: int = STEP_PX, pitch_px: int = PITCH_PX, axes: bool = True,
               title: str = "", pitches: tuple[int, int] | None = None, bar_steps: int = DEFAULT_BAR_STEPS,
               marked: Callable[[int], bool] | None = None, chords: Chords | None = None) -> np.ndarray:
    """The piano roll of ``tokens`` as an RGB image array (height, width, 3) of uint8.

    ``step_px`` pixels per 16th-note step, ``pitch_px`` pixels per semitone. ``axes``: note names
    of the Cs on the left, bar numbers on top (without: the bare roll). ``title``: a line above.
    ``pitches`` (low, high): the MIDI pitches drawn (default: the notes' span, see pitch_span), so
    that several rolls can share one scale. ``bar_steps``: steps per bar, for bar lines and numbers.
    ``marked(pitch)``: True draws that note in orange (MARKED), e.g. the notes outside a scale.
    ``chords``: (name, pitch classes of its tones) for each bar, tinted in the roll and named under it.
    """
    tokens = list(tokens)
    notes = tokens_to_notes(tokens)
    low, high = pitches or pitch_span(notes)
    steps = max(len(tokens), 1)

    def colours(note: TimedNote) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        return (MARKED_EDGE, MARKED) if marked is not None and marked(note.pitch) else (NOTE_EDGE, NOTE)

    roll = bare_roll(notes, steps, low, high, step_px, pitch_px, bar_steps, colours=colours)
    if chords:
        tint_chords(roll, chords, low, high, bar_steps * step_px, pitch_px)
    image = with_axes(roll, low, high, steps, step_px, pitch_px, bar_steps, title) if axes else roll
    if chords and axes:
        names = np.full((LABEL_H, image.shape[1], 3), WHITE, dtype=np.uint8)
        for bar, (name, _) in enumerate(chords[: -(-steps // bar_steps)]):
            paste(names, text_image(name), TEXT_SCALE, LABEL_W + bar * bar_steps * step_px + TEXT_SCALE)
        image = np.concatenate([image, names])
    return image


def tint_chords(roll: np.ndarray, chords: Sequence[tuple[str, Iterable[int]]], low: int, high: int, bar_px: int,
                pitch_px: int) -> None:
    """Tint the background (not the notes, not the lines) of each bar's chord-tone rows in ``roll``, in place."""
    for bar, (_, tones) in enumerate(chords):
        classes = set(tones)
        for pitch in range(low, high + 1):
            if pitch % 12 in classes:
                top = (high - pitch) * pitch_px
                block = roll[top : top + pitch_px, bar * bar_px : (bar + 1) * bar_px]
                background = np.all(block == WHITE, axis=2) | np.all(block == BLACK_KEY, axis=2)
                block[background] = CHORD_TONE


def velocity_shades(velocity: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(edge, fill) of a note at MIDI ``velocity`` (1..127, clamped): the fill runs through VELOCITY_SHADES
    (darker = louder), the edge is a darker shade of it."""
    velocities = [velocity for velocity, _ in VELOCITY_SHADES]
    fill = tuple(round(float(np.interp(velocity, velocities, [colour[channel] for _, colour in VELOCITY_SHADES])))
                 for channel in range(3))
    return tuple(channel * 3 // 5 for channel in fill), fill


def pulse_roll_image(notes: Sequence, pulses: int, pulse_px: int = 2, pitch_px: int = PITCH_PX, axes: bool = True,
                     title: str = "", pitches: tuple[int, int] | None = None,
                     bar_steps: int = DEFAULT_BAR_STEPS) -> np.ndarray:
    """The piano roll of notes as played, e.g. by device.engine.dynamics.articulate: ``notes`` with pitch,
    velocity (1..127), start and end in transport pulses (24 per quarter, PULSES_PER_STEP per 16th),
    over ``pulses`` pulses, ``pulse_px`` pixels per pulse. Each note is shaded by its velocity
    (velocity_shades: darker = louder); faint lines mark the 16ths, grey ones the beats, dark ones
    the bars (``bar_steps`` 16ths). ``axes``, ``title``, ``pitches``, ``pitch_px``: as roll_image.
    """
    low, high = pitches or pitch_span(notes)
    pulses = max(pulses, 1)
    bar_pulses = bar_steps * PULSES_PER_STEP
    roll = bare_roll(notes, pulses, low, high, pulse_px, pitch_px, bar_pulses, PULSES_PER_QUARTER,
                     colours=lambda note: velocity_shades(note.velocity), step_units=PULSES_PER_STEP)
    return with_axes(roll, low, high, pulses, pulse_px, pitch_px, bar_pulses, title) if axes else roll


def velocity_legend(velocities: Sequence[int] = (40, 60, 80, 100, 120)) -> np.ndarray:
    """A line of text that says how the notes are shaded, then a note-like swatch and the number of each
    velocity in ``velocities``, as an RGB array on white."""
    gap = np.full((GLYPH_H, ADVANCE, 3), WHITE, dtype=np.uint8)
    parts = [text_image("velocity, darker = louder:")]
    for velocity in velocities:
        edge, fill = velocity_shades(velocity)
        swatch = np.full((GLYPH_H, 4 * GLYPH_W, 3), edge, dtype=np.uint8)
        swatch[1:-1, 1:-1] = fill
        parts += [gap, gap, swatch, gap, text_image(str(velocity))]
    return np.concatenate(parts, axis=1)


def with_axes(roll: np.ndarray, low: int, high: int, length: int, unit_px: int, pitch_px: int, bar_units: int,
              title: str = "") -> np.ndarray:
    """``roll`` (from bare_roll) with note names on the left, a bar number above each bar line (every
    ``bar_units`` of its ``length`` time units, ``unit_px`` pixels each) and ``title`` above it all, wrapped to
    the picture's width (widened for a word longer than that). A margin below keeps the lowest name whole."""
    width = roll.shape[1] + LABEL_W
    lines = textwrap.wrap(title, max(1, (width - 2 * TEXT_SCALE) // ADVANCE), break_long_words=False)
    width = max([width] + [font.text_width(line, TEXT_SCALE) + 2 * TEXT_SCALE for line in lines])
    top = LABEL_H * (1 + len(lines))
    image = np.full((top + roll.shape[0] + BELOW, width, 3), WHITE, dtype=np.uint8)
    image[top : top + roll.shape[0], LABEL_W : LABEL_W + roll.shape[1]] = roll
    for index, line in enumerate(lines):
        paste(image, text_image(line), TEXT_SCALE + index * LABEL_H, TEXT_SCALE)
    for bar, start in enumerate(range(0, length, bar_units)):
        paste(image, text_image(str(bar + 1)), top - LABEL_H + TEXT_SCALE, LABEL_W + start * unit_px + TEXT_SCALE)
    named = {0, 4, 7} if 3 * pitch_px >= LABEL_H else {0}  # C, E and G where their names fit, else the Cs
    for pitch in range(low, high + 1):
        if pitch % 12 in named:
            middle = top + (high - pitch) * pitch_px + pitch_px // 2
            paste(image, text_image(note_name(pitch)), middle - CAP_H // 2, TEXT_SCALE)
    return image


def bare_roll(notes: Sequence[TimedNote], length: int, low: int, high: int, unit_px: int, pitch_px: int,
              bar_units: int = DEFAULT_BAR_STEPS, beat_units: int = STEPS_PER_QUARTER, colours: Colours | None = None,
              step_units: int = 0) -> np.ndarray:
    """The roll itself: ``length`` time units (steps, pulses...) of ``unit_px`` columns each, pitches
    ``low``..``high`` (notes outside are left out). Lines every ``bar_units`` (dark), ``beat_units``
    (grey) and, if > 0, ``step_units`` (faint). ``colours(note)``: its (edge, fill), default blue.
    A note covers its columns less one at each end (so touching notes stay apart), at least one."""
    rows = high - low + 1
    image = np.empty((rows * pitch_px, length * unit_px, 3), dtype=np.uint8)
    image[:] = WHITE
    for pitch in range(low, high + 1):
        top = (high - pitch) * pitch_px
        if pitch % 12 in BLACK_KEYS:
            image[top : top + pitch_px] = BLACK_KEY
        if pitch % 12 == 0 and pitch > low:  # the line between B and C marks the octave
            image[top + pitch_px - 1] = OCTAVE
    for every, colour in ((step_units, STEP_LINE), (beat_units, BEAT), (bar_units, BAR)):
        if every > 0:
            image[:, 0 : length * unit_px : every * unit_px] = colour
    for note in notes:
        if not low <= note.pitch <= high:
            continue
        top = (high - note.pitch) * pitch_px
        left = note.start * unit_px + 1
        right = max((length if note.end is None else note.end) * unit_px - 1, left + 1)
        edge, fill = colours(note) if colours is not None else (NOTE_EDGE, NOTE)
        image[top : top + pitch_px, left:right] = edge
        image[top + 1 : top + pitch_px - 1, left + 1 : right - 1] = fill
    return image


def stack(images: Sequence[np.ndarray], gap: int = 8) -> np.ndarray:
    """Images one above the other, ``gap`` white pixels apart, left-aligned on a white canvas."""
    width = max(image.shape[1] for image in images)
    height = sum(image.shape[0] for image in images) + gap * (len(images) - 1)
    canvas = np.full((height, width, 3), WHITE, dtype=np.uint8)
    top = 0
    for image in images:
        canvas[top : top + image.shape[0], : image.shape[1]] = image
        top += image.shape[0] + gap
    return canvas


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


def save_pianoroll(tokens: Iterable[int], path: str | Path, step_px: int = STEP_PX, pitch_px: int = PITCH_PX,
                   title: str = "", bar_steps: int = DEFAULT_BAR_STEPS, chords: Chords | None = None) -> None:
    """Write the piano roll of ``tokens``, with axes (and ``chords``, one per bar, under it), to a PNG file."""
    Path(path).write_bytes(png_bytes(roll_image(tokens, step_px, pitch_px, title=title, bar_steps=bar_steps,
                                                chords=chords)))
