"""Bar lines in 16th steps, from a MIDI file's time signatures, and cutting melodies on them.

A ``BarGrid`` is a list of segments ``(start step, steps per bar)``; the first starts at step 0 and bar
lines fall every ``steps per bar`` from a segment's start until the next segment. A time signature
gives ``16 * numerator / denominator`` steps per bar where that is sane (a numerator of at least 2 and
a whole number of 4..64 steps: 2/4 is 8, 6/8 is 12, 4/4 and 2/2 are 16). A signature of one beat per
bar (1/4, which some collections write in every file) says where the beats are but not the bars, and a file
without one has MIDI's default: for both, the bar is four beats, 4/4 (16 steps), from the start or from
that signature. A signature that changes the bar length, or starts off the current bar lines (a bar
cut short, e.g. around a repeat), starts a new segment.

A bar longer than LONGEST_BAR (4/2 and 4/1 in old folk collections: 32 and 64 steps) is cut into equal bars
the model knows (``model_bar``): 4/2 into 2 bars of 16, 4/1 into 4 bars of 16. The model's bar position input
reads bars of up to device.core.features.MAX_BAR_STEPS, and the bundled corpus has none longer than LONGEST_BAR.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from device.core.encoding import Note
from device.core.timegrid import DEFAULT_BAR_STEPS, STEPS_PER_QUARTER

MIN_BAR_STEPS, MAX_BAR_STEPS = 4, 64  # sane bars: 2/8 .. 16/4
LONGEST_BAR = 24  # steps: the longest bar kept whole (12/8, 6/4, 3/2), the longest in the bundled corpus


def bar_steps_of(numerator: int, denominator: int) -> int | None:
    """Steps per bar of a time signature, or None when it says nothing usable about bars."""
    power_of_two = denominator > 0 and denominator & (denominator - 1) == 0  # as MIDI writes them
    steps, rest = divmod(numerator * 4 * STEPS_PER_QUARTER, denominator) if power_of_two else (0, 1)
    if numerator < 2 or rest or not MIN_BAR_STEPS <= steps <= MAX_BAR_STEPS:
        return None
    return steps


def model_bar(numerator: int, denominator: int) -> int | None:
    """Steps per bar as melodies record them: the time signature's bar (``bar_steps_of``) up to LONGEST_BAR; a
    longer bar cut into the fewest equal bars of whole beats that fit (a compound metre's beat is three of its
    notes: 15/8 gives 5 bars of 6), or else of whole steps, at least MIN_BAR_STEPS long. None when the signature
    says nothing usable, or its bar cannot be cut so (a prime number of steps)."""
    steps = bar_steps_of(numerator, denominator)
    if steps is None or steps <= LONGEST_BAR:
        return steps
    compound = numerator % 3 == 0 and numerator > 3 and denominator >= 8
    beats = numerator // 3 if compound else numerator
    for parts in range(2, steps + 1):
        if beats % parts == 0 and MIN_BAR_STEPS <= steps // parts <= LONGEST_BAR:
            return steps // parts
    return next((steps // parts for parts in range(2, steps + 1)
                 if steps % parts == 0 and MIN_BAR_STEPS <= steps // parts <= LONGEST_BAR), None)


def metre_name(numerator: int, denominator: int) -> str:
    """How the prepare report names a time signature: "6/8"; "4/2 (cut into 2 bars of 16 steps)"; "1/4 (read
    as 4/4)" for one that says nothing usable about bars."""
    steps, bar = bar_steps_of(numerator, denominator), model_bar(numerator, denominator)
    if bar is None:
        return f"{numerator}/{denominator} (read as 4/4)"
    if bar != steps:
        return f"{numerator}/{denominator} (cut into {steps // bar} bars of {bar} steps)"
    return f"{numerator}/{denominator}"


def metre_names(signatures: Iterable[tuple[int, int, int]]) -> list[str]:
    """The distinct metres of ``(step, numerator, denominator)`` time signatures, in order of their first step;
    ["4/4 (none given)"] without one."""
    names = [metre_name(numerator, denominator) for _, numerator, denominator in sorted(signatures)]
    return list(dict.fromkeys(names)) or ["4/4 (none given)"]


@dataclass(frozen=True)
class BarGrid:
    """Bar lines: ``segments`` of (start step, steps per bar), starts increasing, the first at 0."""

    segments: tuple[tuple[int, int], ...] = ((0, DEFAULT_BAR_STEPS),)

    @classmethod
    def from_signatures(cls, signatures: Iterable[tuple[int, int, int]]) -> BarGrid:
        """From ``(step, numerator, denominator)`` time signatures (any order; later ones win at a step)."""
        segments = [(0, DEFAULT_BAR_STEPS)]
        for step, numerator, denominator in sorted(signatures, key=lambda s: s[0]):
            bar = model_bar(numerator, denominator) or DEFAULT_BAR_STEPS
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
