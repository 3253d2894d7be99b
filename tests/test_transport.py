"""device.transport.base: ticks at 24 pulses per quarter on absolute deadlines; stalls re-anchor without bursts."""

import pytest

from device.core.clock import FakeClock
from device.transport.base import Tick
from device.transport.internal import InternalTransport

PULSE = 0.125 / 6  # seconds per pulse at 120 bpm


def test_a_tick_knows_its_step_and_whether_a_note_plays_on_it():
    assert [Tick(p).step for p in (0, 5, 6, 13)] == [0, 0, 1, 2]
    assert [Tick(p).on_step for p in (0, 1, 6, 12, 17)] == [True, False, True, True, False]
    assert not Tick(6, running=False).on_step


def test_the_first_tick_is_pulse_zero_at_once():
    clock = FakeClock(start=3.0)
    transport = InternalTransport(clock, bpm=120)
    tick = transport.next_tick()
    assert (tick.pulse, tick.running, tick.due, tick.lateness) == (0, True, 3.0, 0.0)
    assert clock.sleeps == []


def test_pulses_come_24_per_quarter_note_on_their_deadlines():
    clock = FakeClock()
    transport = InternalTransport(clock, bpm=120)
    ticks = [transport.next_tick() for _ in range(25)]
    assert [t.pulse for t in ticks] == list(range(25))
    assert clock.sleeps == pytest.approx([p * PULSE for p in range(1, 25)])
    assert clock.now() == pytest.approx(0.5)  # one quarter note at 120 bpm


def test_deadlines_are_absolute_and_do_not_drift():
    clock = FakeClock(start=1.0)
    transport = InternalTransport(clock, bpm=100)
    for _ in range(60_000):
        transport.next_tick()
        clock.advance(0.0004)  # work done after each tick must not push the grid
    assert transport.deadline(59_999) == pytest.approx(1.0 + 59_999 * 0.15 / 6, abs=1e-9)
    assert clock.sleeps[-1] == pytest.approx(1.0 + 59_999 * 0.15 / 6, abs=1e-9)
    assert transport.skipped == 0


def test_a_pulse_slightly_late_is_not_waited_for_and_reports_its_lateness():
    clock = FakeClock()
    transport = InternalTransport(clock, bpm=120)
    transport.next_tick()
    clock.advance(PULSE + 0.01)
    assert transport.next_tick().lateness == pytest.approx(0.01)
    assert transport.deadline(2) == pytest.approx(2 * PULSE)  # still on the grid
    assert transport.skipped == 0


def test_a_stall_longer_than_a_step_reanchors_instead_of_bursting():
    clock = FakeClock()
    transport = InternalTransport(clock, bpm=120)
    transport.next_tick()
    clock.advance(1.0)  # stalled for 8 steps
    tick = transport.next_tick()
    assert tick.pulse == 1 and tick.lateness == pytest.approx(1.0 - PULSE)
    assert transport.skipped == 7
    assert transport.reanchors == 1
    times = []
    for _ in range(4):
        transport.next_tick()
        times.append(clock.now())
    assert times == pytest.approx([1.0 + k * PULSE for k in range(1, 5)])  # one pulse apart, no burst


def test_stalls_at_any_phase_never_play_two_steps_at_once():
    clock = FakeClock()
    transport = InternalTransport(clock, bpm=120)
    step_times = []
    for i in range(600):
        tick = transport.next_tick()
        if tick.on_step:
            step_times.append(clock.now())
        if i % 97 == 13:
            clock.advance(0.1 if i % 2 else 0.3)  # stalls shorter and longer than a step, at various phases
    gaps = [b - a for a, b in zip(step_times, step_times[1:], strict=False)]
    # A step late by up to 0.1 s is followed by the next on its own deadline: never a burst of notes.
    assert min(gaps) >= 0.125 - 0.1 - 1e-9
    assert sorted(gaps)[0] < 0.1  # the short stalls did make a late step


def test_set_bpm_keeps_the_last_pulse_and_spaces_the_next_ones_at_the_new_tempo():
    clock = FakeClock()
    transport = InternalTransport(clock, bpm=120)
    for _ in range(7):
        transport.next_tick()
    assert clock.now() == pytest.approx(6 * PULSE)
    transport.set_bpm(60)
    transport.next_tick()
    assert clock.now() == pytest.approx(6 * PULSE + 2 * PULSE)
    assert transport.step_seconds == 0.25


def test_set_bpm_before_the_start_only_changes_the_pulse_length():
    clock = FakeClock()
    transport = InternalTransport(clock, bpm=120)
    transport.set_bpm(150)
    transport.next_tick()
    transport.next_tick()
    assert clock.now() == pytest.approx(0.1 / 6)


def test_deadline_before_the_start_is_an_error():
    with pytest.raises(RuntimeError, match="starts at its first next_tick"):
        InternalTransport(FakeClock(), bpm=120).deadline(0)
