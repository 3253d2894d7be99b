"""The real-time loop: steps on the transport, one token per 16th step, computed one step ahead.

On each step's tick: play the token computed for it -> read the controls once ->
handle reset / pause -> LED beat -> compute the next token. So inference happens
right after a note goes out and never delays the next one. The very first step
reads the controls before computing its token, so the first note follows the knob
too (one inference before the first note, once).

A step plays on its onset: the step's first pulse, or later where the articulation says
(``engine.dynamics.onset``), always on the transport's own pulses, so a followed clock stays the grid;
a transport that skipped the onset pulse plays the step on its next tick, never later.

With a harmony source (device/harmony/: a progression, or the chords heard on the input), each token is
chosen under the Harmony of the step it plays on; just before it plays, the source is asked again, and a
chord heard since makes the generator choose that token again (``Generator.revise``, no inference before
the note). Hearers (the harmony source, the input recorder) hear every tick.

The ticks between steps are where MIDI clock goes out in lead mode and, in call-and-response
mode (device/play/answer.py), where the input is heard; the answer says which steps play.
When the transport stops, the loop silences the synth and, on the ticks the transport delivers
while stopped (about once a step, from before the first Start on), still reads the controls, lets
them show the wait (``Controls.waiting``: the LED flashes) and reports, so the status line says
"waiting for Start".
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from device.core import encoding
from device.core.timegrid import PULSES_PER_STEP
from device.engine.controlstate import Controls, ControlState
from device.engine.dynamics import Dynamics, gate_pulses, onset
from device.engine.generator import Generator
from device.engine.guard import CollapseGuard
from device.midi.midi_out import MidiOut
from device.play.answer import Answer
from device.transport.base import Tick, Transport
from device.transport.lead import ClockOut


@dataclass(frozen=True)
class StepReport:
    """What happened at one step, or at a tick of a stopped transport (``running`` False, ``step`` the
    position it holds). ``token`` is what was played (None while paused, listening or stopped);
    ``controls`` the state read at this step; ``lateness`` in seconds after the step's deadline;
    ``connected``: the MIDI port is up; ``running``: the transport plays; ``reset``: why the
    generator went back to its primed state at this step ("" if it did not: "button", or the
    collapse guard's reason); ``answering``: call and response only, True on the answer's steps and
    False while the box listens (None in solo). ``state`` says it all in one word."""

    step: int
    token: int | None
    controls: ControlState
    lateness: float
    paused: bool
    connected: bool
    running: bool = True
    reset: str = ""
    bpm: float = 0.0  # the transport's tempo: set (internal, lead) or estimated from MIDI clock (follow)
    answering: bool | None = None
    chord: str = ""  # the chord at this step, with chords (a progression, or heard on the input); "" none

    @property
    def state(self) -> str:
        """What the box is doing, in one word (the status line shows it): "waiting" (the transport is
        stopped: a followed clock waits for Start or Continue), "paused" (the button), "listening" or
        "answering" (call and response), else "playing"."""
        if not self.running:
            return "waiting"
        if self.paused:
            return "paused"
        if self.answering is None:
            return "playing"
        return "answering" if self.answering else "listening"

    @property
    def temperature(self) -> float:
        return self.controls.temperature


class Loop:
    """Wires generator, MIDI out, controls and transport. ``run()`` blocks; ``stop()`` is thread-safe."""

    def __init__(
        self,
        generator: Generator,
        midi_out: MidiOut,
        controls: Controls,
        transport: Transport,
        on_step: Callable[[StepReport], None] | None = None,
        clock_out: ClockOut | None = None,
        guard: CollapseGuard | None = None,
        on_tick: Callable[[Tick], None] | None = None,
        answer: Answer | None = None,
        dynamics: Dynamics | None = None,
        capture=None,
        harmony=None,
        hearers: Sequence = (),
    ):
        """``guard`` resets a degenerate melody; ``on_tick`` is called on the loop's thread for every tick
        (the systemd watchdog: a hung loop stops calling it)."""
        self.generator = generator
        self.clock_out = clock_out  # lead: MIDI clock out, a pulse on every tick before the step's note
        self.midi_out = midi_out
        self.controls = controls
        self.transport = transport
        self.on_step = on_step
        self.guard = guard
        self.on_tick = on_tick
        self.answer = answer  # call and response: it hears the input and says which steps play
        self.dynamics = dynamics or Dynamics(midi_out.velocity)  # velocities (accent, humanise); gate in _gate
        self.capture = capture  # device.play.capture.Capture: the last bars to a MIDI file, on request
        self.harmony = harmony  # a harmony source (device/harmony/): at(step) -> the step's Harmony; None: no chords
        self.hearers = tuple(hearers)  # anything with hear(tick), called on every tick (the harmony source, takes)
        self.paused = False
        self.running = False  # the transport's state at the last tick
        self.steps_done = 0  # steps the transport ran through (played or paused)
        self.state: ControlState | None = None  # the controls at the last step
        self._pending: int | None = None  # the token for the next step, computed one step ahead
        self._stop = threading.Event()
        self._error_shown = False
        self._reset_reason = ""  # why the generator was reset at the current step
        self._waiting = False  # the transport was stopped at the last tick: the controls show the wait
        self._last_pulse: int | None = None  # the pulse of the last running tick (None: stopped, or not begun)
        self._swaps: deque = deque()  # (generator, taken) handed over by another thread, one taken per step
        self._played_step: int | None = None  # the step last played while the transport runs (each plays once)

    def stop(self) -> None:
        """Ask run() to end after the current tick (safe from signal handlers and other threads)."""
        self._stop.set()

    def swap_generator(self, generator: Generator, taken: Callable[[Generator], None] | None = None) -> None:
        """Play ``generator`` from the next step on (thread-safe; never waits, e.g. another model loaded and primed
        elsewhere). At that step the sounding note ends and the new generator opens as after a reset (its first
        note on that step), the old generator's pending token is dropped, the report says reset "model", and
        ``taken(old generator)`` is called on the loop's thread."""
        self._swaps.append((generator, taken))

    def _swap(self) -> None:
        generator, taken = self._swaps.popleft()
        old, self.generator = self.generator, generator
        self._reset("model")
        if taken is not None:
            taken(old)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, steps: int | None = None) -> int:
        """Play until ``steps`` steps are done (None: until stop()). Returns the steps done.

        Always leaves the synth silent, whatever ends the run.
        """
        try:
            while (steps is None or self.steps_done < steps) and not self._stop.is_set():
                self.tick(self.transport.next_tick())
        finally:
            if self.clock_out is not None:
                self.clock_out.stop()
            self.midi_out.silence()
        return self.steps_done

    def tick(self, tick: Tick) -> None:
        """Act on one tick of the transport."""
        if self.on_tick is not None:
            self.on_tick(tick)
        if self.running and not tick.running:
            self.midi_out.silence()  # the transport stopped: nothing may go on sounding
        if tick.running and not self.running and tick.pulse == 0 and self.steps_done:
            self._open_again()
        self.running = tick.running
        self.midi_out.tick(tick.pulse)  # a gated note ends on its pulse
        if self.capture is not None:
            self.capture.tick(tick.pulse)
        if self.clock_out is not None:
            self.clock_out.tick(tick, self.paused)  # the pulse first: every 6th one is this step's note
        if self.answer is not None:
            self.answer.hear(tick)
        for hearer in self.hearers:
            hearer.hear(tick)
        if self._due(tick):
            self._played_step = tick.step
            self._step(tick)
            self.steps_done += 1
        elif not tick.running:
            self._played_step = None
            self._wait(tick)
        self._last_pulse = tick.pulse if tick.running else None

    def _due(self, tick: Tick) -> bool:
        """Whether this tick is its step's onset, or the first tick after an onset the transport skipped."""
        if not tick.running or tick.step == self._played_step:  # swing turned up after the step played: not again
            return False
        due = onset(tick.step, self.state or ControlState())
        skipped = self._last_pulse is not None and self._last_pulse < due < tick.pulse
        return tick.pulse == due or (skipped and due > tick.step * PULSES_PER_STEP)

    def _step(self, tick: Tick) -> None:
        """One step: play the pending token now (unless paused), read the controls, then compute the next token.

        While paused, time goes on but the generator waits: the held token plays on resume.
        """
        if self._swaps:  # another generator was handed over: it starts here, after silence
            self._swap()
        answering = None if self.answer is None else self.answer.plays(tick.step)
        if answering is False:
            self._listen()
        opening = self.steps_done == 0 or (self._pending is None and self.generator.opening)
        if opening and self.answer is None:  # the first step: controls first, so the first note follows
            state = self._read_controls()
            self._pending = self._next_token(state, tick.step)
            played = self._play_pending(tick.step)
        else:
            self._revise(tick.step)
            played = self._play_pending(tick.step)
            state = self._read_controls()
        if self.guard is not None and played is not None:
            reason = self.guard.observe(played, tick.due, state.deja_vu)
            if reason is not None:
                self._reset(reason)
        self._show_error(not self.midi_out.connected)
        if self._waiting:
            self._waiting = False
            self.controls.waiting(False)
        self.controls.beat(tick.step, not self.paused)
        self._report(tick, played, state, answering)
        due = self.answer is None or self.answer.ready(tick.step, self.generator)
        if self._pending is None and due:
            self._pending = self._next_token(state, tick.step + 1)
        self._gate(tick, state)

    def _next_token(self, state: ControlState, step: int) -> int:
        """The token for ``step``, chosen under the harmony of that step if there are chords."""
        if self.harmony is None:
            return self.generator.next_token(state, step)
        return self.generator.next_token(state, step, self.harmony.at(step))

    def _revise(self, step: int) -> None:
        """The pending token chosen again if the chord for ``step`` changed since it was chosen (heard just now)."""
        if self.harmony is not None and self._pending is not None and not self.paused:
            revised = self.generator.revise(self.harmony.at(step))
            if revised is not None:
                self._pending = revised

    def _wait(self, tick: Tick) -> None:
        """A tick of the stopped transport (a followed clock before Start or after Stop: about once a step):
        the controls still answer and show the wait, and the report says so."""
        state = self._read_controls()
        self._waiting = True
        self.controls.waiting(True)
        self._report(tick, None, state)

    def _report(self, tick: Tick, played: int | None, state: ControlState, answering: bool | None = None) -> None:
        if self.on_step is not None:
            chord = None if self.harmony is None else self.harmony.at(tick.step).chord
            self.on_step(StepReport(tick.step, played, state, tick.lateness, self.paused, self.midi_out.connected,
                                    self.running, self._reset_reason, self.transport.bpm, answering,
                                    "" if chord is None else chord.name))
        self._reset_reason = ""

    def _gate(self, tick: Tick, state: ControlState) -> None:
        """If the next step's token ends the sounding note, end it earlier within this step by the gate."""
        length = onset(tick.step + 1, state) - tick.pulse  # pulses until the next step's onset
        pulses = gate_pulses(state.gate, length)
        if pulses < length and self._pending not in (None, encoding.NO_EVENT):
            self.midi_out.end_at(tick.pulse + pulses)

    def _open_again(self) -> None:
        """A Start after a Stop: the melody goes on, and its first beat has a note (the generator's opening) where
        the token computed before the Stop was a rest. The model heard that rest, as the listener heard the Stop."""
        if self._pending is not None and not encoding.is_note_on(self._pending) and self.answer is None:
            self._pending = None
            self.generator.opening = self.generator.open_on_a_note

    def _listen(self) -> None:
        """Call and response, not an answer step: no token is due, and the box's note ends."""
        self._pending = None
        if self.midi_out.sounding is not None:
            self.midi_out.play(encoding.NOTE_OFF)

    def _play_pending(self, step: int) -> int | None:
        """Play the pending token at transport step ``step`` unless paused; return what was played."""
        if self.paused or self._pending is None:
            return None
        played, self._pending = self._pending, None
        state = self.state or ControlState()
        velocity = self.dynamics.velocity(step, state) if encoding.is_note_on(played) else None
        self.midi_out.play(played, velocity)
        return played

    def _read_controls(self) -> ControlState:
        """Read the controls once and act on their events: pause/resume, reset (drops the pending token)."""
        state = self.controls.read()
        self.state = state
        if state.pause_toggle:
            self.paused = not self.paused
            if self.paused:
                self.midi_out.silence()
        if state.reset:
            self._reset("button")
        if state.capture and self.capture is not None:
            self.capture.request()
        return state

    def _reset(self, reason: str) -> None:
        """Back to the primed state: silence, drop the pending token, start the guard's watch anew."""
        self.generator.reset()
        self.midi_out.silence()
        self._pending = None
        self._reset_reason = reason
        if self.answer is not None:
            self.answer.forget()
        if self.guard is not None:
            self.guard.restart()

    def _show_error(self, active: bool) -> None:
        if active != self._error_shown:
            self._error_shown = active
            self.controls.error(active)
