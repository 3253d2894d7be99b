"""The status line: one line a person reads while the box plays, rewritten in place on a terminal.

It shows the step, the note, every declared control that has a mark on it (engine/declaration.py:
``Control.label`` and ``show``, in the declaration's order), the transport and what the box does.
``LiveView`` writes it only when stdout is a terminal, under a legend written once; a message said
while it shows (a capture written, a port lost) is printed above it, never onto it (``LiveView.above``).
"""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Callable
from typing import TextIO

from device.core.encoding import NOTE_OFF, is_note_on
from device.core.scales import note_name
from device.engine.declaration import CONTROLS

STATE_TEXT = {"waiting": "waiting for Start"}  # a StepReport's state as the status line says it (else the word)
RESET_SHOWN_STEPS = 8  # a reset stays on the status line this many steps (two beats), long enough to see
LEGEND = "\n  ".join(textwrap.wrap(
    "status: step, note, " + ", ".join(f"{c.label} {c.legend}".strip() for c in CONTROLS if c.show) + ", "
    "> playing, || paused, [] stopped, ! MIDI lost, the tempo, the chord (with chords), then what the box "
    "does: playing, paused, "
    "listening or answering (call and response), waiting for Start (a followed clock is stopped), "
    "RESET:why (button, or what the guard heard)", width=110, break_on_hyphens=False))


def token_label(token: int | None) -> str:
    """A token as a short label: C4 (MIDI 60), 'off', '·' (no event) or '-' (nothing played)."""
    if token is None:
        return "-"
    if is_note_on(token):
        return note_name(token)
    return "off" if token == NOTE_OFF else "·"


def status_line(report) -> str:
    """One StepReport as the status line (symbols: LEGEND), without the reset; it ends with the state."""
    state = "[]" if not report.running else "||" if report.paused else ">"
    if not report.connected:
        state += " !"
    shown = " ".join(text for control in CONTROLS if (text := control.status(report.controls)) is not None)
    line = f"{report.step:6d} {token_label(report.token):>4} {shown} {state}"
    if report.bpm:
        line += f" {report.bpm:.0f}bpm"
    if report.chord:
        line += f" {report.chord}"
    return f"{line} {STATE_TEXT.get(report.state, report.state)}"


class LiveView:
    """One status line (step, note, every control, state, tempo, what the box does, a reset) rewritten in
    place with ``\\r``, under a legend written once; only when ``stream`` is a terminal, otherwise it writes
    nothing."""

    def __init__(self, stream: TextIO | None = None, every: int = 1):
        self.stream = sys.stdout if stream is None else stream
        self.every = every  # redraw every this many steps
        self.active = _isatty(self.stream)
        self._shown = False
        self._reset = ""  # the last reset's reason, shown until step _reset_until
        self._reset_until = -1
        self._width = 80  # the longest line shown so far: a shorter one pads over all of it
        self._line = ""  # the line on screen, padded
        self._lock = threading.Lock()  # messages come from other threads too (a capture's writer)

    def above(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """``say`` (which prints one line to another stream of the same terminal, e.g. stderr) made to print above
        the status line: the line is cleared, the message printed, and the line drawn again under it."""
        def said(message: str) -> None:
            with self._lock:
                if self._shown:
                    self.stream.write("\r" + " " * self._width + "\r")
                    self.stream.flush()
                say(message)
                if self._shown:
                    self.stream.write(self._line)
                    self.stream.flush()

        return said

    def update(self, report) -> None:
        """Show a StepReport."""
        if not self.active:
            return
        with self._lock:
            self._update(report)

    def _update(self, report) -> None:
        if report.reset:
            self._reset, self._reset_until = report.reset, report.step + RESET_SHOWN_STEPS
        if report.step % self.every:
            return
        if not self._shown:
            self.stream.write(LEGEND + "\n")
        line = status_line(report)
        if report.step < self._reset_until:
            line += f" RESET:{self._reset}"
        self._width = max(self._width, len(line))
        self._line = "\r" + line.ljust(self._width)
        self.stream.write(self._line)
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the status line so the shell prompt starts on a fresh one."""
        with self._lock:
            if self._shown:
                self.stream.write("\n")
                self.stream.flush()
                self._shown = False


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
