"""Controls for a desktop: the keyboard turns every knob and presses the buttons.

Keys (in the terminal that runs the box): each declared control's letter (engine/declaration.py),
lower case turns it down, upper case up; ``[`` ``]``, the arrows, ``-`` and ``+`` also turn the
temperature; each button's keys press it (space or r resets, p pauses, c captures); q quits.
``HELP`` lists them all.

The controls start from the configured values ([music], temperature.initial); a control
keeps its exact configured value until its key is first pressed. The terminal goes to
cbreak mode (Ctrl-C still works) while a reader thread waits for keys, and is restored on
close. Without a terminal on stdin (systemd, pipes, tests) there is no keyboard and nothing
breaks: every control stays where it started.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Callable, Mapping
from dataclasses import replace

from device.engine.controlstate import ControlState
from device.engine.declaration import BUTTONS, CONTROLS, Control

KNOB_STEP = 0.05  # knob travel (0..1) per key press (a stepped control moves one setting)
UP_KEYS = ("]", "\x1b[A", "\x1b[C", "+")  # the temperature, up
DOWN_KEYS = ("[", "\x1b[B", "\x1b[D", "-")  # the temperature, down
QUIT_KEY = "q"
KNOB_KEYS = {control.key: control.name for control in CONTROLS if control.key}  # lower case: down, upper case: up
BUTTON_KEYS = {key: button.event for button in BUTTONS for key in button.keys}
HELP = ("keys: [ ] or arrows = temperature, "
        + ", ".join(f"{c.key}/{c.key.upper()} {c.name.replace('_', ' ')}" for c in CONTROLS if c.key)
        + " (lower = down, upper = up), "
        + ", ".join(f"{'/'.join('space' if k == ' ' else k for k in b.keys)} = {b.name}" for b in BUTTONS)
        + f", {QUIT_KEY} = quit")


def split_keys(data: str) -> list[str]:
    """Split what the terminal sent into keys; an arrow is one 3-character escape sequence."""
    keys, i = [], 0
    while i < len(data):
        size = 3 if data.startswith("\x1b[", i) else 1
        keys.append(data[i : i + size])
        i += size
    return keys


class SimControls:
    """The loop's Controls, simulated. ``table``: the declared controls by name (their curves turn a key's
    knob position into a value). ``keys`` is a file descriptor to read keys from (default: stdin if it is a
    terminal, else none); ``on_quit`` is called for ``q``; ``start``: the state the controls start from
    (default: every control at its default). ``close()`` is idempotent."""

    def __init__(
        self,
        table: Mapping[str, Control],
        keys: int | None = -1,
        on_quit: Callable[[], None] | None = None,
        start: ControlState | None = None,
    ):
        self._table = table
        self._on_quit = on_quit
        self._lock = threading.Lock()
        self._start = (start or ControlState()).without_events()
        self.positions = {name: control.position(getattr(self._start, name)) for name, control in table.items()}
        self._turned: set[str] = set()  # controls whose key was pressed: they follow their position
        self._events: set[str] = set()
        self._fd = _stdin_terminal() if keys == -1 else keys
        self._saved_mode = None
        self._stop = threading.Event()
        self._thread = None
        if self._fd is not None:
            self._start_keyboard()

    @property
    def position(self) -> float:
        """The temperature knob's position 0..1."""
        return self.positions["temperature"]

    @property
    def keyboard(self) -> bool:
        """True if keys are being read."""
        return self._thread is not None

    def _start_keyboard(self) -> None:
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
        """Act on one key, as if a knob was turned or a button pressed (only sets state)."""
        with self._lock:
            if key in UP_KEYS or key in DOWN_KEYS:
                self._turn("temperature", 1 if key in UP_KEYS else -1)
            elif key.lower() in KNOB_KEYS:
                self._turn(KNOB_KEYS[key.lower()], 1 if key.isupper() else -1)
            elif key in BUTTON_KEYS:
                self._events.add(BUTTON_KEYS[key])
        if key == QUIT_KEY and self._on_quit is not None:
            self._on_quit()

    def _turn(self, name: str, direction: int) -> None:
        """Move control ``name`` one key press up (+1) or down (-1), stopping at its ends."""
        count = self._table[name].curve.steps
        position = self.positions[name]
        if count is None:
            position += direction * KNOB_STEP
        else:
            position = (min(count - 1, max(0, int(position * count) + direction)) + 0.5) / count
        self.positions[name] = min(1.0, max(0.0, position))
        self._turned.add(name)

    def read(self) -> ControlState:
        """The knobs' values and the button events since the last read (consumed)."""
        with self._lock:
            values = {name: self._table[name].value(self.positions[name]) for name in self._turned}
            events, self._events = self._events, set()
        return replace(self._start, **values, **{name: True for name in events})

    def beat(self, step: int, playing: bool) -> None:
        """No LED on a desktop: the live view shows the step."""

    def error(self, active: bool) -> None:
        """No LED on a desktop: the live view shows the MIDI connection."""

    def waiting(self, active: bool) -> None:
        """No LED on a desktop: the live view says "waiting for Start"."""

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        if self._saved_mode is not None:
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
