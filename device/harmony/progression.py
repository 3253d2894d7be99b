"""A chord progression as a harmony source: one chord per bar of the transport, cycled, and the key they imply.

Bars are the transport's: bar ``step // bar_steps``, so in follow mode the drum machine's or DAW's bars (step 0
is the first step after its Start; a Song Position jump lands in the bar it names). The progression's first
chord is on bar 0, and it cycles from there (device/core/chords.py reads the text).
"""

from __future__ import annotations

from typing import Any

from device.core.chords import Harmony, Progression


class ProgressionHarmony:
    """The Harmony of each step from ``progression`` (one cycle is ``progression.bars`` bars of ``bar_steps``)."""

    def __init__(self, progression: Progression, bar_steps: int):
        self.progression, self.bar_steps = progression, int(bar_steps)

    def hear(self, tick: Any) -> None:
        """Nothing to hear: the chords are known in advance."""

    def at(self, step: int) -> Harmony:
        """The chord of ``step``'s bar, the progression's key, and where ``step`` lies in its bar."""
        return self.progression.harmony_at(step, self.bar_steps)
