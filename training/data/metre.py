"""Bar lines in 16th steps, from a MIDI file's time signatures, and cutting melodies on them.

A ``BarGrid`` is a list of segments ``(start step, steps per bar)``; the first starts at step 0 and bar
lines fall every ``steps per bar`` from a segment's start until the next segment. A time signature
gives ``16 * numerator / denominator`` steps per bar where that is sane (a numerator of at least 2 and
a whole number of 4..64 steps: 2/4 is 8, 6/8 is 12, 4/4 and 2/2 are 16). A signature of one beat per
bar (1/4, as POP909 declares in 694 of 909 files) says where the beats are but not the bars, and a file
without one has MIDI's default: for both, the bar is four beats, 4/4 (16 steps), from the start or from
that signature. A signature that changes the bar length, or starts off the current bar lines (a bar
cut short, e.g. around a repeat), starts a new segment.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from device.core.encoding import Note
from device.core.timegrid import DEFAULT_BAR_STEPS, STEPS_PER_QUARTER

MIN_BAR_STEPS, MAX_BAR_STEPS = 4, 64  # sane bars: 2/8 .. 16/4


def bar_steps_of(numerator: int, denominator: int) -> int | None:
    """Steps per bar of a time signature, or None when it says nothing usable about bars."""
    power_of_two = denominator > 0 and denominator & (denominator - 1) == 0  # as MIDI writes them
    steps, rest = divmod(numerator * 4 * STEPS_PER_QUARTER, denominator) if power_of_two else (0, 1)
    if numerator < 2 or rest or not MIN_BAR_STEPS <= steps <= MAX_BAR_STEPS:
        return None
    return steps


@dataclass(frozen=True)
class BarGrid:
    """Bar lines: ``segments`` of (start step, steps per bar), starts increasing, the first at 0."""

    segments: tuple[tuple[int, int], ...] = ((0, DEFAULT_BAR_STEPS),)

    @classmethod
    def from_signatures(cls, signatures: Iterable[tuple[int, int, int]]) -> BarGrid:
        """From ``(step, numerator, denominator)`` time signatures (any order; later ones win at a step)."""
        segments = [(0, DEFAULT_BAR_STEPS)]
        for step, numerator, denominator in sorted(signatures, key=lambda s: s[0]):
            bar = bar_steps_of(numerator, denominator) or DEFAULT_BAR_STEPS
            start, current = segments[-1]
            if start == step:
                segments[-1] = (step, bar)
            elif bar != current or (step - start) % current:
                segments.append((step, bar))
        merged = [segments[0]]  # a signature at step 0 may have made the next one redundant
        for start, bar in segments[1:]:
            if bar != merged[-1][1] or (start - merged[-1][0]) % bar:
                merged.append((start, bar))
        return cls(tuple(merged))

    def _segment(self, step: int) -> int:
        return max(0, bisect.bisect_right([s for s, _ in self.segments], step) - 1)

    def bar_line(self, step: int) -> int:
        """The bar line at or before ``step``."""
        start, bar = self.segments[self._segment(step)]
        return start + (step - start) // bar * bar

    def position(self, step: int) -> tuple[int, int]:
        """(steps per bar, steps since the bar line) at ``step``."""
        start, bar = self.segments[self._segment(step)]
        return bar, (step - start) % bar

    def cut(self, origin: int, max_steps: int) -> int:
        """Where a piece starting at ``origin`` ends: the last bar line within ``max_steps`` (and no later than
        the next change of metre), or ``origin + max_steps`` when no bar line fits."""
        index = self._segment(origin)
        start, bar = self.segments[index]
        horizon = origin + max_steps
        if index + 1 < len(self.segments) and self.segments[index + 1][0] <= horizon:
            return self.segments[index + 1][0]
        line = start + (horizon - start) // bar * bar
        return line if line > origin else horizon


FOUR_FOUR = BarGrid()


def cut_on_bars(notes: list[Note], grid: BarGrid, max_steps: int, floor: int = 0) -> list[tuple[int, list[Note]]]:
    """Sorted, non-overlapping notes -> ``(origin, notes)`` pieces of at most ``max_steps`` steps.

    Each piece starts on the bar line at or before its first note (not before ``floor`` or the end of the
    piece before) and is cut on a bar line; a note sounding across the cut ends there.
    """
    pieces: list[tuple[int, list[Note]]] = []
    index = 0
    while index < len(notes):
        origin = max(grid.bar_line(notes[index].start), floor)
        limit = grid.cut(origin, max_steps)
        piece = []
        while index < len(notes) and notes[index].start < limit:
            note = notes[index]
            piece.append(Note(note.pitch, note.start, min(note.end, limit)))
            index += 1
        if piece:  # none when the next note starts past a cut inside a bar longer than max_steps
            pieces.append((origin, piece))
        floor = limit
    return pieces
