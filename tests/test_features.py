"""device.core.features: the inputs beyond the token, for whole melodies (training) and step by step (the box)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.core.encoding import NO_EVENT, NOTE_OFF, START_TOKEN
from device.core.features import NONE, FeatureTracker, melody_features, position_code


def tracked(melody, bar_steps, bar_offset):
    """Features of ``[START] + melody[:-1]`` from a FeatureTracker fed as the box feeds it, stacked."""
    tracker = FeatureTracker(bar_steps)
    rows = [tracker.features(START_TOKEN, bar_offset)] + [tracker.features(int(t)) for t in melody[:-1]]
    return {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}


def test_position_code_is_five_binary_digits_least_significant_first():
    np.testing.assert_array_equal(position_code(0), [-1, -1, -1, -1, -1])
    np.testing.assert_array_equal(position_code(5), [1, -1, 1, -1, -1])
    np.testing.assert_array_equal(position_code(31), [1, 1, 1, 1, 1])


def test_lookback_holds_the_tokens_one_two_four_and_eight_bars_before_the_predicted_step():
    melody = np.arange(18) + 60
    lookback = melody_features(melody, bar_steps=2)["lookback"]
    assert lookback[:, 0].tolist() == [NONE] * 2 + list(range(60, 76))
    assert lookback[:, 1].tolist() == [NONE] * 4 + list(range(60, 74))
    assert lookback[:, 2].tolist() == [NONE] * 8 + list(range(60, 70))
    assert lookback[:, 3].tolist() == [NONE] * 16 + [60, 61]


def test_bar_position_describes_the_predicted_step_from_the_bar_offset():
    found = melody_features(np.full(5, NO_EVENT), bar_steps=4, bar_offset=2)["bar_position"]
    np.testing.assert_array_equal(found, position_code(np.array([2, 3, 0, 1, 2])))


def test_repeats_flag_a_fed_token_equal_to_the_one_one_two_four_and_eight_bars_before_it():
    melody = np.array([60, 62, 60, 64, 60, 62, 67, 60, 60, 61, 60, 61, 62, 63, 64, 65, 60, 66])
    repeats = melody_features(melody, bar_steps=2)["repeats"]
    # row i feeds melody[i - 1] and compares it with melody[i - 1 - 2k]; bars of 2 steps
    assert repeats[:10, 0].tolist() == [0, 0, 0, 1, 0, 1, 0, 0, 0, 0]
    assert repeats[:10, 1].tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 1]
    assert repeats[:10, 2].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert np.flatnonzero(repeats[:, 3]).tolist() == [17]  # melody[16] == melody[0]


def test_start_token_repeats_nothing_even_when_the_melody_begins_with_no_event():
    repeats = melody_features(np.full(40, NO_EVENT), bar_steps=16)["repeats"]
    assert repeats[0].tolist() == [0, 0, 0, 0]
    assert repeats[17].tolist() == [1, 0, 0, 0]


def test_an_empty_melody_has_no_rows():
    assert {k: v.shape for k, v in melody_features(np.zeros(0, np.int16)).items()} == {
        "lookback": (0, 4), "bar_position": (0, 5), "repeats": (0, 4)}


def test_bar_steps_beyond_the_position_code_are_rejected():
    with pytest.raises(ValueError, match="bar_steps 33 is outside 1..32"):
        FeatureTracker(33)


def test_tracker_rejects_a_bar_step_outside_the_bar():
    with pytest.raises(ValueError, match="bar_step 12 is outside 0..11"):
        FeatureTracker(12).features(START_TOKEN, 12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([60, 62, 64, NOTE_OFF, NO_EVENT]), min_size=1, max_size=160),
       st.integers(1, 32), st.data())
def test_tracker_agrees_with_melody_features(melody, bar_steps, data):
    bar_offset = data.draw(st.integers(0, bar_steps - 1))
    melody = np.array(melody)
    expected, got = melody_features(melody, bar_steps, bar_offset), tracked(melody, bar_steps, bar_offset)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_tracker_counts_on_from_the_bar_step_it_was_told():
    tracker = FeatureTracker(4)
    tracker.features(START_TOKEN)
    tracker.features(60)
    np.testing.assert_array_equal(tracker.features(62, bar_step=3)["bar_position"][0], position_code(0))
    np.testing.assert_array_equal(tracker.features(64)["bar_position"][0], position_code(1))


def test_tracker_state_restores_history_and_position():
    tracker = FeatureTracker(2)
    for token in (START_TOKEN, 60, 62, 64):
        tracker.features(token)
    saved = tracker.get_state()
    first = tracker.features(65)
    tracker.features(67)
    tracker.set_state(saved)
    again = tracker.features(65)
    assert all(np.array_equal(first[k], again[k]) for k in first)


def test_tracker_reset_forgets_the_history():
    tracker = FeatureTracker(2)
    for token in (START_TOKEN, 60, 62, 64):
        tracker.features(token)
    tracker.reset()
    assert tracker.features(START_TOKEN)["lookback"].tolist() == [[NONE] * 4]


def test_tracker_state_of_another_bar_length_is_rejected():
    with pytest.raises(ValueError, match=r"feature state shapes \[129\], \[2\] differ from \[97\], \[2\]"):
        FeatureTracker(12).set_state(FeatureTracker(16).get_state())
