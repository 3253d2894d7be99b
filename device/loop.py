"""The real-time loop: one token per 16th step, computed one step ahead.

Each step i: wait for deadline i -> play token i -> read the controls once ->
handle reset / pause -> LED beat -> compute token i+1. So inference happens
right after a note goes out and never delays the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from device.clock import StepSchedule
from device.generator import Generator
from device.midi_out import MidiOut


@dataclass(frozen=True)
class ControlState:
    """What the controls say at one step: temperature (> 0 samples, 0 greedy), and button events
    since the last read (each consumed by that read)."""

    temperature: float
    reset: bool = False
    pause_toggle: bool = False


class Controls(Protocol):
    def read(self) -> ControlState:
        """Called exactly once per step by the loop; consumes the button flags."""
        ...

    def beat(self, step: int, playing: bool) -> None:
        """LED feedback for step ``step`` (16th steps since the loop started)."""
        ...

    def error(self, active: bool) -> None:
        """Show (True) or clear (False) an error, e.g. the MIDI port is lost."""
        ...

    def close(self) -> None: ...


class FixedControls:
    """Controls for tests and headless runs: a constant temperature and scripted button events.

    ``resets_at`` / ``pause_toggles_at``: the loop steps whose read() reports that event.
    Records ``reads`` (count), ``beats`` [(step, playing)] and ``errors`` [active, ...] (changes only).
    """

    def __init__(
        self, temperature: float = 1.0, resets_at: Collection[int] = (), pause_toggles_at: Collection[int] = ()
    ):
        self.temperature = temperature
        self.resets_at = frozenset(resets_at)
        self.pause_toggles_at = frozenset(pause_toggles_at)
        self.reads = 0
        self.beats: list[tuple[int, bool]] = []
        self.errors: list[bool] = []
        self.closed = False

    def read(self) -> ControlState:
        step = self.reads
        self.reads += 1
        return ControlState(self.temperature, step in self.resets_at, step in self.pause_toggles_at)

    def beat(self, step: int, playing: bool) -> None:
        self.beats.append((step, playing))

    def error(self, active: bool) -> None:
        if not self.errors or self.errors[-1] != active:
            self.errors.append(active)

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class StepReport:
    """What happened at one step. ``token`` is what was played (None while paused);
    ``lateness`` in seconds after the deadline; ``connected``: the MIDI port is up."""

    step: int
    token: int | None
    temperature: float
    lateness: float
    paused: bool
    connected: bool


class Loop:
    """Wires generator, MIDI out, controls and schedule. ``run()`` blocks; ``stop()`` is thread-safe."""

    def __init__(
        self,
        generator: Generator,
        midi_out: MidiOut,
        controls: Controls,
        schedule: StepSchedule,
        on_step: Callable[[StepReport], None] | None = None,
        temperature: float = 1.0,
    ):
        """``temperature`` is used for the very first token, before the controls were read."""
        self.generator = generator
        self.midi_out = midi_out
        self.controls = controls
        self.schedule = schedule
        self.on_step = on_step
        self.temperature = temperature
        self.paused = False
        self.steps_done = 0
        self._stop = threading.Event()
        self._error_shown = False

    def stop(self) -> None:
        """Ask run() to end after the current step (safe from signal handlers and other threads)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, steps: int | None = None) -> int:
        """Play ``steps`` steps (None: until stop()). Returns the steps done. Always leaves the synth silent."""
        pending: int | None = self.generator.next_token(self.temperature)
        step = 0
        try:
            while (steps is None or step < steps) and not self._stop.is_set():
                pending = self._step(step, pending)
                step += 1
                self.steps_done = step
        finally:
            self.midi_out.silence()
        return step

    def _step(self, step: int, pending: int) -> int:
        """One step: play ``pending`` now (unless paused), then return the token for the next playing step.

        While paused, time goes on but the generator waits: the held token plays on resume.
        """
        lateness = self.schedule.wait(step)
        played = None
        if not self.paused:
            self.midi_out.play(pending)
            played, pending = pending, None
        state = self.controls.read()
        self.temperature = state.temperature
        if state.pause_toggle:
            self.paused = not self.paused
            if self.paused:
                self.midi_out.silence()
        if state.reset:
            self.generator.reset()
            self.midi_out.silence()
            pending = None
        self._show_error(not self.midi_out.connected)
        self.controls.beat(step, not self.paused)
        if self.on_step is not None:
            connected = self.midi_out.connected
            self.on_step(StepReport(step, played, self.temperature, lateness, self.paused, connected))
        if pending is None:
            pending = self.generator.next_token(self.temperature)
        return pending

    def _show_error(self, active: bool) -> None:
        if active != self._error_shown:
            self._error_shown = active
            self.controls.error(active)
