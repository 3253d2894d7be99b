"""Link: a transport on an Ableton Link session, sharing tempo and phase with Live and Link apps on the network.

Needs the optional ``aalink`` package (``pip install aalink``; x86_64 and aarch64 wheels).
Pulse n of the transport is Link beat n/24 of the session's shared timeline, so the box's
16ths fall on the session's 16ths and, with a quantum of 4 beats, its bar lines on the
session's bar lines. The tempo is the session's: whoever changes it (Live, an app, or
this box at start, if it is alone) changes it for everyone.

``next_tick`` waits for the next pulse on the Link timeline (aalink's ``sync``, on an
asyncio loop private to this transport). Pulses that passed while the box was busy are
not made up, except the latest step's pulse, played at once (late, not lost); so a stall
never bursts steps. Ticks before beat 0 (the session's timeline can start below 0 while
phases align) are not running.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable

from device.core.timegrid import DEFAULT_BAR_STEPS, PULSES_PER_QUARTER, PULSES_PER_STEP, STEPS_PER_QUARTER
from device.transport.base import Tick

QUANTUM = DEFAULT_BAR_STEPS // STEPS_PER_QUARTER  # beats per bar (4/4): phase is shared per bar


class LinkUnavailable(OSError):
    """aalink is not installed (an OSError, so `melodybox run` says it in one line and exits 2)."""


class LinkTransport:
    """Ticks on the Link session's timeline. ``bpm``: the session's tempo. ``peers``: other Link apps seen.

    ``link``: an aalink.Link to use (tests); by default one is made at ``bpm`` and enabled.
    Counters: ``skipped`` pulses (found late, not delivered).
    """

    def __init__(self, bpm: float, quantum: int = QUANTUM, say: Callable[[str], None] | None = None, link=None):
        self._aio = asyncio.new_event_loop()
        if link is None:
            try:
                from aalink import Link  # lazy: an optional extra (pip install aalink), for --clock link
            except ImportError:
                self._aio.close()
                raise LinkUnavailable("--clock link needs the aalink package: pip install aalink") from None
            with warnings.catch_warnings():  # aalink 0.2 deprecates passing the loop; its default is the running one
                warnings.simplefilter("ignore", DeprecationWarning)
                link = Link(float(bpm), self._aio)
        self.link = link
        self.link.quantum = quantum
        self.link.enabled = True
        self._say = say or (lambda message: None)
        self._last: int | None = None
        self._peers = 0
        self.skipped = 0

    @property
    def bpm(self) -> float:
        return float(self.link.tempo)

    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    def next_tick(self) -> Tick:
        """Wait for the next pulse of the session's timeline and return it."""
        while True:
            beat = self._aio.run_until_complete(self.link.sync(1 / PULSES_PER_QUARTER))
            pulse = round(beat * PULSES_PER_QUARTER)
            if self._last is None or pulse > self._last:
                break
        if self._last is not None:
            step_pulse = pulse - pulse % PULSES_PER_STEP
            if self._last < step_pulse < pulse:  # a step's pulse passed while the box was busy: play it now, late
                pulse = step_pulse
            self.skipped += pulse - self._last - 1
        self._last = pulse
        self._report_peers()
        return Tick(pulse, pulse >= 0)

    def _report_peers(self) -> None:
        peers = self.peers
        if peers != self._peers:
            self._peers = peers
            self._say(f"Link: {peers} other app(s) in the session, {self.bpm:.1f} bpm")

    def close(self) -> None:
        """Leave the session. Idempotent."""
        if not self._aio.is_closed():
            self.link.enabled = False
            self._aio.close()
