"""Hot-plug: a MIDI port that may vanish (a USB cable pulled) and come back, for the box's input and output alike.

A port is lost when a send or receive fails, or when ``alive`` (is it still listed?) says no
``missing_checks`` times in a row (on JACK a listing opens a client, which can fail on a loaded machine).
A lost port never stops the box: ``reopen`` is tried at most every ``retry_seconds`` on the box's clock,
always from the loop's thread, never from a port's callback. Counters: ``losses``, ``reconnects``,
``failed_reopens``; ``last_error`` says the last problem in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from device.core.clock import Clock
from device.midi.ports import PORT_ERRORS


class Reconnecting:
    """The reconnect half of a port holder (device/midi/midi_in.py, midi_out.py). Subclasses call
    ``_start_reconnecting`` in their constructor, ``_lose`` on a port error, ``_check_connection`` when a
    check may run, and get ``_reconnected(port)`` (adopt the new port; return whether it works) and
    ``_release(port)`` (let go of a port before it is closed)."""

    _port: Any = None
    connected = False

    def _start_reconnecting(self, clock: Clock, reopen: Callable[[], Any] | None, alive: Callable[[], bool] | None,
                            retry_seconds: float, missing_checks: int = 1) -> None:
        self.clock, self._reopen, self._alive = clock, reopen, alive
        self.retry_seconds, self._missing_checks = float(retry_seconds), missing_checks
        self._missing = 0  # checks in a row that did not list the port
        self._next_check = clock.now() + self.retry_seconds
        self.losses = self.reconnects = self.failed_reopens = 0
        self.last_error: str | None = None

    def _check_connection(self, now: bool = False) -> None:
        """At most every retry_seconds (``now``: at once): ask ``alive`` about a connected port, reopen a lost one."""
        time = self.clock.now()
        if time < self._next_check and not now:
            return
        self._next_check = time + self.retry_seconds
        if self.connected:
            self._missing = 0 if self._alive is None or self._alive() else self._missing + 1
            if self._missing >= self._missing_checks:
                self._lose("the port is no longer listed")
            return
        if self._reopen is None:
            return
        try:
            port = self._reopen()
        except PORT_ERRORS as error:
            self.failed_reopens += 1
            self.last_error = str(error)
            return
        self._port, self.connected, self._missing = port, True, 0
        if self._reconnected(port):
            self.reconnects += 1

    def _lose(self, error: BaseException | str) -> None:
        """The port failed or vanished: count it, say why in ``last_error``, let go of it, retry later."""
        self.connected = False
        self.losses += 1
        self.last_error = str(error)
        self._next_check = self.clock.now() + self.retry_seconds
        self._drop_port()

    def _drop_port(self) -> None:
        port, self._port, self.connected = self._port, None, False
        if port is None:
            return
        try:
            self._release(port)
            port.close()
        except PORT_ERRORS as error:  # the device is gone; nothing more to release
            self.last_error = str(error)

    def _reconnected(self, port: Any) -> bool:
        return True

    def _release(self, port: Any) -> None:
        """Let go of ``port`` before it is closed (an input drops its callback)."""
