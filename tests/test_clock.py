"""device.clock: fake and real clocks, absolute step deadlines, stalls without bursts, tempo changes."""

import pytest

from device.clock import FakeClock, MonotonicClock, StepSchedule, step_seconds


def test_step_seconds_is_a_sixteenth_note():
    assert step_seconds(120) == 0.125
    assert step_seconds(60) == 0.25


@pytest.mark.parametrize("bpm", [0, -10, float("nan"), float("inf")])
def test_step_seconds_rejects_nonsense_tempos(bpm):
    with pytest.raises(ValueError, match="bpm must be a positive number"):
        step_seconds(bpm)


def test_fake_clock_jumps_to_the_deadline_and_records_it():
    clock = FakeClock(start=5.0)
    clock.sleep_until(7.5)
    assert clock.now() == 7.5
    assert clock.sleeps == [7.5]


def test_fake_clock_never_goes_back():
    clock = FakeClock(start=5.0)
    clock.sleep_until(4.0)
    assert clock.now() == 5.0


def test_fake_clock_advance():
    clock = FakeClock()
    clock.advance(0.25)
    assert clock.now() == 0.25
    with pytest.raises(ValueError, match="time cannot go back"):
        clock.advance(-1)


def test_monotonic_clock_never_wakes_before_the_deadline():
    clock = MonotonicClock()
    deadline = clock.now() + 0.003
    clock.sleep_until(deadline)
    assert clock.now() >= deadline


def test_monotonic_clock_returns_at_once_for_a_past_deadline():
    clock = MonotonicClock()
    before = clock.now()
    clock.sleep_until(before - 1.0)
    assert clock.now() >= before


def test_first_wait_plays_at_once():
    clock = FakeClock(start=3.0)
    schedule = StepSchedule(clock, bpm=120)
    assert schedule.wait(0) == 0.0
    assert clock.now() == 3.0
    assert clock.sleeps == []


def test_deadlines_are_absolute_and_do_not_drift():
    clock = FakeClock(start=1.0)
    schedule = StepSchedule(clock, bpm=100)
    for step in range(10_000):
        schedule.wait(step)
        clock.advance(0.0004)  # work done during each step must not push the grid
    assert schedule.deadline(9_999) == 1.0 + 9_999 * 0.15
    assert clock.sleeps[-1] == pytest.approx(1.0 + 9_999 * 0.15, abs=1e-9)
    assert schedule.skipped == 0


def test_a_step_slightly_late_is_not_waited_for_and_reports_its_lateness():
    clock = FakeClock()
    schedule = StepSchedule(clock, bpm=120)
    schedule.wait(0)
    clock.advance(0.125 + 0.05)
    assert schedule.wait(1) == pytest.approx(0.05)
    assert schedule.deadline(2) == 0.25  # still on the grid: the next step catches up
    assert schedule.skipped == 0


def test_a_stall_longer_than_a_step_reanchors_instead_of_bursting():
    clock = FakeClock()
    schedule = StepSchedule(clock, bpm=120)
    schedule.wait(0)
    clock.advance(1.0)  # stalled for 8 steps
    assert schedule.wait(1) == pytest.approx(0.875)
    assert schedule.skipped == 7
    assert schedule.reanchors == 1
    times = []
    for step in range(2, 6):
        schedule.wait(step)
        times.append(clock.now())
    assert times == pytest.approx([1.125, 1.25, 1.375, 1.5])  # one step apart, no burst


def test_set_bpm_keeps_the_current_step_and_spaces_the_next_ones_at_the_new_tempo():
    clock = FakeClock()
    schedule = StepSchedule(clock, bpm=120)
    for step in range(5):
        schedule.wait(step)
    assert clock.now() == 0.5
    schedule.set_bpm(60)
    schedule.wait(5)
    assert clock.now() == 0.75
    schedule.wait(6)
    assert clock.now() == 1.0


def test_set_bpm_before_the_start_only_changes_the_step_length():
    clock = FakeClock()
    schedule = StepSchedule(clock, bpm=120)
    schedule.set_bpm(150)
    schedule.wait(0)
    schedule.wait(1)
    assert clock.now() == 0.1


def test_deadline_before_the_start_is_an_error():
    with pytest.raises(RuntimeError, match="starts at its first wait"):
        StepSchedule(FakeClock(), bpm=120).deadline(0)
