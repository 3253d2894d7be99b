"""Clocks: a monotonic clock and a fake clock for tests. All times are seconds.

The transport (device/transport/base.py) schedules against these clocks; MIDI in and out stamp
messages with them. A step's length at a tempo is in device/core/timegrid.py.
"""

from __future__ import annotations

import time
from typing import Protocol

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

    ``sleeps`` records every deadline passed to sleep_until, in order (``record=False``: kept
    empty, for runs of millions of steps such as the soak).
    """

    def __init__(self, start: float = 0.0, record: bool = True):
        self._now = float(start)
        self.sleeps: list[float] = []
        self._record = record

    def now(self) -> float:
        return self._now

    def sleep_until(self, deadline: float) -> None:
        """Jump to ``deadline`` if it is in the future; never goes back."""
        if self._record:
            self.sleeps.append(deadline)
        self._now = max(self._now, deadline)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` >= 0 (e.g. to simulate slow work)."""
        if seconds < 0:
            raise ValueError(f"time cannot go back ({seconds} s)")
        self._now += seconds

