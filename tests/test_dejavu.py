"""device.engine.dejavu: the recorder keeps the last eight bars of takes and finds the take one loop ago."""

import numpy as np
import pytest

from device.engine.dejavu import LOOP_BARS, Recorder, Take, check_loop_bars


def take(token):
    return Take((np.full(2, token, np.float32),), np.zeros(130, np.float32), token / 1000, token)


def test_nothing_is_one_loop_ago_until_a_whole_loop_is_recorded():
    recorder = Recorder(bar_steps=4)
    for token in range(7):
        recorder.record(take(token))
    assert recorder.one_loop_ago(8) is None


def test_one_loop_ago_is_the_take_that_many_steps_back():
    recorder = Recorder(bar_steps=4)
    for token in range(10):
        recorder.record(take(token))
    assert recorder.one_loop_ago(8).token == 2  # the step about to be played is step 10


def test_the_recorder_holds_the_longest_loop():
    recorder = Recorder(bar_steps=4)
    for token in range(100):
        recorder.record(take(token))
    assert len(recorder) == max(LOOP_BARS) * 4
    assert recorder.one_loop_ago(recorder.loop_steps(8)).token == 100 - 32


def test_loop_steps_are_bars_times_bar_steps():
    assert [Recorder(bar_steps=12).loop_steps(bars) for bars in LOOP_BARS] == [12, 24, 48, 96]


def test_clear_forgets_every_take():
    recorder = Recorder(bar_steps=4)
    for token in range(8):
        recorder.record(take(token))
    recorder.clear()
    assert (len(recorder), recorder.one_loop_ago(4)) == (0, None)


def test_a_loop_length_outside_the_choices_is_refused():
    with pytest.raises(ValueError, match="loop_bars must be one of 1, 2, 4, 8, got 3"):
        check_loop_bars(3)
