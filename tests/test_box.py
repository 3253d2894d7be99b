"""The whole box on a desktop: the shipped model, a fake clock, GPIO controls on MockFactory pins
(the knob on a mock MCP3008), and a recording MIDI port. The expected notes are derived
independently: a second Generator on the same model and seed, run offline, translated to
messages by a small reference translator here."""

import dataclasses

import mido
import pytest
from mido.ports import BaseInput

from device.assembly import Parts, assemble
from device.core.clock import FakeClock
from device.core.encoding import NOTE_OFF, is_note_on
from device.engine.controlstate import ControlState
from device.engine.declaration import BY_NAME
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler
from device.settings import Config
from tests.mcp3008 import MockMCP3008, mock_pin_factory
from tests.recording import RecordingOutput, assert_no_stuck_notes, note_events, shipped_model_path

SEED = 1234
BUTTON, LED, CAPTURE = 17, 27, 22
HOLD = 0.2  # seconds the button is held for a long press
MIDDLE, HIGH = 512, 1000  # raw MCP3008 readings


def knob_temperature(raw):
    return BY_NAME["temperature"].value((2 * raw + 1) / 2047)


class Box:
    """The box assembled as `melodybox run` assembles it, with fake time and mock hardware."""

    def __init__(self, factory, adc, hand, captures):
        self.factory, self.adc, self.hand = factory, adc, hand
        self.clock = FakeClock()
        self.port = RecordingOutput(clock=self.clock)
        self.reports = []
        self.led = []  # the LED pin after each step
        self.actions = {}  # step -> what the player does with the hardware after that step
        config = Config()
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, path=str(shipped_model_path())),
            controls=dataclasses.replace(config.controls, kind="mcp3008", hold_time=HOLD, hysteresis=0.02,
                                         capture_pin=CAPTURE),
            capture=dataclasses.replace(config.capture, folder=str(captures), bars=1))
        parts = Parts(clock=self.clock, output=self.port, pin_factory=factory)
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
        """Hold the button for the hold time (on the pin factory's ticks, the player's own clock), then let go."""
        self.factory.pin(BUTTON).drive_low()
        self.hand.advance(HOLD)
        self.factory.pin(BUTTON).drive_high()

    def capture(self):
        self.factory.pin(CAPTURE).drive_low()
        self.factory.pin(CAPTURE).drive_high()


@pytest.fixture
def hand():
    return FakeClock()


@pytest.fixture
def factory(hand):
    with mock_pin_factory() as mock:
        mock.ticks = hand.now
        yield mock


@pytest.fixture
def box(factory, hand, tmp_path):
    with MockMCP3008(factory) as adc:
        adc.raw[0] = MIDDLE
        yield Box(factory, adc, hand, tmp_path)


def offline_tokens(temperatures, resets_after=(), seed=SEED, steps=None, open_on_a_note=True):
    """What the loop should play (a live box: a melody opens on a note; ``open_on_a_note`` False: what
    ``generate`` writes): token i+1 is sampled after step i's controls (temperature, reset).

    ``steps``: the transport step each token is computed for (the model hears the transport's bar); by
    default token i is step i's."""
    steps = list(range(len(temperatures))) if steps is None else list(steps)
    with StepModel(shipped_model_path()) as model:
        sampler = Sampler(seed=seed, pitch_range=model.contract.pitch_range)
        generator = Generator(model, sampler, open_on_a_note=open_on_a_note)
        tokens = [generator.next_token(ControlState(temperatures[0]), steps[0])]
        for step in range(1, len(temperatures)):
            if step - 1 in resets_after:
                generator.reset()
            tokens.append(generator.next_token(ControlState(temperatures[step]), steps[step]))
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
    # the token computed at step 11 for step 12 is held through the pause and played at 22; then one a step
    assert played == offline_tokens([knob_temperature(MIDDLE)] * 30, steps=[*range(13), *range(23, 40)])
    assert note_events(box.port.messages) == reference_events(played, silences_after={11, 29}) + [("cc", 123)]


def test_the_capture_button_writes_the_bar_it_was_pressed_in(box, tmp_path):
    box.actions[20] = box.capture  # in bar 2 (steps 16..31): written at step 32's bar line
    box.run(40)
    [path] = tmp_path.iterdir()
    now, captured = 0, []
    for message in mido.MidiFile(path).tracks[0]:
        now += message.time
        if message.type == "note_on":
            captured.append((now / 120, message.note, message.velocity))  # 120 ticks per 16th
    played = [(round(time / 0.125) - 16, m.note, m.velocity) for time, m in zip(box.port.times, box.port.messages,
                                                                              strict=True)
              if m.type == "note_on" and 16 <= round(time / 0.125) < 32]
    extra = captured[:len(captured) - len(played)]
    assert captured[len(extra):] == played
    assert [start for start, _, _ in extra] in ([], [0.0])  # a note sounding at the bar line starts there
    assert mido.MidiFile(path).length == pytest.approx(16 * 0.125)


class KnobBox(BaseInput):
    """A MIDI controller on the box's input: MidiIn sets ``callback``; the test turns the knobs."""

    def __init__(self):
        super().__init__("nanoKONTROL2")
        self.callback = None

    def _receive(self, block=True):
        return None

    def turn(self, control, value):
        self.callback(mido.Message("control_change", control=control, value=value))


def test_the_box_starts_from_the_configured_music_and_ccs_move_it(factory, hand, tmp_path):
    config = Config()
    music = dataclasses.replace(config.music, scale="dorian", scale_root=4, density=0.3, gate=0.5, accent=1.0)
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, path=str(shipped_model_path())), music=music,
        controls=dataclasses.replace(config.controls, kind="none"))
    knobs, reports = KnobBox(), []
    actions = {3: lambda: (knobs.turn(22, 127), knobs.turn(17, 0)), 5: lambda: knobs.turn(32, 127)}

    def on_step(report):
        reports.append(report)
        if report.step in actions:
            actions[report.step]()

    parts = Parts(clock=FakeClock(), output=RecordingOutput(), input=knobs, sim=True, keys=None)
    with assemble(config, SEED, parts, on_step=on_step) as box:
        box.run(8)
    first = reports[0].controls
    assert (first.scale, first.scale_root, first.density, first.gate, first.accent) == ("dorian", 4, 0.3, 0.5, 1.0)
    assert [(r.controls.gate, r.controls.density) for r in reports[3:5]] == [(0.5, 0.3), (1.0, 0.0)]
    assert [r.reset for r in reports] == ["", "", "", "", "", "", "button", ""]
