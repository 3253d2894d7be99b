"""The box's own clock: a transport on absolute deadlines at a set tempo.

Pulse deadlines are computed from an anchor on a monotonic clock, never from the last wake-up, so
they never drift; a stall re-anchors instead of catching up, so it never turns into a burst of notes.
"""

from __future__ import annotations

from device.core.clock import Clock
from device.core.timegrid import PULSES_PER_STEP, step_seconds
from device.transport.base import Tick


class InternalTransport:
    """The box's own clock at ``bpm``: pulse i is due at ``anchor_time + (i - anchor_pulse) * pulse_seconds``.

    The first ``next_tick()`` anchors pulse 0 at the current time (it plays at once).
    Deadlines never drift: each is computed from the anchor, not from the last wake-up.
    A pulse late by more than one whole step re-anchors at now (the following pulses
    are spaced normally from there) and adds the whole steps lost to ``skipped``, so a
    stall never turns into a burst. A pulse late by less is delivered at once and the
    next keeps its own deadline.
    """

    def __init__(self, clock: Clock, bpm: float):
        self.clock = clock
        self.bpm = float(bpm)
        self.pulse_seconds = step_seconds(bpm) / PULSES_PER_STEP
        self.skipped = 0  # whole steps lost to stalls (seconds late // step seconds, summed)
        self.reanchors = 0
        self._next = 0  # the next pulse to deliver
        self._anchor_pulse: int | None = None
        self._anchor_time = 0.0

    @property
    def step_seconds(self) -> float:
        return self.pulse_seconds * PULSES_PER_STEP

    def deadline(self, pulse: int) -> float:
        """The clock time pulse ``pulse`` is due. Only after the first tick."""
        if self._anchor_pulse is None:
            raise RuntimeError("the transport starts at its first next_tick()")
        return self._anchor_time + (pulse - self._anchor_pulse) * self.pulse_seconds

    def next_tick(self) -> Tick:
        """Sleep until the next pulse is due; return it with how late it is then."""
        pulse = self._next
        now = self.clock.now()
        if self._anchor_pulse is None:
            self._anchor(pulse, now)
        due = self.deadline(pulse)
        if now < due:
            self.clock.sleep_until(due)
            now = self.clock.now()
        lateness = max(0.0, now - due)
        if lateness > self.step_seconds:
            self.skipped += int(lateness // self.step_seconds)
            self.reanchors += 1
            self._anchor(pulse, now)
        self._next = pulse + 1
        return Tick(pulse, True, due, lateness)

    def set_bpm(self, bpm: float) -> None:
        """Change the tempo from the next pulse on; the last pulse stays where it was (phase kept)."""
        new_pulse = step_seconds(bpm) / PULSES_PER_STEP
        if self._anchor_pulse is not None:
            last = self._next - 1
            self._anchor(last, self.deadline(last))
        self.bpm, self.pulse_seconds = float(bpm), new_pulse

    def _anchor(self, pulse: int, at: float) -> None:
        self._anchor_pulse, self._anchor_time = pulse, at
