"""device.core.clock: fake and real clocks and the length of a step."""

import time

import pytest

from device.core.clock import FakeClock, MonotonicClock
from device.core.timegrid import step_seconds


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


def test_monotonic_clock_does_not_sleep_for_a_past_deadline(monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    clock = MonotonicClock()
    clock.sleep_until(clock.now() - 1.0)
    assert slept == []


def test_monotonic_clock_sleeps_once_then_yields_to_the_deadline(monkeypatch):
    now = [100.0]
    slept = []

    def fake_sleep(seconds):
        slept.append(seconds)
        now[0] += seconds if seconds > 0 else 0.0005

    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", fake_sleep)
    MonotonicClock().sleep_until(100.010)
    assert slept[0] == pytest.approx(0.009)  # one long sleep to 1 ms before the deadline
    assert all(seconds == 0 for seconds in slept[1:]) and len(slept) == 3  # then yields until it is reached
    assert now[0] >= 100.010
