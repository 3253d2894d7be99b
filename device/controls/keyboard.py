"""Controls for a desktop: the keyboard turns every knob and presses the buttons, plus a live status line.

Keys (in the terminal that runs the box), lower case turns a knob down, upper case up:

    ] [ or arrows  temperature          t T  temperature
    d D  density                        v V  deja-vu           l L  loop length (1, 2, 4, 8 bars)
    k K  scale (chromatic = off, ...)   n N  scale root note   s S  strictness
    o O  register centre                w W  register width
    g G  gate                           a A  accent            h H  humanise
    space or r  reset     p  pause/resume     c  capture the last bars     q  quit

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
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from device.config import TemperatureConfig
from device.controls import knobs
from device.engine.controlstate import ControlState

KNOB_STEP = 0.05  # knob travel (0..1) per key press (a stepped control moves one setting)
UP_KEYS = ("]", "\x1b[A", "\x1b[C", "+")
DOWN_KEYS = ("[", "\x1b[B", "\x1b[D", "-")
RESET_KEYS = (" ", "r")
KNOB_KEYS = {"t": "temperature", "d": "density", "v": "deja_vu", "l": "loop_bars", "k": "scale", "n": "scale_root",
             "s": "strictness", "o": "register_centre", "w": "register_width", "g": "gate", "a": "accent",
             "h": "humanise"}  # lower case: down, upper case: up
HELP = ("keys: [ ] or arrows = temperature, d/D density, v/V deja-vu, l/L loop, k/K scale, n/N root, "
        "s/S strictness, o/O register, w/W width, g/G gate, a/A accent, h/H humanise (lower = down, upper = up), "
        "space/r = reset, p = pause, c = capture, q = quit")


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
    stdin if it is a terminal, else none); ``on_quit`` is called for ``q``; ``start``: the state the
    controls start from (default: temperature.initial, every other control neutral). ``close()`` is idempotent."""

    def __init__(
        self,
        temperature: TemperatureConfig,
        keys: int | None = -1,
        on_quit: Callable[[], None] | None = None,
        start: ControlState | None = None,
    ):
        self._temperature = temperature
        self._on_quit = on_quit
        self._lock = threading.Lock()
        self._start = (start or ControlState(temperature.initial)).without_events()
        self.positions = {name: knobs.position(name, getattr(self._start, name), temperature) for name in knobs.KNOBS}
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
        """Act on one key, as if a knob was turned or a button pressed (only sets state)."""
        with self._lock:
            if key in UP_KEYS or key in DOWN_KEYS:
                self._turn("temperature", 1 if key in UP_KEYS else -1)
            elif key.lower() in KNOB_KEYS:
                self._turn(KNOB_KEYS[key.lower()], 1 if key.isupper() else -1)
            elif key in RESET_KEYS:
                self._events.add("reset")
            elif key == "p":
                self._events.add("pause_toggle")
            elif key == "c":
                self._events.add("capture")
        if key == "q" and self._on_quit is not None:
            self._on_quit()

    def _turn(self, name: str, direction: int) -> None:
        """Move control ``name`` one key press up (+1) or down (-1), stopping at its ends."""
        count = knobs.steps(name)
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
            values = {name: knobs.value(name, self.positions[name], self._temperature) for name in self._turned}
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
    from device.core.encoding import NOTE_OFF, is_note_on

    if token is None:
        return "-"
    if is_note_on(token):
        names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
        return f"{names[token % 12]}{token // 12 - 1}"
    return "off" if token == NOTE_OFF else "·"


LEGEND = ("status: step, note, T temperature, D density %, V deja-vu %/loop bars, scale (off: chromatic),\n"
          "  S strictness %, R register centre/width, G gate %, A accent %, H humanise %,\n"
          "  > playing, || paused, [] stopped, ! MIDI lost, the tempo, then what the box does: playing, paused,\n"
          "  listening or answering (call and response), waiting for Start (a followed clock is stopped),\n"
          "  RESET:why (button, or what the guard heard)")
STATE_TEXT = {"waiting": "waiting for Start"}  # a StepReport's state as the status line says it (else the word)
RESET_SHOWN_STEPS = 8  # a reset stays on the status line this many steps (two beats), long enough to see


def percent(value: float) -> int:
    """A 0..1 control as a whole percentage."""
    return round(value * 100)


def status_line(report) -> str:
    """One StepReport as the status line (symbols: LEGEND), without the reset; it ends with the state."""
    from device.core.scales import scale_text

    c = report.controls
    scale = "off" if c.scale == "chromatic" else scale_text(c.scale_root, c.scale)
    state = "[]" if not report.running else "||" if report.paused else ">"
    if not report.connected:
        state += " !"
    line = (f"{report.step:6d} {note_name(report.token):>4} T{c.temperature:.2f} D{percent(c.density)} "
            f"V{percent(c.deja_vu)}/{c.loop_bars} {scale} S{percent(c.strictness)} "
            f"R{c.register_centre}/{c.register_width} G{percent(c.gate)} A{percent(c.accent)} H{percent(c.humanise)} "
            f"{state}")
    if report.bpm:
        line += f" {report.bpm:.0f}bpm"
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

    def update(self, report) -> None:
        """Show a StepReport."""
        if not self.active:
            return
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
        self.stream.write("\r" + line.ljust(self._width))
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
