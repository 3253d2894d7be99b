"""Controls for a desktop: the keyboard turns the knob and presses the button, plus a live one-line view.

Keys (in the terminal that runs the box): ``]`` / ``[`` or the arrow keys turn
the temperature knob up / down, space or ``r`` resets, ``p`` pauses/resumes,
``q`` quits. The terminal goes to cbreak mode (Ctrl-C still works) while a
reader thread waits for keys, and is restored on close. Without a terminal on
stdin (systemd, pipes, tests) there is no keyboard and nothing breaks: the
temperature stays where it started.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from device.config import TemperatureConfig
from device.controls import knob_from_temperature
from device.controlstate import ControlState
from device.sampling import temperature_from_knob

KNOB_STEP = 0.05  # knob travel (0..1) per key press
UP_KEYS = ("]", "\x1b[A", "\x1b[C", "+")
DOWN_KEYS = ("[", "\x1b[B", "\x1b[D", "-")
RESET_KEYS = (" ", "r")
HELP = "keys: [ ] or arrows = temperature, space/r = reset, p = pause, q = quit"


def split_keys(data: str) -> list[str]:
    """Split what the terminal sent into keys; an arrow is one 3-character escape sequence."""
    keys, i = [], 0
    while i < len(data):
        size = 3 if data.startswith("\x1b[", i) else 1
        keys.append(data[i : i + size])
        i += size
    return keys


class SimControls:
    """The loop's Controls, simulated. ``keys`` is a file descriptor to read keys from (default:
    stdin if it is a terminal, else none); ``on_quit`` is called for ``q``. ``close()`` is idempotent."""

    def __init__(
        self,
        temperature: TemperatureConfig,
        keys: int | None = -1,
        on_quit: Callable[[], None] | None = None,
    ):
        self._temperature = temperature
        self._on_quit = on_quit
        self._lock = threading.Lock()
        self.position = knob_from_temperature(temperature.initial, temperature.low, temperature.high)
        self._initial_position = self.position
        self._reset = self._pause_toggle = False
        self._fd = _stdin_terminal() if keys == -1 else keys
        self._saved_mode = None
        self._stop = threading.Event()
        self._thread = None
        if self._fd is not None:
            self._start_keyboard()

    @property
    def keyboard(self) -> bool:
        """True if keys are being read."""
        return self._thread is not None

    def _start_keyboard(self) -> None:
        import termios
        import tty

        if os.isatty(self._fd):
            self._saved_mode = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)  # keys arrive one by one, unechoed; Ctrl-C still sends SIGINT
        self._thread = threading.Thread(target=self._read_keys, name="melodybox-keys", daemon=True)
        self._thread.start()

    def _read_keys(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if not ready:
                continue
            data = os.read(self._fd, 64)
            if not data:
                return  # end of input
            for key in split_keys(data.decode("utf-8", "replace")):
                self.handle_key(key)

    def handle_key(self, key: str) -> None:
        """Act on one key, as if the knob was turned or the button pressed (only sets state)."""
        with self._lock:
            if key in UP_KEYS:
                self.position = min(1.0, self.position + KNOB_STEP)
            elif key in DOWN_KEYS:
                self.position = max(0.0, self.position - KNOB_STEP)
            elif key in RESET_KEYS:
                self._reset = True
            elif key == "p":
                self._pause_toggle = True
        if key == "q" and self._on_quit is not None:
            self._on_quit()

    def read(self) -> ControlState:
        """The knob's temperature and the button flags since the last read (consumed)."""
        t = self._temperature
        with self._lock:
            if abs(self.position - self._initial_position) < 1e-12:
                temperature = t.initial  # exact until the knob is first turned
            else:
                temperature = temperature_from_knob(self.position, t.low, t.high)
            state = ControlState(temperature, reset=self._reset, pause_toggle=self._pause_toggle)
            self._reset = self._pause_toggle = False
        return state

    def beat(self, step: int, playing: bool) -> None:
        """No LED on a desktop: the live view shows the step."""

    def error(self, active: bool) -> None:
        """No LED on a desktop: the live view shows the MIDI connection."""

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        if self._saved_mode is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved_mode)
            self._saved_mode = None

    def __enter__(self) -> SimControls:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stdin_terminal() -> int | None:
    """stdin's file descriptor if it is a terminal, else None (headless)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return None
    return fd if os.isatty(fd) else None


def note_name(token: int | None) -> str:
    """A token as a short label: C4 (MIDI 60), 'off', '·' (no event) or '-' (nothing played)."""
    from device.encoding import NOTE_OFF, is_note_on

    if token is None:
        return "-"
    if is_note_on(token):
        names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
        return f"{names[token % 12]}{token // 12 - 1}"
    return "off" if token == NOTE_OFF else "·"


class LiveView:
    """One status line (step, note, temperature, state) rewritten in place with ``\\r``,
    only when ``stream`` is a terminal; otherwise it writes nothing."""

    def __init__(self, stream: TextIO | None = None, every: int = 1):
        self.stream = sys.stdout if stream is None else stream
        self.every = every  # redraw every this many steps
        self.active = _isatty(self.stream)
        self._shown = False

    def update(self, report) -> None:
        """Show a StepReport (step, token, temperature, paused, connected)."""
        if not self.active or report.step % self.every:
            return
        state = "paused" if report.paused else "playing"
        if not report.connected:
            state += ", MIDI lost"
        line = f"step {report.step:6d}  {note_name(report.token):>4}  temperature {report.temperature:4.2f}  {state}"
        if report.bpm:
            line += f"  {report.bpm:.0f} bpm"
        self.stream.write("\r" + line.ljust(60))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the status line so the shell prompt starts on a fresh one."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
