"""The transport: the loop's only source of time.

A transport delivers ticks at MIDI clock resolution, 24 pulses per quarter note.
A 16th-note step is 6 pulses; the tick on a step's first pulse is where that step's
note plays. The loop never asks what time it is, only which tick is due:
``next_tick()`` blocks until the next one.

The box's own clock (transport/internal.py), a MIDI clock follower (follow.py) and a Link session
(link.py) are transports with the same ``next_tick()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from device.core.timegrid import PULSES_PER_STEP


@dataclass(frozen=True)
class Tick:
    """One pulse of the transport.

    ``pulse``: the song position in pulses (0 = the first pulse after Start); while the
    transport is stopped, the position it holds. ``running``: the transport plays.
    ``due``: clock seconds when the pulse was due (or arrived). ``lateness``: seconds
    between ``due`` and its delivery (>= 0).
    """

    pulse: int
    running: bool = True
    due: float = 0.0
    lateness: float = 0.0

    @property
    def step(self) -> int:
        """The 16th step this pulse belongs to."""
        return self.pulse // PULSES_PER_STEP

    @property
    def on_step(self) -> bool:
        """True on a running step's first pulse: that step's note plays now."""
        return self.running and self.pulse % PULSES_PER_STEP == 0


class Transport(Protocol):
    bpm: float  # quarter notes per minute: set (internal) or estimated (follow)

    def next_tick(self) -> Tick:
        """Block until the next tick is due and return it."""
        ...
