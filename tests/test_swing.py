"""Swing: every second 16th plays later, on the transport's own pulses, in the loop, in lead and follow, in
captures and in `generate`; and every surface knows the control from its declaration alone."""

import mido
import pytest

from device.cli import build_parser
from device.config import from_dict, start_state
from device.controls.keyboard import KNOB_KEYS
from device.core.clock import FakeClock
from device.core.encoding import NO_EVENT, NOTE_OFF
from device.engine.controlstate import ControlState, FixedControls
from device.engine.dynamics import Dynamics, articulate, onset_pulses
from device.midi.midi_out import MidiOut
from device.play.capture import Capture
from device.play.loop import Loop, StepReport
from device.status import status_line
from device.transport.base import Tick
from device.transport.follow import FollowTransport
from device.transport.internal import InternalTransport
from tests.recording import RecordingOutput, max_polyphony, sounding_notes
from tests.test_dynamics import ScriptedGenerator, file_notes, off, on, play
from tests.test_follow import ScriptedSource, msg, pulses
from tests.test_lead import lead_box

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def test_without_swing_every_step_plays_on_its_first_pulse():
    assert play([60, 62, 64, NOTE_OFF], ControlState()) == [
        (0, on(60)), (6, off(60)), (6, on(62)), (12, off(62)), (12, on(64)), (18, off(64))]


def test_full_swing_plays_every_second_16th_half_a_16th_late():
    assert play([60, 62, 64, 65, NOTE_OFF], ControlState(swing=1.0)) == [
        (0, on(60)), (9, off(60)), (9, on(62)), (12, off(62)), (12, on(64)), (21, off(64)), (21, on(65)),
        (24, off(65))]


@pytest.mark.parametrize(("swing", "pulses_late"), [(0.0, 0), (0.1, 0), (0.2, 1), (0.5, 2), (0.8, 2), (0.9, 3),
                                                    (1.0, 3)])
def test_swing_moves_the_odd_16ths_by_whole_pulses_of_the_transport(swing, pulses_late):
    state = ControlState(swing=swing)
    assert [onset_pulses(step, state) for step in range(4)] == [0, pulses_late, 0, pulses_late]


def test_a_gate_ends_a_swung_note_within_its_own_shorter_or_longer_16th():
    assert play([60, 62, 64, NOTE_OFF], ControlState(swing=1.0, gate=0.0)) == [
        (0, on(60)), (1, off(60)), (9, on(62)), (10, off(62)), (12, on(64)), (13, off(64))]
    tokens = [60, 61, NO_EVENT, NOTE_OFF, 62, 62, NO_EVENT, 64] * 4
    for swing in (0.3, 0.6, 1.0):
        for gate in (0.0, 0.5, 1.0):
            messages = [m for _, m in play(tokens, ControlState(swing=swing, gate=gate))]
            assert max_polyphony(messages) <= 1 and sounding_notes(messages) == set()


class SkippingTransport:
    """The box's own clock, but the pulses in ``skip`` are never delivered (a late host, a Link catch-up)."""

    def __init__(self, clock, skip):
        self.inner, self.skip = InternalTransport(clock, 120), set(skip)
        self.bpm = 120.0

    def next_tick(self):
        tick = self.inner.next_tick()
        while tick.pulse in self.skip:
            tick = self.inner.next_tick()
        return tick


def test_a_swung_step_whose_pulse_never_came_plays_on_the_next_tick_never_later():
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    loop = Loop(ScriptedGenerator([60, 62, 64]), MidiOut(port, clock=clock), FixedControls(ControlState(swing=1.0)),
                SkippingTransport(clock, skip={9}))
    loop.run(3)
    pulse = 0.125 / 6
    assert [(round(t / pulse), m.note) for m, t in zip(port.messages, port.times, strict=True)
            if m.type == "note_on"] == [(0, 60), (10, 62), (12, 64)]


def delivered(events, end):
    """{pulse: clock time it was delivered} for a follower alone on ``events`` (the grid the box follows)."""
    clock = FakeClock()
    transport = FollowTransport(ScriptedSource(clock, list(events)), clock)
    times = {}
    while clock.now() < end:
        tick = transport.next_tick()
        if tick.running:
            times[tick.pulse] = clock.now()
    return times


def test_in_follow_mode_each_swung_note_goes_out_on_the_followed_clocks_own_pulse():
    period = 60 / 120 / 24
    events = [(0.5, msg("start"))] + pulses(0.5, 6 * 16, seconds=period, jitter=0.002)
    grid = delivered(events, 0.5 + 6 * 15 * period)
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    transport = FollowTransport(ScriptedSource(clock, list(events)), clock)
    loop = Loop(ScriptedGenerator(SCALE * 2), MidiOut(port, clock=clock), FixedControls(ControlState(swing=1.0)),
                transport)
    loop.run(15)
    note_times = [t for m, t in zip(port.messages, port.times, strict=True) if m.type == "note_on"]
    expected = [grid[6 * step + (3 if step % 2 else 0)] for step in range(15)]
    assert note_times == pytest.approx(expected, abs=1e-9)


def test_in_lead_mode_a_swung_note_goes_out_right_after_the_clock_pulse_it_lies_on():
    box, port = lead_box(controls=FixedControls(ControlState(swing=1.0, density=1.0)))
    with box:
        box.run(steps=16)
    kinds = [m.type for m in port.messages if m.type in ("clock", "note_on")]
    clocks_before = [kinds[:i].count("clock") - 1 for i, kind in enumerate(kinds) if kind == "note_on"]
    assert clocks_before and {pulse % 6 for pulse in clocks_before} == {0, 3}
    assert all(pulse % 12 in (0, 9) for pulse in clocks_before)


def test_a_capture_holds_the_swung_onsets_the_loop_played_and_articulate_gives_the_same():
    tokens = [60, 62, NO_EVENT, 64, 65, NOTE_OFF, 67, 69]
    state = ControlState(swing=0.5, gate=0.5)
    clock = FakeClock()
    capture = Capture("unused", bars=1, bpm=120, bar_steps=16, writer=lambda job: None)
    midi_out = MidiOut(RecordingOutput(clock=clock), clock=clock, recorder=capture.record)
    loop = Loop(ScriptedGenerator(tokens), midi_out, FixedControls(state), InternalTransport(clock, 120),
                dynamics=Dynamics(100))
    loop.run(len(tokens))
    played = [(n.pitch, n.start, n.end) for n in capture.notes]
    assert [start for _, start, _ in played] == [0, 8, 20, 24, 36, 44]  # steps 0, 1, 3, 4, 6, 7
    offline = [(n.pitch, n.start, n.end) for n in articulate(tokens, state, Dynamics(100))]
    assert offline[:-1] == played[:-1]


def test_generate_writes_the_swing_every_second_16th_later_and_the_rest_as_straight(tmp_path):
    from device.cli import main

    straight, swung = tmp_path / "straight.mid", tmp_path / "swung.mid"
    main(["generate", "--seed", "3", "--bars", "2", "--density", "1", "-o", str(straight)])
    main(["generate", "--seed", "3", "--bars", "2", "--density", "1", "--swing", "1", "-o", str(swung)])
    before, after = file_notes(straight), file_notes(swung)
    assert [pitch for _, _, pitch, _ in after] == [pitch for _, _, pitch, _ in before]
    assert [start for start, _, _, _ in after] == [start + (0.5 if start % 2 else 0) for start, _, _, _ in before]
    assert any(start % 2 for start, _, _, _ in before)


def test_every_surface_knows_swing_from_its_declaration():
    for command in ("run", "generate"):
        args = build_parser().parse_args([command, "-o", "x.mid", "--swing", "0.5"] if command == "generate"
                                         else [command, "--swing", "0.5"])
        assert args.swing == "0.5"
    config = from_dict({"music": {"swing": 0.25}, "knobs": {"swing": 3}, "cc": {"swing": 24}})
    assert (start_state(config).swing, config.knobs.swing, config.cc.swing) == (0.25, 3, 24)
    assert KNOB_KEYS["f"] == "swing"
    report = StepReport(0, 60, ControlState(swing=0.5), 0.0, False, True)
    assert " SW50 " in status_line(report)


def test_a_file_written_with_swing_holds_notes_between_the_16ths(tmp_path):
    from device.cli import main

    path = tmp_path / "swung.mid"
    main(["generate", "--seed", "1", "--bars", "1", "--density", "1", "--swing", "0.5", "-o", str(path)])
    ticks = mido.MidiFile(path).ticks_per_beat // 24  # ticks per pulse
    starts, now = [], 0
    for message in mido.MidiFile(path).tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity:
            starts.append(now // ticks)
    assert {start % 12 for start in starts} <= {0, 8} and 8 in {start % 12 for start in starts}
    assert Tick(8).step == 1


class SwingTurnedUp(FixedControls):
    """Straight until read ``at``, then full swing: as a knob, a CC or the network turns it up mid-melody."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def read(self):
        state = super().read()
        return state if self.reads <= self.at else ControlState(swing=1.0)


@pytest.mark.parametrize("at", [1, 2, 3, 4])
def test_swing_turned_up_just_after_a_step_played_never_plays_that_step_again(at):
    clock = FakeClock()
    reports = []
    loop = Loop(ScriptedGenerator([60, 62, 64, 65, 67, 69]), MidiOut(RecordingOutput(clock=clock), clock=clock),
                SwingTurnedUp(at), InternalTransport(clock, 120), on_step=reports.append)
    loop.run(8)
    assert [report.step for report in reports] == list(range(8))
