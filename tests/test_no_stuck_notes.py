"""No stuck notes, ever: properties over random token streams, resets, pauses, unplugs and reconnects.

The synth is modelled as hearing every port MidiOut used, in order (an unplugged synth
that comes back is reached through the reopened port). Over that stream: at most one
note sounds at any time, nothing sounds while the box is paused, and nothing sounds once
the box is closed.
"""

import dataclasses
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.assembly import Parts, assemble
from device.core import encoding
from device.core.clock import FakeClock
from device.engine.controlstate import ControlState, FixedControls
from device.engine.model import StepModel
from device.midi.midi_out import MidiOut
from device.settings import Config
from tests.recording import RecordingOutput, max_polyphony, shipped_model_path, sounding_notes, unplugged_error


class PortBank:
    """Hands out ports: the first one, then a fresh one per successful reopen while ``available``."""

    def __init__(self, clock, fail_afters):
        self.clock = clock
        self.fail_afters = list(fail_afters)  # fail_after for each port in turn (None: never fails by itself)
        self.available = True
        self.ports: list[RecordingOutput] = []

    def open(self) -> RecordingOutput:
        if not self.available:
            raise unplugged_error()
        fail_after = self.fail_afters[len(self.ports)] if len(self.ports) < len(self.fail_afters) else None
        port = RecordingOutput(f"port {len(self.ports)}", fail_after=fail_after, clock=self.clock)
        self.ports.append(port)
        return port

    def heard(self):
        """Everything the synth heard, port after port."""
        return [message for port in self.ports for message in port.messages]


def close_reconnected(midi_out: MidiOut, bank: PortBank, clock: FakeClock) -> None:
    """Plug the synth back in, give MidiOut its retry time, and close the box."""
    bank.available = True
    if bank.ports and bank.ports[-1].failing:
        bank.fail_afters = []  # the replacement port works
    clock.advance(midi_out.retry_seconds)
    midi_out.close()


def assert_silent_and_monophonic(bank: PortBank) -> None:
    heard = bank.heard()
    assert max_polyphony(heard) <= 1, "two notes sounded at once"
    assert sounding_notes(heard) == set(), f"stuck notes: {sorted(sounding_notes(heard))}"
    assert bank.ports[-1].closed


tokens = st.integers(min_value=0, max_value=encoding.VOCAB_SIZE - 1)
operations = st.one_of(
    st.tuples(st.just("play"), tokens),
    st.tuples(st.just("silence"), st.none()),
    st.tuples(st.just("unplug"), st.none()),
    st.tuples(st.just("replug"), st.none()),
    st.tuples(st.just("wait"), st.floats(min_value=0.0, max_value=2.5)),
)


@settings(max_examples=300)
@given(ops=st.lists(operations, max_size=80), fail_after=st.none() | st.integers(0, 20))
def test_midi_out_never_leaves_a_note_sounding(ops, fail_after):
    clock = FakeClock()
    bank = PortBank(clock, [fail_after])
    midi_out = MidiOut(bank.open(), reopen=bank.open, clock=clock, retry_seconds=1.0)
    for name, value in ops:
        if name == "play":
            midi_out.play(value)
        elif name == "silence":
            midi_out.silence()
        elif name == "unplug":
            bank.available = False
            if midi_out.port is not None:
                midi_out.port.fail()
        elif name == "replug":
            bank.available = True
        else:
            clock.advance(value)
        assert max_polyphony(bank.heard()) <= 1
    close_reconnected(midi_out, bank, clock)
    assert_silent_and_monophonic(bank)


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


class ScriptedControls(FixedControls):
    """FixedControls that may also raise at one step and change the temperature per step."""

    def __init__(self, temperatures, resets_at, pause_toggles_at, raise_at):
        super().__init__(1.0, resets_at, pause_toggles_at)
        self.temperatures = temperatures
        self.raise_at = raise_at

    def read(self) -> ControlState:
        if self.reads == self.raise_at:
            raise OSError("knob unplugged")
        self.state = ControlState(self.temperatures[self.reads % len(self.temperatures)])
        return super().read()


@settings(max_examples=100)
@given(
    steps=st.integers(1, 90),
    seed=st.integers(0, 2**32 - 1),
    temperatures=st.lists(st.sampled_from([0.0, 0.3, 1.0, 3.0]), min_size=1, max_size=4),
    resets_at=st.sets(st.integers(0, 90), max_size=6),
    pause_toggles_at=st.sets(st.integers(0, 90), max_size=6),
    raise_at=st.none() | st.integers(0, 90),
    fail_afters=st.lists(st.none() | st.integers(0, 12), min_size=1, max_size=4),
    stall_at=st.none() | st.integers(0, 90),
)
def test_the_loop_never_leaves_a_note_sounding(
    model, steps, seed, temperatures, resets_at, pause_toggles_at, raise_at, fail_afters, stall_at
):
    clock = FakeClock()
    bank = PortBank(clock, fail_afters)
    controls = ScriptedControls(temperatures, resets_at, pause_toggles_at, raise_at)

    def check_step(report):
        if report.paused and report.connected:
            assert sounding_notes(bank.heard()) == set(), f"a note sounds while paused at step {report.step}"
        if report.step == stall_at:
            clock.advance(0.9)

    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model.path)),
                                 primer=dataclasses.replace(config.primer, tokens=(60,)))
    parts = Parts(clock=clock, output=bank.open(), reopen=bank.open, controls=controls)
    box = assemble(config, seed, parts, on_step=check_step)
    midi_out = box.midi_out
    try:
        box.run(steps)
    except OSError as error:
        assert str(error) == "knob unplugged"
    assert max_polyphony(bank.heard()) <= 1
    close_reconnected(midi_out, bank, clock)
    assert_silent_and_monophonic(bank)


musical_controls = st.builds(
    ControlState,
    temperature=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    scale=st.sampled_from(["chromatic", "major", "blues", "minor_pentatonic"]),
    scale_root=st.integers(0, 11),
    strictness=st.sampled_from([0.0, 0.5, 1.0]),
    deja_vu=st.sampled_from([0.0, 0.5, 1.0]),
    loop_bars=st.sampled_from([1, 2]),
    density=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    register_centre=st.integers(40, 100),
    register_width=st.sampled_from([0, 5, 12, 128]),
    gate=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]),
    accent=st.sampled_from([0.0, 0.5, 1.0]),
    humanise=st.sampled_from([0.0, 1.0]),
    capture=st.booleans(),
)


class MusicalControls(FixedControls):
    """FixedControls whose musical controls (and capture requests) change at every read, from a script."""

    def __init__(self, states, resets_at, pause_toggles_at=()):
        super().__init__(ControlState(), resets_at, pause_toggles_at)
        self.states = states

    def read(self) -> ControlState:
        self.state = self.states[self.reads % len(self.states)]
        return super().read()


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(1, 80), seed=st.integers(0, 2**32 - 1),
       states=st.lists(musical_controls, min_size=1, max_size=12), resets_at=st.sets(st.integers(0, 80), max_size=3),
       pause_toggles_at=st.sets(st.integers(0, 80), max_size=3))
def test_any_control_changing_at_any_step_never_leaves_a_note_sounding(model, steps, seed, states, resets_at,
                                                                        pause_toggles_at):
    """Every control (musical, gate, accent, humanise, capture requests), resets and pauses, at any step."""
    clock = FakeClock()
    bank = PortBank(clock, [None])
    config = Config()
    with tempfile.TemporaryDirectory() as captures:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model.path)),
                                     capture=dataclasses.replace(config.capture, folder=captures, bars=1))
        controls = MusicalControls(states, resets_at, pause_toggles_at)
        parts = Parts(clock=clock, output=bank.open(), reopen=bank.open, controls=controls)
        box = assemble(config, seed, parts)
        box.run(steps)
        assert max_polyphony(bank.heard()) <= 1
        box.close()
    assert_silent_and_monophonic(bank)


@settings(max_examples=100)
@given(script=st.lists(st.tuples(st.integers(0, encoding.VOCAB_SIZE - 1), st.integers(1, 6)), max_size=40))
def test_a_gated_note_off_comes_on_a_later_pulse_never_after_the_next_note_on(script):
    """MidiOut with a gate scheduled after each step (as the loop does): tokens at steps, pulses between."""
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    midi_out = MidiOut(port, clock=clock)
    pulse = 0
    for index, (token, gate) in enumerate(script):
        clock.advance(1.0)  # one second per pulse: a message's time is its pulse
        midi_out.tick(pulse)
        midi_out.play(token)
        next_token = script[index + 1][0] if index + 1 < len(script) else encoding.NOTE_OFF
        if next_token != encoding.NO_EVENT:
            midi_out.end_at(pulse + gate)  # gate 6: together with the next step, as legato
        for offset in range(1, 6):
            clock.advance(1.0)
            midi_out.tick(pulse + offset)
        pulse += 6
        clock.advance(1.0)
    midi_out.close()
    ons = {}
    for time, message in zip(port.times, port.messages, strict=True):
        if message.type == "note_on":
            ons[message.note] = time
        elif message.type == "note_off" and message.note in ons:
            assert time > ons.pop(message.note), "a note-off on its note-on's pulse"
    assert max_polyphony(port.messages) <= 1
    assert sounding_notes(port.messages) == set()
