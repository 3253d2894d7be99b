"""The whole box on a desktop: the shipped model, a fake clock, GPIO controls on MockFactory pins
(the knob on a mock MCP3008), and a recording MIDI port. The expected notes are derived
independently: a second Generator on the same model and seed, run offline, translated to
messages by a small reference translator here."""

import dataclasses
import time

import pytest

from device.assembly import Parts, assemble
from device.clock import FakeClock
from device.config import Config
from device.controlstate import ControlState
from device.encoding import NOTE_OFF, is_note_on
from device.generator import Generator
from device.model import StepModel
from device.sampling import Sampler, temperature_from_knob
from tests.mcp3008 import MockMCP3008, mock_pin_factory
from tests.recording import RecordingOutput, assert_no_stuck_notes, note_events, shipped_model_path

SEED = 1234
BUTTON, LED = 17, 27
MIDDLE, HIGH = 512, 1000  # raw MCP3008 readings


def knob_temperature(raw):
    return temperature_from_knob((2 * raw + 1) / 2047, 0.05, 3.0)


class Box:
    """The box assembled as `melodybox run` assembles it, with fake time and mock hardware."""

    def __init__(self, factory, adc):
        self.factory, self.adc = factory, adc
        self.port = RecordingOutput()
        self.reports = []
        self.led = []  # the LED pin after each step
        self.actions = {}  # step -> what the player does with the hardware after that step
        config = Config()
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, path=str(shipped_model_path())),
            controls=dataclasses.replace(config.controls, kind="mcp3008", hold_time=0.2, hysteresis=0.02))
        parts = Parts(clock=FakeClock(), output=self.port, pin_factory=factory)
        self.box = assemble(config, SEED, parts, on_step=self._on_step)
        self.controls, self.loop = self.box.controls, self.box.loop

    def _on_step(self, report):
        self.reports.append(report)
        self.led.append(self.factory.pin(LED).state)
        if report.step in self.actions:
            self.actions[report.step]()

    def run(self, steps):
        self.loop.run(steps)
        self.box.close()

    def press(self):
        self.factory.pin(BUTTON).drive_low()
        self.factory.pin(BUTTON).drive_high()

    def long_press(self):
        self.factory.pin(BUTTON).drive_low()
        holds = self.controls.holds
        deadline = time.monotonic() + 5  # gpiozero's hold thread runs on real time; bounded wait
        while self.controls.holds == holds and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.controls.holds == holds + 1
        self.factory.pin(BUTTON).drive_high()


@pytest.fixture
def factory():
    with mock_pin_factory() as mock:
        yield mock


@pytest.fixture
def box(factory):
    with MockMCP3008(factory) as adc:
        adc.raw[0] = MIDDLE
        yield Box(factory, adc)


def offline_tokens(temperatures, resets_after=(), seed=SEED):
    """What the loop should play: token i+1 is sampled after step i's controls (temperature, reset)."""
    with StepModel(shipped_model_path()) as model:
        generator = Generator(model, Sampler(seed=seed, pitch_range=model.contract.pitch_range))
        tokens = [generator.next_token(ControlState(temperatures[0]))]
        for step in range(1, len(temperatures)):
            if step - 1 in resets_after:
                generator.reset()
            tokens.append(generator.next_token(ControlState(temperatures[step])))
    return tokens


def reference_events(tokens, silences_after=()):
    """Monophonic tokens to (kind, number) events; a silence ends the note and sends All Notes Off (CC 123)."""
    events, sounding = [], None
    for step, token in enumerate(tokens):
        if (is_note_on(token) or token == NOTE_OFF) and sounding is not None:
            events.append(("off", sounding))
            sounding = None
        if is_note_on(token):
            events.append(("on", token))
            sounding = token
        if step in silences_after:
            if sounding is not None:
                events.append(("off", sounding))
                sounding = None
            events.append(("cc", 123))
    return events


def test_seeded_run_plays_exactly_the_offline_melody(box):
    box.run(64)
    tokens = offline_tokens([knob_temperature(MIDDLE)] * 64)
    expected = reference_events(tokens, silences_after={63}) + [("cc", 123)]  # the loop's silence, then close()
    assert note_events(box.port.messages) == expected
    assert [r.token for r in box.reports] == tokens
    assert {(m.channel, m.velocity) for m in box.port.messages if m.type == "note_on"} == {(0, 100)}
    assert_no_stuck_notes(box.port.messages)


def test_led_flashes_on_each_quarter_note_while_playing(box):
    box.run(16)
    assert box.led == [step % 4 == 0 for step in range(16)]


def test_knob_turn_changes_the_temperature(box):
    box.actions[20] = lambda: box.adc.raw.__setitem__(0, HIGH)
    box.run(40)
    temperatures = [r.temperature for r in box.reports]
    assert temperatures == [knob_temperature(MIDDLE)] * 21 + [knob_temperature(HIGH)] * 19
    assert [r.token for r in box.reports] == offline_tokens([knob_temperature(MIDDLE)] * 22 + temperatures[21:-1])


def test_button_press_resets_to_the_primed_state_and_silences(box):
    box.actions[15] = box.press
    box.run(40)
    temperature = knob_temperature(MIDDLE)
    tokens = offline_tokens([temperature] * 40, resets_after={16})
    assert [r.token for r in box.reports] == tokens
    expected = reference_events(tokens, silences_after={16, 39}) + [("cc", 123)]
    assert note_events(box.port.messages) == expected
    assert not any(r.paused for r in box.reports)


def test_long_press_pauses_and_a_second_resumes_without_reset(box):
    box.actions[10] = box.long_press
    box.actions[20] = box.long_press
    box.run(40)
    paused = [r.paused for r in box.reports]
    assert paused == [False] * 11 + [True] * 10 + [False] * 19
    played = [r.token for r in box.reports if r.token is not None]
    assert [r.token for r in box.reports[12:22]] == [None] * 10
    assert played == offline_tokens([knob_temperature(MIDDLE)] * 30)
    assert note_events(box.port.messages) == reference_events(played, silences_after={11, 29}) + [("cc", 123)]
