"""Time for the loop: a monotonic clock, a fake clock for tests, absolute step deadlines.

All times are seconds. Steps are 16th notes: ``step_seconds(bpm) = 60 / bpm / 4``.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from device import encoding

SPIN_SECONDS = 0.001  # sleep until this close to a deadline, then short-sleep for precision


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep_until(self, deadline: float) -> None: ...


class MonotonicClock:
    """Real time from ``time.monotonic`` (seconds, arbitrary origin)."""

    def now(self) -> float:
        return time.monotonic()

    def sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline``: one sleep to ~1 ms before it, then short sleeps (yields) to it."""
        remaining = deadline - time.monotonic()
        if remaining > 2 * SPIN_SECONDS:
            time.sleep(remaining - SPIN_SECONDS)
        while time.monotonic() < deadline:
            time.sleep(0)


class FakeClock:
    """A clock for tests: time moves only by ``advance`` or ``sleep_until``, instantly.

    ``sleeps`` records every deadline passed to sleep_until, in order.
    """

    def __init__(self, start: float = 0.0):
        self._now = float(start)
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def sleep_until(self, deadline: float) -> None:
        """Jump to ``deadline`` if it is in the future; never goes back."""
        self.sleeps.append(deadline)
        self._now = max(self._now, deadline)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` >= 0 (e.g. to simulate slow work)."""
        if seconds < 0:
            raise ValueError(f"time cannot go back ({seconds} s)")
        self._now += seconds


def step_seconds(bpm: float) -> float:
    """Seconds per 16th-note step at ``bpm`` quarter notes per minute (> 0)."""
    if not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"bpm must be a positive number, got {bpm}")
    return 60.0 / bpm / encoding.STEPS_PER_QUARTER


class StepSchedule:
    """Absolute deadlines for steps: ``anchor_time + (i - anchor_step) * step_seconds``.

    The first ``wait(i)`` anchors step i at the current time (it plays at once).
    Deadlines never drift: each is computed from the anchor, not from the last wake-up.
    A step late by more than one whole step re-anchors at now (the following steps
    are spaced normally from here) and adds the whole steps lost to ``skipped``,
    so a stall never turns into a burst of notes.
    """

    def __init__(self, clock: Clock, bpm: float):
        self.clock = clock
        self.bpm = float(bpm)
        self.step_seconds = step_seconds(bpm)
        self.skipped = 0  # whole steps lost to stalls (seconds late // step_seconds, summed)
        self.reanchors = 0
        self._anchor_step: int | None = None
        self._anchor_time = 0.0
        self._current = 0  # the last step waited for

    @property
    def started(self) -> bool:
        return self._anchor_step is not None

    def deadline(self, step: int) -> float:
        """The time (clock seconds) step ``step`` is due. Only after the first wait()."""
        if self._anchor_step is None:
            raise RuntimeError("the schedule starts at its first wait()")
        return self._anchor_time + (step - self._anchor_step) * self.step_seconds

    def wait(self, step: int) -> float:
        """Sleep until step ``step`` is due; return how late it is then (seconds, >= 0)."""
        now = self.clock.now()
        if self._anchor_step is None:
            self._anchor(step, now)
        due = self.deadline(step)
        if now < due:
            self.clock.sleep_until(due)
            now = self.clock.now()
        lateness = max(0.0, now - due)
        if lateness > self.step_seconds:
            self.skipped += int(lateness // self.step_seconds)
            self.reanchors += 1
            self._anchor(step, now)
        self._current = step
        return lateness

    def set_bpm(self, bpm: float) -> None:
        """Change the tempo from the next step on; the current step stays where it was (phase kept)."""
        new_step = step_seconds(bpm)
        if self._anchor_step is not None:
            self._anchor(self._current, self.deadline(self._current))
        self.bpm, self.step_seconds = float(bpm), new_step

    def _anchor(self, step: int, at: float) -> None:
        self._anchor_step, self._anchor_time = step, at
