"""device.transport.follow: the MIDI clock follower and its tempo estimate, on scripted clock streams, a fake clock."""

import dataclasses
import io
import random

import mido
import pytest

from device.assembly import Parts, assemble
from device.core.clock import FakeClock
from device.engine.controlstate import ControlState, FixedControls
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler
from device.midi.midi_in import InputEvent
from device.midi.midi_out import MidiOut
from device.play.loop import Loop, StepReport
from device.settings import Config
from device.status import LiveView
from device.transport.follow import LOSS_SECONDS, FollowTransport, TempoEstimate
from tests.recording import RecordingOutput, note_events, shipped_model_path
from tests.test_box import offline_tokens, reference_events
from tests.test_jack_clock import PLAN, SEED, STEPS, STOPS_AFTER

PULSE = 60 / 120 / 24  # seconds per pulse at 120 bpm
STEP = 6 * PULSE


class ScriptedSource:
    """Clock messages at given times, delivered as MidiIn.wait_clock would with a fake clock."""

    def __init__(self, clock: FakeClock, events):
        self.clock = clock
        self.events = sorted(events, key=lambda event: event[0])

    def wait_clock(self, deadline):
        if self.events and self.events[0][0] <= deadline:
            time, message = self.events.pop(0)
            self.clock.sleep_until(time)
            return InputEvent(time, message)
        self.clock.sleep_until(deadline)
        return None


def msg(kind, **fields):
    return mido.Message(kind, **fields)


def pulses(start, count, seconds=PULSE, jitter=0.0, rng=None):
    """``count`` clock messages from ``start`` every ``seconds``, each moved by up to ±``jitter``."""
    rng = rng or random.Random(0)
    return [(start + i * seconds + rng.uniform(-jitter, jitter), msg("clock")) for i in range(count)]


def follower(events, dejitter=False, on_clock_loss="stop", start=0.0):
    clock, said = FakeClock(start), []
    transport = FollowTransport(ScriptedSource(clock, events), clock, on_clock_loss=on_clock_loss,
                                dejitter=dejitter, say=said.append)
    return transport, clock, said


def ticks_until(transport, end_time):
    """Every tick the transport returns until the fake clock reaches ``end_time``."""
    ticks = []
    while transport.clock.now() < end_time:
        ticks.append(transport.next_tick())
    return ticks


def played(ticks):
    """(pulse, due) of the running step ticks: where the loop plays notes."""
    return [(t.pulse, round(t.due, 6)) for t in ticks if t.on_step]


def test_step_0_is_the_first_pulse_after_start_then_one_step_every_6_pulses():
    transport, _, _ = follower([(0.0, msg("start"))] + pulses(0.001, 13))
    ticks = [transport.next_tick() for _ in range(13)]
    assert [t.pulse for t in ticks] == list(range(13))
    assert played(ticks) == [(0, 0.001), (6, round(0.001 + STEP, 6)), (12, round(0.001 + 2 * STEP, 6))]


def test_clock_without_start_plays_nothing_and_says_so_once():
    transport, _, said = follower(pulses(0.0, 48))
    ticks = ticks_until(transport, 47 * PULSE)
    assert not any(t.running for t in ticks)
    assert said == ["MIDI clock is arriving: waiting for Start or Continue"]


def test_while_stopped_a_non_running_tick_comes_about_once_a_step():
    transport, _, _ = follower([])
    ticks = ticks_until(transport, 0.99)
    assert [round(t.due, 6) for t in ticks] == [round(STEP * i, 6) for i in range(1, 9)]
    assert not any(t.running for t in ticks)


def test_idle_ticks_keep_coming_while_clock_arrives_without_start():
    transport, _, _ = follower(pulses(0.0, 100))
    ticks = ticks_until(transport, 0.99)
    assert [round(t.due, 6) for t in ticks] == [round(STEP * i, 6) for i in range(1, 9)]


def test_stop_returns_a_stopped_tick_at_once_and_holds_the_position():
    events = [(0.0, msg("start"))] + pulses(0.001, 9) + [(0.001 + 8.5 * PULSE, msg("stop"))]
    transport, _, _ = follower(events)
    ticks = [transport.next_tick() for _ in range(10)]
    assert (ticks[-1].running, ticks[-1].pulse, ticks[-1].due) == (False, 9, 0.001 + 8.5 * PULSE)


def test_continue_resumes_from_the_held_position():
    events = [(0.0, msg("start"))] + pulses(0.001, 9) + [(0.2, msg("stop")), (0.5, msg("continue"))]
    events += pulses(0.5 + PULSE, 4)
    transport, _, _ = follower(events)
    ticks = ticks_until(transport, 0.5 + 4 * PULSE)
    assert [t.pulse for t in ticks if t.running] == list(range(9)) + [9, 10, 11, 12]
    assert played(ticks)[-1][0] == 12


def test_song_position_pointer_sets_the_step_in_16ths():
    events = [(0.0, msg("songpos", pos=8)), (0.01, msg("continue"))] + pulses(0.02, 7)
    transport, _, _ = follower(events)
    ticks = ticks_until(transport, 0.02 + 6.5 * PULSE)
    assert [t.pulse for t in ticks if t.running] == list(range(48, 55))
    assert [t.step for t in ticks if t.on_step] == [8, 9]


def test_start_while_running_restarts_at_step_0():
    events = [(0.0, msg("start"))] + pulses(0.001, 8) + [(0.001 + 7.5 * PULSE, msg("start"))]
    events += pulses(0.001 + 8 * PULSE, 2)
    transport, _, _ = follower(events)
    ticks = [transport.next_tick() for _ in range(10)]
    assert [t.pulse for t in ticks] == list(range(8)) + [0, 1]


def test_tempo_of_steady_pulses():
    estimate = TempoEstimate()
    for time, _ in pulses(0.0, 24, seconds=60 / 97 / 24):
        estimate.add(time)
    assert estimate.bpm == pytest.approx(97, abs=1e-6)


def test_tempo_is_not_fooled_by_2_ms_of_jitter():
    estimate, rng = TempoEstimate(), random.Random(3)
    worst = 0.0
    for i, (time, _) in enumerate(pulses(0.0, 2000, jitter=0.002, rng=rng)):
        estimate.add(time)
        if i >= 24:
            worst = max(worst, abs(estimate.bpm - 120))
    assert worst < 2.0  # the status line shows whole bpm; ±2 ms on a 20.8 ms pulse is ±10 % per interval


def test_tempo_follows_a_change_within_one_beat():
    estimate = TempoEstimate()
    times = [t for t, _ in pulses(0.0, 48)] + [t for t, _ in pulses(48 * PULSE, 24, seconds=60 / 140 / 24)]
    for time in times:
        estimate.add(time)
    assert estimate.bpm == pytest.approx(140, abs=1e-6)


def test_the_follower_reports_the_tempo_clamped_to_20_400():
    events = [(0.0, msg("start"))] + pulses(0.001, 30, seconds=60 / 600 / 24)
    transport, _, said = follower(events)
    for _ in range(30):
        transport.next_tick()
    assert transport.bpm == 400
    assert said == ["MIDI clock at 600 bpm is outside 20..400: tempo shown as 400"]


def test_a_burst_of_pulses_plays_at_most_one_step():
    steady = pulses(0.001, 12)
    hiccup = [(0.3 + i * 0.0001, msg("clock")) for i in range(12)]  # 12 pulses flushed at once
    transport, _, said = follower([(0.0, msg("start"))] + steady + hiccup)
    ticks = [transport.next_tick() for _ in range(22)]
    steps_in_burst = [t for t in ticks if t.on_step and t.due >= 0.3]
    assert len(steps_in_burst) == 1
    assert said == ["MIDI clock burst (pulses arriving all at once): a step was not played"]


def test_clock_loss_with_stop_stops_half_a_second_after_the_last_pulse():
    transport, _, said = follower([(0.0, msg("start"))] + pulses(0.001, 10))
    ticks = [transport.next_tick() for _ in range(11)]
    assert (ticks[-1].running, round(ticks[-1].due, 6)) == (False, round(0.001 + 9 * PULSE + LOSS_SECONDS, 6))
    assert said == ["MIDI clock lost (nothing for 0.5 s): stopped; waiting for Start or Continue"]


def test_start_without_clock_stops_after_half_a_second():
    transport, _, said = follower([(0.0, msg("start"))])
    tick = transport.next_tick()
    assert (tick.running, tick.due) == (False, LOSS_SECONDS)
    assert said == ["no MIDI clock since Start (nothing for 0.5 s): stopped; waiting for Start or Continue"]


def test_clock_loss_with_continue_free_runs_on_the_grid_of_the_last_pulses():
    transport, _, said = follower([(0.0, msg("start"))] + pulses(0.0, 48), on_clock_loss="continue")
    ticks = ticks_until(transport, 2.0)
    free = [t for t in ticks if t.pulse >= 48]
    assert all(t.running for t in ticks)
    assert [round(t.due, 6) for t in free] == [round(t.pulse * PULSE, 6) for t in free]
    assert free[0].pulse == 47 + round(LOSS_SECONDS / PULSE)  # the pulses of the silent half second are not made up
    assert said == ["MIDI clock lost (nothing for 0.5 s): playing on at 120 bpm"]


def test_the_returning_clock_re_locks_without_repeating_or_bursting_steps():
    events = [(0.0, msg("start"))] + pulses(0.0, 48) + pulses(3.0 + 0.0004, 48)  # back after a 2 s gap
    transport, _, said = follower(events, on_clock_loss="continue")
    ticks = ticks_until(transport, 3.0 + 47 * PULSE)
    numbers = [t.pulse for t in ticks]
    # free-run from the loss (pulse 71) to 144, due at 3.0 s; the returning pulse at 3.0004 s is 144 too
    assert numbers == list(range(48)) + list(range(71, 145 + 47))
    step_times = [t.due for t in ticks if t.on_step]
    assert min(b - a for a, b in zip(step_times, step_times[1:], strict=False)) > STEP - 0.001
    assert said[-1] == "MIDI clock is back: following it again"


def test_dejitter_plays_steps_evenly_and_never_before_their_pulse():
    rng = random.Random(1)
    events = [(0.0, msg("start"))] + pulses(0.01, 600, jitter=0.001, rng=rng)
    arrivals = {i: t for i, (t, _) in enumerate(events[1:])}
    transport, _, _ = follower(events, dejitter=True)
    ticks = [transport.next_tick() for _ in range(600)]
    assert all(t.due >= arrivals[t.pulse] for t in ticks)
    late = [t.due - (0.01 + t.pulse * PULSE) for t in ticks[48:] if t.on_step]
    assert max(late) - min(late) < 0.001  # the input's 2 ms spread shrinks to under 1 ms


def test_on_clock_loss_must_be_stop_or_continue():
    with pytest.raises(ValueError, match="'stop' or 'continue'"):
        FollowTransport(ScriptedSource(FakeClock(), []), FakeClock(), on_clock_loss="pause")


def test_the_status_line_shows_the_tempo_the_step_report_carries():
    stream = io.StringIO()
    view = LiveView(stream)
    view.active = True  # as on a terminal
    view.update(StepReport(8, 60, ControlState(1.0), 0.0, False, True, bpm=97.6))
    assert stream.getvalue().rstrip().endswith("> 98bpm playing")  # see device.controls.keyboard.LEGEND


def test_while_the_followed_clock_is_stopped_the_loop_still_reads_the_controls():
    events = [(0.0, msg("start"))] + pulses(0.001, 7) + [(0.001 + 6.5 * PULSE, msg("stop"))]
    transport, clock, _ = follower(events)
    controls = FixedControls(1.0)
    with StepModel(shipped_model_path()) as model:
        loop = Loop(Generator(model, Sampler(seed=1, pitch_range=model.contract.pitch_range), [60]),
                    MidiOut(RecordingOutput(), clock=clock), controls, transport)
        while clock.now() < 1.0:
            loop.tick(transport.next_tick())
    assert controls.reads == 2 + 1 + 7  # steps 0 and 1; the Stop; idle ticks a step apart from 0.26 s to 1.01 s


def test_a_stopped_clock_reports_waiting_from_before_start_and_the_controls_show_the_wait():
    start, stop = 0.3, 0.3 + 13.5 * PULSE  # steps 0, 1 and 2 (pulses 0..12 from start + PULSE), then Stop
    events = [(start, msg("start"))] + pulses(start + PULSE, 13) + [(stop, msg("stop"))]
    transport, clock, _ = follower(events)
    controls, reports = FixedControls(1.0), []
    with StepModel(shipped_model_path()) as model:
        loop = Loop(Generator(model, Sampler(seed=1, pitch_range=model.contract.pitch_range), [60]),
                    MidiOut(RecordingOutput(), clock=clock), controls, transport, on_step=reports.append)
        while clock.now() < 0.8:
            loop.tick(transport.next_tick())
    # idle ticks a step apart: 0.125 and 0.25 before Start; the Stop, then stop + 0.125 and stop + 0.25
    assert [(r.step, r.state) for r in reports] == ([(0, "waiting")] * 2 + [(0, "playing"), (1, "playing"),
                                                     (2, "playing")] + [(2, "waiting")] * 3)
    assert [r.token is None for r in reports] == [True] * 2 + [False] * 3 + [True] * 3
    assert controls.waits == [True, False, True]  # the LED waits, beats from step 0, waits again
    assert controls.beats == [(0, True), (1, True), (2, True)]


def drum_machine_events(plan, jitter=0.0, start=1.0):
    """The messages of a tests.test_jack_clock plan at their ideal times ± ``jitter``, and (time, song position)
    of each pulse."""
    events, pulse_positions, time, bpm, position, running = [], [], start, 120, 0, False
    rng = random.Random(4)
    for op in plan:
        kind = op if isinstance(op, str) else op[0]
        if kind == "clock":
            bpm = op[2]
            for _ in range(op[1]):
                sent = time + rng.uniform(-jitter, jitter)
                events.append((sent, msg("clock")))
                pulse_positions.append((sent, position if running else None))
                position += running
                time += 60 / bpm / 24
            continue
        events.append((time - 30 / bpm / 24, msg("songpos", pos=op[1]) if kind == "songpos" else msg(kind)))
        running = {"start": True, "continue": True, "stop": False}.get(kind, running)
        position = 0 if kind == "start" else op[1] * 6 if kind == "songpos" else position
    return events, pulse_positions


@pytest.mark.parametrize("jitter", [0.0, 0.001, 0.002])
def test_the_drum_machine_plan_of_the_jack_test_plays_each_note_on_its_step(jitter):
    events, pulse_positions = drum_machine_events(PLAN, jitter)
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    transport = FollowTransport(ScriptedSource(clock, events), clock)
    config = dataclasses.replace(Config(), model=dataclasses.replace(Config().model, path=str(shipped_model_path())))
    parts = Parts(clock=clock, output=port, controls=FixedControls(1.0), transport=transport)
    with assemble(config, SEED, parts) as box:
        while clock.now() < events[-1][0] + 0.5:
            box.loop.tick(transport.next_tick())
    # each token is computed one step ahead, for the step after the last one played (held over a Stop)
    tokens = offline_tokens([1.0] * len(STEPS), seed=SEED, steps=[STEPS[0]] + [s + 1 for s in STEPS[:-1]])
    assert note_events(port.messages)[:-1] == reference_events(tokens, silences_after=STOPS_AFTER)
    positions = [max((t, p) for t, p in pulse_positions if t <= time)[1]
                 for message, time in zip(port.messages, port.times, strict=True) if message.type == "note_on"]
    assert positions == [STEPS[i] * 6 for i, token in enumerate(tokens) if token < 128]
