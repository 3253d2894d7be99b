"""Knob curves: how a knob's travel (0..1) becomes a control's value and back, and which values a control takes.

A knob is a potentiometer, an encoder, a MIDI CC or a key press: each gives a position 0..1, fully
counter-clockwise to fully clockwise. ``Linear`` spreads the travel evenly over a range, ``Geometric``
is the temperature's (1 in the middle, geometric to each end) and ``Choices`` splits the travel into
equal parts, one per option. Each curve also checks a value given as a number or text (flags, OSC,
JSON, TOML) and says in words what is wrong (``ControlError``). Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class ControlError(ValueError):
    """A value a control cannot take; the message says why, e.g. ``must be 0..1``."""


@dataclass(frozen=True)
class Linear:
    """A knob's travel spread evenly over ``low``..``high``; ``whole``: the values are whole numbers."""

    low: float
    high: float
    whole: bool = False
    steps = None  # continuous: a key press moves the knob a little

    def value(self, position: float) -> float | int:
        value = self.low + clamp(position) * (self.high - self.low)
        return round(value) if self.whole else value

    def position(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)

    def check(self, value: Any) -> float | int:
        return _in_range(value, self.low, self.high, self.whole)

    @property
    def range_text(self) -> str:
        return f"{_text(self.low)}-{_text(self.high)}"

    @property
    def travel_text(self) -> str:
        """What the knob's travel covers, for people."""
        return f"{_text(self.low)} .. {_text(self.high)}, evenly"


@dataclass(frozen=True)
class Geometric:
    """A knob with ``low`` fully left, exactly 1 in the middle and ``high`` fully right, geometric on each
    half (the temperature: small changes near 1 are heard, the ends reach far). 0 <= low < 1 < high.

    ``low`` 0 is greedy (the sampler then plays the likeliest token): fully left is 0, and the rest of the left
    half runs geometrically from ``floor`` (0 < floor < 1) to 1, as a knob from ``floor`` would, so the knob
    feels the same everywhere but at its very end. A geometric curve cannot reach 0 itself."""

    low: float
    high: float
    floor: float = 0.05  # with low 0: the value just right of the greedy end
    steps = None

    def __post_init__(self):
        if not (0 <= self.low < 1 < self.high and 0 < self.floor < 1):
            raise ValueError(f"temperature range needs 0 <= low < 1 < high, got low={self.low}, high={self.high}")

    @property
    def _left(self) -> float:
        """The value the geometric left half starts from: ``low``, or ``floor`` right of a greedy end."""
        return self.low or self.floor

    def value(self, position: float) -> float:
        if math.isnan(position):
            raise ValueError("knob position is NaN")
        position = clamp(position)
        if position == 0.5:
            return 1.0
        if position == 0 and self.low == 0:
            return 0.0
        if position < 0.5:
            return self._left ** (1.0 - 2.0 * position)
        return self.high ** (2.0 * position - 1.0)

    def position(self, value: float) -> float:
        if value <= self.low:
            return 0.0
        if value <= self._left:  # between a greedy end and the floor: the first position right of the end
            return math.nextafter(0.0, 1.0)
        if value >= self.high:
            return 1.0
        if value <= 1.0:
            return (1.0 - math.log(value) / math.log(self._left)) / 2.0
        return (1.0 + math.log(value) / math.log(self.high)) / 2.0

    def check(self, value: Any) -> float:
        return _in_range(value, self.low, self.high, whole=False)

    @property
    def range_text(self) -> str:
        return f"{_text(self.low)}-{_text(self.high)}"

    @property
    def travel_text(self) -> str:
        if self.low == 0:
            return f"0 (greedy) fully left, then {_text(self.floor)} .. 1 in the middle .. {_text(self.high)}"
        return f"{_text(self.low)} .. 1 in the middle .. {_text(self.high)}"


@dataclass(frozen=True)
class Choices:
    """A knob whose travel is split in equal parts, one for each of ``options`` (in order)."""

    options: tuple

    @property
    def steps(self) -> int:
        return len(self.options)

    def value(self, position: float) -> Any:
        return self.options[min(len(self.options) - 1, max(0, int(clamp(position) * len(self.options))))]

    def position(self, value: Any) -> float:
        return (self.options.index(value) + 0.5) / len(self.options)

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or value not in self.options:
            raise ControlError(f"must be one of {', '.join(map(str, self.options))}")
        return value

    @property
    def range_text(self) -> str:
        return ", ".join(map(str, self.options))

    @property
    def travel_text(self) -> str:
        return f"{len(self.options)} equal parts, {self.options[0]} fully left"


def clamp(position: float) -> float:
    """A knob position kept within 0..1 (an ADC can overshoot a little)."""
    return min(1.0, max(0.0, float(position)))


def _number(value: Any, whole: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError("must be a whole number" if whole else "must be a number")
    if whole:
        if value != int(value):
            raise ControlError("must be a whole number")
        return int(value)
    return float(value)


def _in_range(value: Any, low: float, high: float, whole: bool) -> float | int:
    """``value`` as a number of ``low``..``high`` (whole if ``whole``), else ControlError saying what it must be."""
    number = _number(value, whole)
    if not low <= number <= high:
        raise ControlError(f"must be {_text(low)}..{_text(high)}")
    return number


def _text(number: float) -> str:
    return f"{number:g}"


def from_text(text: str) -> Any:
    """A number from text where it is one ("0.4" -> 0.4, "8" -> 8), else the text stripped."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
