"""device.play.loop.Loop in the assembled box: the shipped model, a fake clock, FixedControls and a recording port.

Expected messages are derived independently: the same seeded Generator run offline,
its tokens decoded to notes with device.core.encoding, each note becoming a note_on at
its start step and a note_off at its end step (note_offs first within a step).
"""

import dataclasses
import threading

import mido
import pytest

from device.assembly import Parts, assemble
from device.core import encoding
from device.core.clock import FakeClock
from device.engine.controlstate import ControlState, FixedControls
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler
from device.play.loop import StepReport
from device.settings import Config
from tests.recording import RecordingOutput, assert_no_stuck_notes, max_polyphony, shipped_model_path

PRIMER = [60, encoding.NO_EVENT, 64, encoding.NO_EVENT, 67, encoding.NOTE_OFF]
STEP = 0.125  # seconds per step at 120 bpm
SEED = 2024
ALL_NOTES_OFF = mido.Message("control_change", control=123, value=0)


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


class Box:
    """The box as `melodybox run` assembles it, with fake time, scripted controls and a recording port."""

    def __init__(self, model, controls=None, port=None, reopen=None, temperature=1.0, seed=SEED):
        self.clock = FakeClock()
        self.port = port if port is not None else RecordingOutput(clock=self.clock)
        self.port.clock = self.clock
        self.controls = controls if controls is not None else FixedControls(temperature)
        self.reports: list[StepReport] = []
        config = Config()
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model.path)),
                                     primer=dataclasses.replace(config.primer, tokens=tuple(PRIMER)))
        parts = Parts(clock=self.clock, output=self.port, reopen=reopen, controls=self.controls)
        self.box = assemble(config, seed, parts, on_step=self.reports.append)
        self.loop, self.midi_out, self.transport = self.box.loop, self.box.midi_out, self.box.transport


def offline_tokens(model, count, temperature=1.0, seed=SEED, reset_after=None, steps=None):
    """Tokens from a fresh Generator with the same seed; ``reset_after=k``: reset after the k-th token.

    ``steps``: the transport step each token was computed for (the model hears the transport's bar);
    by default token i is step i's."""
    generator = Generator(model, Sampler(seed=seed, pitch_range=model.contract.pitch_range), PRIMER)
    tokens = []
    for i, step in enumerate(range(count) if steps is None else steps):
        tokens.append(generator.next_token(ControlState(temperature), step))
        if reset_after is not None and i + 1 == reset_after:
            generator.reset()
    return tokens


def messages_for(tokens, channel=0, velocity=100):
    """What a synth must receive for ``tokens`` played one per step, every note ended after the last step."""
    events = []
    for note in encoding.tokens_to_notes(tokens):
        events.append((note.start, 1, mido.Message("note_on", note=note.pitch, velocity=velocity, channel=channel)))
        events.append((note.end, 0, mido.Message("note_off", note=note.pitch, velocity=0, channel=channel)))
    return [message for _, _, message in sorted(events, key=lambda e: (e[0], e[1]))]


def note_on_steps(tokens):
    return [note.start for note in encoding.tokens_to_notes(tokens)]


def test_seeded_run_plays_exactly_the_offline_melody(model):
    box = Box(model)
    assert box.loop.run(64) == 64
    tokens = offline_tokens(model, 64)
    assert box.port.messages == messages_for(tokens) + [ALL_NOTES_OFF]


def test_each_note_starts_on_its_step_deadline(model):
    box = Box(model)
    box.loop.run(48)
    on_times = [t for m, t in zip(box.port.messages, box.port.times, strict=True) if m.type == "note_on"]
    assert on_times == [step * STEP for step in note_on_steps(offline_tokens(model, 48))]


def test_the_loop_sleeps_to_each_absolute_deadline(model):
    box = Box(model)
    box.loop.run(16)
    pulse = STEP / 6  # 24 pulses per quarter note
    assert box.clock.sleeps == pytest.approx([p * pulse for p in range(1, 15 * 6 + 1)])


def test_greedy_run_matches_greedy_offline(model):
    box = Box(model, temperature=0.0)
    box.loop.run(32)
    assert box.port.messages == messages_for(offline_tokens(model, 32, temperature=0.0)) + [ALL_NOTES_OFF]


def test_controls_are_read_once_per_step_and_beat_every_step(model):
    box = Box(model)
    box.loop.run(10)
    assert box.controls.reads == 10
    assert box.controls.beats == [(step, True) for step in range(10)]


def test_reports_say_what_was_played(model):
    box = Box(model)
    box.loop.run(12)
    tokens = offline_tokens(model, 12)
    assert [r.token for r in box.reports] == tokens
    assert [r.step for r in box.reports] == list(range(12))
    assert all(r.lateness == 0.0 and not r.paused and r.connected for r in box.reports)


def test_reset_silences_and_restarts_from_the_primed_state(model):
    box = Box(model, controls=FixedControls(1.0, resets_at={9}))
    box.loop.run(30)
    tokens = offline_tokens(model, 30, reset_after=10)
    expected = messages_for(tokens[:10]) + [ALL_NOTES_OFF] + messages_for(tokens[10:]) + [ALL_NOTES_OFF]
    assert box.port.messages == expected


def test_pause_silences_keeps_time_and_resumes_with_the_held_token(model):
    box = Box(model, controls=FixedControls(1.0, pause_toggles_at={5, 12}))
    box.loop.run(24)
    # token 6 was computed at step 5 for step 6, held through the pause and played at 13; then on
    tokens = offline_tokens(model, 6 + (24 - 13), steps=[*range(7), *range(14, 24)])
    assert box.port.messages == messages_for(tokens[:6]) + [ALL_NOTES_OFF] + messages_for(tokens[6:]) + [ALL_NOTES_OFF]
    first_after = next(t for m, t in zip(box.port.messages, box.port.times, strict=True) if t > 5 * STEP)
    assert first_after >= 13 * STEP  # nothing sounds while paused
    assert box.controls.beats[4:14] == [(4, True)] + [(s, False) for s in range(5, 12)] + [(12, True), (13, True)]
    assert [r.token for r in box.reports[6:13]] == [None] * 7


def test_reset_while_paused_stays_paused_and_restarts_on_resume(model):
    box = Box(model, controls=FixedControls(1.0, pause_toggles_at={3, 8}, resets_at={6}))
    box.loop.run(20)
    # Token 4 was computed one step ahead (at step 3) and dropped by the reset: it used one random draw.
    # After the reset at step 6 the next token is computed at once for step 7, held, played at 9; then on
    tokens = offline_tokens(model, 5 + (20 - 9), reset_after=5, steps=[*range(5), 7, *range(10, 20)])
    before, after = tokens[:4], tokens[5:]
    silence_twice = [ALL_NOTES_OFF, ALL_NOTES_OFF]  # one for the pause, one for the reset
    assert box.port.messages == messages_for(before) + silence_twice + messages_for(after) + [ALL_NOTES_OFF]


def test_stop_ends_the_run_cleanly_and_silences(model):
    box = Box(model)
    box.loop.on_step = lambda report: box.loop.stop() if report.step == 20 else None
    assert box.loop.run() == 21
    tokens = offline_tokens(model, 21)
    assert box.port.messages == messages_for(tokens) + [ALL_NOTES_OFF]


def test_stop_from_another_thread_ends_an_endless_run(model):
    box = Box(model)
    stopper = threading.Timer(0.0, box.loop.stop)
    box.loop.on_step = lambda report: stopper.start() if report.step == 3 else None
    box.loop.run()  # FakeClock never sleeps, so this only ends through stop()
    stopper.join()
    assert box.loop.stopping
    assert box.loop.steps_done >= 4
    assert_no_stuck_notes(box.port.messages)


def test_stop_before_run_plays_nothing(model):
    box = Box(model)
    box.loop.stop()
    assert box.loop.run() == 0
    assert box.port.messages == [ALL_NOTES_OFF]


class ExplodingControls(FixedControls):
    """Controls whose read() fails at one step, like a broken ADC."""

    def __init__(self, fail_at):
        super().__init__(1.0)
        self.fail_at = fail_at

    def read(self) -> ControlState:
        if self.reads == self.fail_at:
            raise OSError("SPI read failed")
        return super().read()


def test_exception_inside_propagates_and_leaves_nothing_sounding(model):
    box = Box(model, controls=ExplodingControls(fail_at=7))
    with pytest.raises(OSError, match="SPI read failed"):
        box.loop.run(40)
    assert_no_stuck_notes(box.port.messages)
    assert box.port.messages[-1] == ALL_NOTES_OFF


def test_lost_port_shows_an_error_and_the_loop_keeps_time(model):
    box = Box(model, port=RecordingOutput(fail_after=3))
    box.loop.run(40)
    assert box.controls.errors == [True]
    assert box.reports[-1].step == 39 and not box.reports[-1].connected
    assert box.clock.now() == 39 * STEP


def test_reconnected_port_gets_all_notes_off_and_the_error_clears(model):
    spare = RecordingOutput("spare")
    box = Box(model, port=RecordingOutput(fail_after=3), reopen=lambda: spare)
    spare.clock = box.clock
    box.loop.run(40)
    assert box.controls.errors == [True, False]
    assert box.midi_out.reconnects == 1
    assert spare.messages[0] == ALL_NOTES_OFF
    assert spare.times[0] >= 1.0  # retried after retry_seconds, not at once
    assert_no_stuck_notes(box.port.messages[:3] + spare.messages)
    assert max_polyphony(box.port.messages[:3] + spare.messages) <= 1


def test_a_stall_does_not_burst_notes_to_catch_up(model):
    box = Box(model)
    step_times = []

    def stall_at_step_10(report):
        box.reports.append(report)
        step_times.append(box.clock.now())
        if report.step == 10:
            box.clock.advance(1.0)

    box.loop.on_step = stall_at_step_10
    box.loop.run(30)
    assert box.transport.skipped == 7
    assert all(r.lateness == 0.0 for r in box.reports)  # the pulse after the stall re-anchored the grid
    # The stall ends at 2.25 s; step 11 follows five pulses later, then steps 12..29 one step apart.
    assert step_times[11:] == pytest.approx([2.25 + 5 * STEP / 6 + k * STEP for k in range(19)])


def test_the_first_note_follows_the_controls_too(model):
    box = Box(model, controls=FixedControls(0.0))
    box.loop.run(20)
    generator = Generator(model, Sampler(seed=SEED, pitch_range=model.contract.pitch_range), PRIMER)
    tokens = [generator.next_token(ControlState(0.0)) for _ in range(20)]
    assert box.port.messages == messages_for(tokens) + [ALL_NOTES_OFF]
    assert all(r.temperature == 0.0 for r in box.reports)
