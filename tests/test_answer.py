"""Call and response (device/play/answer.py) in the assembled box: a fake clock, a scripted player on a fake input
port, FixedControls and a recording output, so every time is exact.

The player's messages arrive at exact clock times while the transport sleeps; the box stamps them through
its real MidiIn. The expected answer is computed independently: a fresh Generator with the same seed, reset,
hearing the call's bars (read by the shared reader from the same notes) and then sampling.
"""

import dataclasses
import math

import mido
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from mido.ports import BaseInput

from device.assembly import Parts, assemble
from device.config import ConfigError, from_dict
from device.core import encoding
from device.core.midireader import LiveReader
from device.engine.controlstate import ControlState, FixedControls
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler
from device.midi.midi_in import InputEvent
from device.settings import ClockConfig, Config, PlayConfig
from device.transport.follow import FollowTransport
from tests.recording import PlayerClock, RecordingOutput, max_polyphony, shipped_model_path, sounding_notes

STEP = 60 / 120 / 4  # seconds per 16th step at 120 bpm
PULSE = STEP / 6
BAR = 16
SEED = 11
ANSWER = PlayConfig(mode="answer")


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


class PlayerPort(BaseInput):
    """The player's keyboard: MidiIn sets ``callback``; PlayerClock calls it."""

    def _open(self, **kwargs):
        self.callback = None


def notes(*spec, channel=0):
    """(time, message) for notes given as (pitch, on, off) in steps on the box's grid (floats allowed)."""
    out = []
    for pitch, on, off in spec:
        out.append((on * STEP, mido.Message("note_on", note=pitch, velocity=90, channel=channel)))
        out.append((off * STEP, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    return out


CALL = notes((60, 0, 2), (64, 4, 6), (67, 8, 10), (72, 12, 14))  # one bar; the last note ends on step 14


class AnswerBox:
    """The box as `melodybox run --mode answer` assembles it, with a scripted player."""

    def __init__(self, schedule, play=ANSWER, clock_mode="internal", transport=None,
                 clock=None):
        self.clock = clock or PlayerClock(schedule)
        self.input = PlayerPort("player")
        self.clock.port = self.input
        self.port = RecordingOutput(clock=self.clock)
        self.reports = []
        self.sounding_at_listening_steps = []
        config = Config()
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(shipped_model_path())),
                                     play=play, clock=ClockConfig(mode=clock_mode))
        parts = Parts(clock=self.clock, output=self.port, controls=FixedControls(1.0), input=self.input,
                      transport=transport)
        self.box = assemble(config, SEED, parts, on_step=self._report)

    def _report(self, report):
        self.reports.append(report)
        if report.token is None:
            self.sounding_at_listening_steps.append(self.box.midi_out.sounding)

    def run(self, steps):
        with self.box:
            self.box.run(steps)
        return self

    @property
    def answer_steps(self):
        return [r.step for r in self.reports if r.token is not None]

    @property
    def answer_tokens(self):
        return [r.token for r in self.reports if r.token is not None]

    def messages_until(self, time):
        return [m for m, t in zip(self.port.messages, self.port.times, strict=True) if t <= time]


def call_tokens(schedule, start, end):
    """The call's tokens for steps start..end-1, read by the shared reader from the scheduled notes."""
    reader = LiveReader()
    for time, message in sorted(schedule, key=lambda item: item[0]):
        reader.feed(time / STEP, message)
    return reader.tokens(start, end)


def reference_answer(model, tokens, steps):
    """What the box must play: a fresh generator, same seed, reset, hearing ``tokens`` from a bar line."""
    generator = Generator(model, Sampler(seed=SEED, pitch_range=model.contract.pitch_range))
    generator.reset()
    generator.prime(tokens, bar_step=0)
    return [generator.next_token(ControlState(1.0)) for _ in range(steps)]


def test_the_box_is_silent_while_the_player_plays_and_answers_on_the_next_bar_line():
    box = AnswerBox(CALL).run(64)
    assert box.answer_steps == list(range(32, 48))  # call ends at 14 + one bar = 30; the next bar line is 32
    assert box.messages_until(32 * STEP - PULSE) == []


def test_the_reports_say_listening_then_answering_then_listening_again():
    box = AnswerBox(CALL).run(64)
    assert [r.state for r in box.reports] == ["listening"] * 32 + ["answering"] * 16 + ["listening"] * 16


def test_the_answer_is_the_model_primed_with_the_call_from_its_reset_state(model):
    box = AnswerBox(CALL).run(64)
    assert box.answer_tokens == reference_answer(model, call_tokens(CALL, 0, 16), 16)


def test_the_model_hears_the_call_as_it_is_played_not_all_at_once_before_the_answer():
    box = AnswerBox(CALL)
    generator, heard = box.box.generator, []
    prime = generator.prime

    def spy(tokens, bar_step=None):
        heard.append((box.reports[-1].step, len(tokens)))
        prime(tokens, bar_step)

    generator.prime = spy
    box.run(48)
    # (step, tokens heard): each note's steps once it has ended, the rests as they pass, up to the bar line;
    # nothing at step 31, where the answer's first token is sampled
    assert heard == [(2, 2), (3, 1), (6, 3), (7, 1), (10, 3), (11, 1), (14, 3), (15, 1), (16, 1)]


def test_after_the_answer_the_box_listens_again_with_nothing_sounding():
    box = AnswerBox(CALL).run(64)
    assert box.sounding_at_listening_steps == [None] * 48
    assert sounding_notes(box.messages_until(48 * STEP)) == set()


def test_a_call_ending_mid_bar_is_answered_on_the_following_bar_line():
    box = AnswerBox(notes((60, 0, 4), (62, 6, 21))).run(80)  # ends on 21: silence until 37, bar line 48
    assert box.answer_steps == list(range(48, 80))  # 21 steps of call: two bars


@pytest.mark.parametrize(("first", "end", "bars"), [(0, 16, 1), (0, 17, 2), (4, 36, 2), (5, 6, 1), (3, 52, 4)])
def test_the_answer_lasts_the_call_rounded_up_to_whole_bars(first, end, bars):
    box = AnswerBox(notes((60, first, end))).run(144)
    start = math.ceil((end + BAR) / BAR) * BAR
    assert box.answer_steps == list(range(start, start + bars * BAR))


def test_a_call_reaching_max_call_bars_ends_there_and_gets_that_many_bars():
    held = notes((60, 0, 45))  # a key held for almost three bars; the call is cut at two
    box = AnswerBox(held, PlayConfig(mode="answer", max_call_bars=2)).run(80)
    assert box.answer_steps == list(range(32, 64))


def test_the_held_note_cut_at_max_call_bars_ends_there_for_the_model(model):
    held = notes((60, 4, 45))  # cut at 4 + 32 = 36: heard as bars 0..2 with a NOTE_OFF on 36
    box = AnswerBox(held, PlayConfig(mode="answer", max_call_bars=2)).run(80)
    heard = call_tokens(notes((60, 4, 36)), 0, 48)
    assert box.answer_steps == list(range(48, 80))
    assert box.answer_tokens == reference_answer(model, heard, 32)


def test_call_end_bars_is_the_silence_that_ends_the_call():
    box = AnswerBox(CALL, PlayConfig(mode="answer", call_end_bars=2)).run(80)
    assert box.answer_steps == list(range(48, 64))  # 14 + 32 = 46: bar line 48


def test_a_call_ending_exactly_on_a_bar_line_is_answered_there():
    box = AnswerBox(notes((60, 0, 16))).run(64)  # silence 16..31: the call ends on 32
    assert box.answer_steps == list(range(32, 48))


def test_a_note_in_the_last_step_before_the_answer_continues_the_call():
    late = notes((60, 0, 16), (62, 31.2, 33))  # 31.2 is on step 31: one bar of silence was not complete
    box = AnswerBox(late).run(112)
    assert box.answer_steps == list(range(64, 112))  # the call is 0..33: three bars, from the bar line 64


def test_a_call_that_went_on_past_its_bar_line_is_answered_on_the_next_one():
    held = notes((48, 0, 1), (48, 15.25, 16.25))  # heard after step 15: the bar line 16 is gone by then
    box = AnswerBox(held, PlayConfig(mode="answer", max_call_bars=1)).run(48)
    assert box.answer_steps == list(range(32, 48))


def test_a_new_call_during_the_answer_cuts_it_at_the_next_step_with_nothing_sounding():
    schedule = CALL + notes((65, 36.5, 39))  # arrives between steps 36 and 37
    box = AnswerBox(schedule).run(96)
    assert box.answer_steps[:5] == [32, 33, 34, 35, 36]
    assert box.answer_steps[5:] == list(range(64, 80))  # the new call ends on 39 (+16 = 55): bar line 64
    assert sounding_notes(box.messages_until(37 * STEP)) == set()
    assert box.box.loop.answer.cuts == 1


def test_a_new_call_before_the_answer_starts_cancels_it():
    schedule = CALL + notes((65, 31.7, 33))  # on step 32, after one bar of silence: a new call
    box = AnswerBox(schedule).run(96)
    assert box.answer_steps == list(range(64, 80))
    assert box.port.messages[:0] == [] and box.messages_until(64 * STEP - PULSE) == []


def test_thru_echoes_the_players_notes_on_the_box_channel_at_the_next_pulse():
    call = notes((60, 0.3, 2), channel=4)
    box = AnswerBox(call, PlayConfig(mode="answer", thru=True)).run(4)
    sent = zip(box.port.messages, box.port.times, strict=True)
    echoed = [(m.type, m.note, m.channel, round(t / PULSE, 6)) for m, t in sent if m.type != "control_change"]
    assert echoed == [("note_on", 60, 0, 2), ("note_off", 60, 0, 12)]  # 0.3 steps = 1.8 pulses; 2 steps = 12


def test_thru_is_for_answer_mode_only():
    with pytest.raises(ConfigError, match="box.toml: play.thru = True: echoes the player in answer mode only"):
        from_dict({"play": {"thru": True}}, source="box.toml")


@pytest.mark.parametrize(("section", "message"), [
    ({"mode": "duet"}, "play.mode = 'duet': must be one of 'solo', 'answer'"),
    ({"call_end_bars": 0}, "play.call_end_bars = 0: must be 1..16 bars"),
    ({"max_call_bars": 33}, "play.max_call_bars = 33: must be 1..32 bars"),
    ({"mode": "answer", "thru": 1}, "play.thru = 1: must be true or false"),
])
def test_bad_play_settings_name_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        from_dict({"play": section}, source="box.toml")


def test_the_play_section_reads_from_toml():
    config = from_dict({"play": {"mode": "answer", "call_end_bars": 2, "max_call_bars": 4, "thru": True}})
    assert config.play == PlayConfig(mode="answer", call_end_bars=2, max_call_bars=4, thru=True)


def test_the_run_flags_set_the_mode_and_thru():
    from device.cli import build_parser, config_from_args

    args = build_parser().parse_args(["run", "--mode", "answer", "--thru"])
    assert config_from_args(args).play == PlayConfig(mode="answer", thru=True)


def test_solo_mode_has_no_answer_and_plays_from_the_first_step():
    box = AnswerBox(CALL, PlayConfig()).run(8)
    assert box.box.loop.answer is None and box.answer_steps == list(range(8))


def test_with_lead_clock_the_answer_is_on_the_bar_line_and_pulses_go_on(model):
    box = AnswerBox(CALL, clock_mode="lead").run(64)
    assert box.answer_steps == list(range(32, 48))
    assert box.answer_tokens == reference_answer(model, call_tokens(CALL, 0, 16), 16)
    pulses = [round(t / PULSE, 6) for m, t in zip(box.port.messages, box.port.times, strict=True) if m.type == "clock"]
    assert pulses == list(range(63 * 6 + 1))  # every pulse, to the last step's


class ScriptedClockSource:
    """MIDI clock at given times, as MidiIn.wait_clock delivers it with a fake clock (the player plays meanwhile)."""

    def __init__(self, clock, events):
        self.clock, self.events = clock, sorted(events, key=lambda item: item[0])

    def wait_clock(self, deadline):
        if self.events and self.events[0][0] <= deadline:
            time, message = self.events.pop(0)
            self.clock.sleep_until(time)
            return InputEvent(time, message)
        self.clock.sleep_until(deadline)
        return None


def test_following_midi_clock_the_answer_is_on_the_drum_machines_bar_line(model):
    start = 0.3  # the drum machine's Start; step 0 is its first pulse after it
    offset = start + PULSE
    call = [(offset + time, message) for time, message in CALL]
    clock = PlayerClock(call)
    drum = [(start, mido.Message("start"))] + [(offset + i * PULSE, mido.Message("clock")) for i in range(6 * 70)]
    transport = FollowTransport(ScriptedClockSource(clock, drum), clock, dejitter=False)
    box = AnswerBox(call, clock_mode="follow", transport=transport, clock=clock).run(64)
    assert box.answer_steps == list(range(32, 48))
    assert box.answer_tokens == reference_answer(model, call_tokens(CALL, 0, 16), 16)


def test_stop_silences_the_answer_and_forgets_it_and_start_listens_anew():
    start = 0.3
    offset = start + PULSE
    call = [(offset + time, message) for time, message in CALL]
    clock = PlayerClock(call)
    stop = offset + 36 * STEP - PULSE / 2  # just before step 36
    restart = stop + 1.0
    drum = ([(start, mido.Message("start"))] + [(offset + i * PULSE, mido.Message("clock")) for i in range(36 * 6)]
            + [(stop, mido.Message("stop")), (restart, mido.Message("start"))]
            + [(restart + PULSE + i * PULSE, mido.Message("clock")) for i in range(6 * 40)])
    transport = FollowTransport(ScriptedClockSource(clock, drum), clock, dejitter=False)
    box = AnswerBox(call, clock_mode="follow", transport=transport, clock=clock).run(74)
    assert [r.step for r in box.reports if r.running] == list(range(36)) + list(range(38))  # on after the Start
    # while stopped, a report a step apart: before the first Start (0.125, 0.25), the Stop and 7 ticks after it
    assert [(r.step, r.state) for r in box.reports if not r.running] == [(0, "waiting")] * 2 + [(36, "waiting")] * 8
    assert box.answer_steps == [32, 33, 34, 35]  # stopped mid-answer; after the new Start no call was heard
    assert sounding_notes(box.messages_until(stop)) == set()


def test_reset_forgets_the_call_and_the_answer():
    box = AnswerBox(CALL)
    box.box.controls.resets_at = frozenset({35})  # read at step 35, after its token: the answer ends there
    box.run(64)
    assert box.answer_steps == [32, 33, 34, 35]
    assert sounding_notes(box.messages_until(35 * STEP)) == set()


player_notes = st.lists(st.tuples(st.integers(48, 84), st.floats(0, 100), st.floats(0.2, 20)), max_size=12)


@hsettings(max_examples=20)
@given(player_notes, st.booleans(), st.integers(1, 2), st.integers(1, 4))
def test_any_call_stream_answers_on_bar_lines_never_stacks_notes_and_leaves_nothing_stuck(spec, thru, end_bars,
                                                                                            max_bars):
    schedule = notes(*[(pitch, on, on + length) for pitch, on, length in spec], channel=3)
    play = PlayConfig(mode="answer", call_end_bars=end_bars, max_call_bars=max_bars, thru=thru)
    box = AnswerBox(schedule, play).run(120 + (end_bars + 1 + max_bars) * BAR)
    onsets = sorted(time for time, message in schedule if message.type == "note_on")
    steps = box.answer_steps
    runs = [[s] for s in steps[:1]]
    for previous, step in zip(steps, steps[1:], strict=False):
        runs[-1:] = [runs[-1] + [step]] if step == previous + 1 else [runs[-1], [step]]
    for run in runs:
        assert run[0] % BAR == 0, run
        length, after = len(run), run[-1] + 1
        assert length <= max_bars * BAR
        cut = any(math.ceil(time / PULSE - 1e-9) <= 6 * after and time > run[0] * STEP - STEP for time in onsets)
        assert length % BAR == 0 or cut, (run, onsets)
    assert set(box.sounding_at_listening_steps) <= {None}
    final = len(box.port.messages) - 1  # the last message is the All Notes Off of the box's exit
    assert box.port.messages[final].type == "control_change"
    assert sounding_notes(box.port.messages[:final]) == set()
    if not thru:
        assert max_polyphony(box.port.messages) <= 1


def test_the_box_never_answers_what_it_did_not_hear():
    box = AnswerBox([]).run(64)
    assert box.answer_steps == [] and [m for m in box.port.messages if m.type != "control_change"] == []


def test_an_unplayed_note_off_is_no_call():
    box = AnswerBox([(0.3, mido.Message("note_off", note=60))]).run(48)
    assert box.answer_steps == []


def test_tokens_played_are_tokens(model):
    box = AnswerBox(CALL).run(48)
    assert all(0 <= t < encoding.VOCAB_SIZE for t in box.answer_tokens)


def test_priming_with_tokens_is_hearing_them_as_a_primer(model):
    tune = [60, 129, 62, 129, 64, 128, 129, 67, 129, 129, 129, 129, 72, 129, 129, 71]  # a whole bar
    as_primer = Generator(model, Sampler(seed=0), tune)
    primed = Generator(model, Sampler(seed=0))
    primed.prime(tune[:5], bar_step=0)
    primed.prime(tune[5:], bar_step=5)
    assert (primed.logits == as_primer.logits).all()
    assert primed.sounding and as_primer.sounding  # the tune ends on a note


def test_echo_goes_out_on_the_box_channel_and_leaves_the_box_note_alone():
    from device.midi.midi_out import MidiOut

    port = RecordingOutput()
    midi_out = MidiOut(port, channel=2)
    midi_out.play(60)
    midi_out.echo(mido.Message("note_on", note=64, velocity=70, channel=9))
    assert port.messages[-1] == mido.Message("note_on", note=64, velocity=70, channel=2)
    assert midi_out.sounding == 60


segments = st.lists(st.tuples(st.integers(6, 6 * 80), st.floats(0.05, 1.0)), min_size=1, max_size=3)


@hsettings(max_examples=10)
@given(player_notes, segments)
def test_with_a_drum_machine_starting_and_stopping_answers_stay_on_its_bar_lines_and_nothing_sticks(spec, segments):
    clock_at, drum, stops = 0.3, [], []
    for pulses, gap in segments:  # Start, that many pulses, Stop, a gap
        drum.append((clock_at, mido.Message("start")))
        drum += [(clock_at + PULSE + i * PULSE, mido.Message("clock")) for i in range(pulses)]
        clock_at += PULSE * (pulses + 0.5)
        drum.append((clock_at, mido.Message("stop")))
        stops.append(clock_at)
        clock_at += gap
    schedule = notes(*[(pitch, on, on + length) for pitch, on, length in spec], channel=3)
    clock = PlayerClock(schedule)
    transport = FollowTransport(ScriptedClockSource(clock, drum), clock, dejitter=False)
    box = AnswerBox(schedule, clock_mode="follow", transport=transport, clock=clock)
    box.run(sum(pulses for pulses, _ in segments) // 6)
    steps = [r.step for r in box.reports if r.token is not None]
    starts = [step for i, step in enumerate(steps) if i == 0 or step != steps[i - 1] + 1]
    assert all(step % BAR == 0 for step in starts), steps
    assert set(box.sounding_at_listening_steps) <= {None}
    for stop in stops:
        assert sounding_notes(box.messages_until(stop)) == set()
