"""training.data.windows with metre and lookback inputs: windows on bar lines, features from the whole melody."""

import numpy as np
import pytest

from device.core.encoding import NO_EVENT, NOTE_OFF, START_TOKEN
from device.core.features import FEATURES, LOOKBACK_BARS, NONE, melody_features
from training.data.dataset import MelodySet
from training.data.windows import make_windows, metres, sequence_inputs, window_starts

BACK = len(LOOKBACK_BARS)  # bars the lookback reaches: one column each


def test_windows_start_at_the_melody_then_on_bar_lines():
    # first step on bar step 4 of 16: bar lines at melody steps 12, 28, 44, ...; stride 30 rounds up to 2 bars
    assert window_starts(100, window=40, stride=30, metre=(16, 4)) == [0, 12, 44, 76]


def test_windows_of_a_melody_from_the_bar_line_step_a_whole_number_of_bars():
    assert window_starts(100, window=40, stride=24, metre=(12, 0)) == [0, 24, 48, 72]


def test_without_a_metre_windows_start_every_stride_steps():
    assert window_starts(10, window=4, stride=2, metre=None) == [0, 2, 4, 6]


def test_lookback_windows_carry_the_features_of_the_whole_melody():
    melody = np.arange(40) % 12 + 60
    inputs, targets, weights = make_windows([melody], window=16, stride=16, melody_metres=[(4, 0)],
                                            feature_names=FEATURES)
    whole = melody_features(melody, 4, 0)
    assert sorted(inputs) == ["bar_position", "lookback", "repeats", "tokens"]
    assert inputs["lookback"].shape == (3, 16, BACK)
    np.testing.assert_array_equal(inputs["lookback"][1], whole["lookback"][16:32])  # 16 steps in: sees bars back
    np.testing.assert_array_equal(inputs["tokens"][1], melody[15:31])
    np.testing.assert_array_equal(targets[1], melody[16:32])
    assert weights.sum() == 40


def test_padded_steps_look_back_at_nothing():
    inputs, _, weights = make_windows([np.array([60, 62, 64])], window=5, stride=5, melody_metres=[(1, 0)],
                                      feature_names=FEATURES)
    assert weights[0].tolist() == [1, 1, 1, 0, 0]
    assert inputs["lookback"][0, 3:].tolist() == [[NONE] * BACK] * 2
    assert inputs["repeats"][0, 3:].tolist() == [[0] * BACK] * 2


def test_a_token_only_model_gets_the_tokens_alone():
    inputs, _, _ = make_windows([np.array([60, NO_EVENT, NOTE_OFF])], window=3, stride=3, melody_metres=[(16, 0)])
    assert inputs.tolist() == [[START_TOKEN, 60, NO_EVENT]]


def test_sequence_inputs_of_a_whole_melody_for_a_lookback_model():
    found = sequence_inputs(np.array([60, 62, 64]), (16, 0), FEATURES)
    assert found["tokens"].tolist() == [[START_TOKEN, 60, 62]]
    assert {name: array.shape for name, array in found.items()} == {
        "tokens": (1, 3), "lookback": (1, 3, BACK), "bar_position": (1, 3, 5), "repeats": (1, 3, BACK)}


def test_metres_default_to_four_four_from_the_bar_line_without_metre_data():
    assert metres(MelodySet([np.array([60])] * 2, ["a", "b"]), [0, 1]) == [(16, 0), (16, 0)]


def test_metres_are_read_per_melody():
    melody_set = MelodySet([np.array([60])] * 3, ["a", "b", "c"], bar_steps=np.array([16, 12, 6], np.int16),
                           bar_offset=np.array([0, 3, 5], np.int16))
    assert metres(melody_set, [2, 1]) == [(6, 5), (12, 3)]


@pytest.mark.tf
def test_transposition_moves_lookback_notes_with_the_tokens():
    pytest.importorskip("tensorflow")
    from training.data.windows import transpose_window

    tokens = np.array([START_TOKEN, 60, 62, NOTE_OFF], np.int32)
    lookback = np.array([[NONE, NONE, NONE], [NONE, NONE, NONE], [60, NONE, NONE], [62, NO_EVENT, NONE]], np.int32)
    shifts = set()
    for _ in range(20):  # the draw depends on what ran before in this process: look at several, not one
        moved, targets, _ = transpose_window({"tokens": tokens, "lookback": lookback}, np.array([60, 62, 64, 60]),
                                             np.ones(4, np.float32), max_shift=1, seed=1)
        shift = int(np.asarray(targets)[0]) - 60
        shifts.add(shift)
        assert np.asarray(moved["tokens"]).tolist() == [START_TOKEN, 60 + shift, 62 + shift, NOTE_OFF]
        assert np.asarray(moved["lookback"]).tolist() == [[NONE] * 3, [NONE] * 3, [60 + shift, NONE, NONE],
                                                          [62 + shift, NO_EVENT, NONE]]
    assert shifts <= {-1, 0, 1} and shifts - {0}  # real shifts among them, never beyond max_shift
