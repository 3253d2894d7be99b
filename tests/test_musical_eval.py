"""Musical evaluation: each feature on melodies small enough to count by hand, OA/KL, and the compared sets."""

import numpy as np
import pytest

from device.core.encoding import NO_EVENT, NOTE_OFF
from training.evaluation.baselines import KneserNey
from training.musical.compare import compare_feature, compare_sets, cut, format_musical, generate, overlap, sample_ngram
from training.musical.features import (
    Melody,
    bar_repetition,
    feature_table,
    in_key_fraction,
    inter_onset_interval,
    key_held,
    longest_repeat,
    mean_interval,
    note_count,
    note_length_histogram,
    pitch_class_histogram,
    pitch_count,
    pitch_range,
    same_note_bars_back,
    silence_share,
)

HOLD = [NO_EVENT] * 3
C_BAR = [60, *HOLD, 62, *HOLD, 64, *HOLD, 65, *HOLD]  # four quarter notes C D E F


def four_bars() -> Melody:
    return Melody.of(C_BAR * 4)


def chromatic() -> Melody:
    """Twelve 16th notes C..B, then a rest of four steps."""
    return Melody.of([*range(60, 72), NOTE_OFF, NO_EVENT, NO_EVENT, NO_EVENT])


def test_pitch_features_of_a_repeated_bar():
    melody = four_bars()
    assert pitch_count(melody) == 4
    assert pitch_range(melody) == 5
    assert note_count(melody) == 16
    assert mean_interval(melody) == pytest.approx((4 * (2 + 2 + 1) + 3 * 5) / 15)


def test_pitch_class_histogram_is_the_share_of_notes_per_class():
    assert pitch_class_histogram(four_bars()).tolist() == [0.25, 0, 0.25, 0, 0.25, 0.25, 0, 0, 0, 0, 0, 0]
    assert pitch_class_histogram(chromatic()) == pytest.approx(np.full(12, 1 / 12))


def test_rhythm_features_count_steps():
    assert inter_onset_interval(four_bars()) == 4.0
    assert note_length_histogram(four_bars()).tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert silence_share(four_bars()) == 0.0
    assert silence_share(chromatic()) == 4 / 16


def test_a_note_length_without_a_name_goes_to_the_last_bin():
    melody = Melody.of([60, *[NO_EVENT] * 4, 62])  # 5 steps, then 1
    assert note_length_histogram(melody).tolist() == [0.5, 0, 0, 0, 0, 0, 0, 0, 0.5]


def test_bar_repetition_counts_bars_equal_to_an_earlier_one():
    assert bar_repetition(four_bars()) == 3
    assert bar_repetition(Melody.of(C_BAR + [62] + C_BAR[1:] + C_BAR)) == 1


def test_silent_bars_are_not_repetitions():
    assert bar_repetition(Melody.of(C_BAR + [NOTE_OFF] + [NO_EVENT] * 47)) == 0


def test_bars_start_where_the_bar_offset_puts_the_bar_line():
    shifted = Melody.of([NO_EVENT] * 4 + C_BAR * 2 + [NO_EVENT] * 12, bar_offset=12)
    assert [bar.tolist() for bar in shifted.bars()] == [C_BAR, C_BAR]
    assert bar_repetition(shifted) == 1


def test_longest_repeat_does_not_overlap_itself():
    assert longest_repeat(four_bars()) == 32
    assert longest_repeat(Melody.of([60, 62, 64, 67, 60, 62, 64, 65])) == 3


def test_same_note_bars_back_is_a_share_of_the_note_ons_that_far_in():
    melody = four_bars()
    assert same_note_bars_back(1)(melody) == 1.0
    assert same_note_bars_back(2)(melody) == 1.0
    assert same_note_bars_back(4)(melody) == 0.0  # no note-on 4 bars in
    changed = Melody.of(C_BAR + [67] + C_BAR[1:])
    assert same_note_bars_back(1)(changed) == 3 / 4


def test_in_key_fraction_takes_the_best_diatonic_set():
    assert in_key_fraction(four_bars()) == 1.0
    assert in_key_fraction(chromatic()) == pytest.approx(7 / 12)


def test_key_held_measures_the_second_half_in_the_first_halfs_key():
    c_major_then_b_major = Melody.of([60, 62, 64, 65, 66, 68, 70, 71])  # C D E F | F# G# A# B
    assert key_held(c_major_then_b_major) == pytest.approx(1 / 4)  # of the keys holding C D E F, F major has A#
    assert key_held(four_bars()) == 1.0


def test_feature_table_has_a_row_per_melody_and_a_column_per_histogram_bin():
    table = feature_table([four_bars(), chromatic()])
    assert table["note_count"].tolist() == [16, 12]
    assert table["pitch_class_histogram"].shape == (2, 12)


def test_identical_samples_overlap_fully_with_no_divergence():
    values = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    result = overlap(values, values)
    assert result["oa"] == pytest.approx(1.0)
    assert result["kl"] == pytest.approx(0.0, abs=1e-9)


def test_disjoint_samples_do_not_overlap():
    result = overlap(np.array([0.0, 1.0, 2.0, 1.5]), np.array([100.0, 101.0, 102.0, 101.5]))
    assert result["oa"] == pytest.approx(0.0, abs=1e-6)
    assert result["kl"] > 10


def test_two_constant_samples_of_one_value_overlap_fully():
    assert overlap(np.zeros(5), np.zeros(3))["oa"] == pytest.approx(1.0)


def test_histograms_are_compared_by_distances_to_the_reference():
    reference = np.tile([0.5, 0.5, 0.0], (4, 1))
    assert compare_feature(reference, reference[:3])["oa"] == pytest.approx(1.0)
    assert compare_feature(reference, np.tile([0.0, 0.0, 1.0], (3, 1)))["oa"] == pytest.approx(0.0, abs=1e-6)


def test_compare_sets_scores_every_feature_of_every_set_and_sums_up():
    reference = [four_bars(), Melody.of(C_BAR * 3 + [67] + C_BAR[1:])]
    report = compare_sets(reference, {"same": [four_bars(), four_bars()], "other": [chromatic(), chromatic()]})
    assert list(report["rows"]) == ["same", "other"]
    assert set(report["rows"]["same"]) == set(report["features"])
    assert report["rows"]["same"]["bar_repetition"]["oa"] > report["rows"]["other"]["bar_repetition"]["oa"]
    assert report["summary"]["same"]["repeat_a_bar"] == 1.0
    assert report["summary"]["other"]["fully_in_one_key"] == 0.0
    assert "| bar_repetition |" in format_musical(report)


def test_a_set_of_one_melody_is_refused():
    with pytest.raises(ValueError, match="'model' needs at least 2 melodies"):
        compare_sets([four_bars(), chromatic()], {"model": [four_bars()]})


def test_cut_keeps_melodies_long_enough_with_their_metre():
    kept = cut([np.arange(10), np.arange(3), np.arange(8)], 8, [(16, 0), (16, 4), (12, 2)])
    assert [(m.tolist(), metre) for m, metre in kept] == [(list(range(8)), (16, 0)), (list(range(8)), (12, 2))]


def test_ngram_samples_follow_a_learned_cycle_and_repeat_with_the_seed():
    cycle = np.tile([60, 62, 64, NO_EVENT], 50)
    ngram = KneserNey.fit([cycle] * 5, order=3)
    first, again = sample_ngram(ngram, 4, 40, 1.0, seed=3), sample_ngram(ngram, 4, 40, 1.0, seed=3)
    assert [m.tolist() for m in first] == [m.tolist() for m in again]
    follows = {(60, 62), (62, 64), (64, NO_EVENT), (NO_EVENT, 60)}
    pairs = [(int(a), int(b)) for m in first for a, b in zip(m[:-1], m[1:], strict=True)]
    assert sum(pair in follows for pair in pairs) / len(pairs) > 0.9


def test_ngram_samples_under_a_tail_cut_leave_out_a_rare_turn():
    cycle, rare = np.tile([60, 62, 64, NO_EVENT], 50), np.tile([60, 61, 64, NO_EVENT], 2)
    ngram = KneserNey.fit([cycle] * 2 + [rare], order=2)  # after 60: 62 100 times, 61 twice
    turns = {}
    for tail_cut in (0.0, 0.05):
        sampled = sample_ngram(ngram, 40, 40, 1.0, seed=3, tail_cut=tail_cut)
        turns[tail_cut] = sum(a == 60 and b == 61 for m in sampled for a, b in zip(m[:-1], m[1:], strict=True))
    assert turns[0.0] > 0 and turns[0.05] == 0


class CountingModel:
    """A step model whose next token is always 60 + (tokens fed since reset) % 3, with get/set_state."""

    def __init__(self):
        self.fed = 0

    def reset(self):
        self.fed = 0

    def step(self, token):
        self.fed += 1
        logits = np.zeros(130, np.float32)
        logits[60 + self.fed % 3] = 50.0
        return logits

    def get_state(self):
        return self.fed

    def set_state(self, state):
        self.fed = state


def test_generate_starts_every_melody_from_the_primed_state():
    from device.engine.generator import Generator
    from device.engine.sampling import Sampler
    from training.musical.run import box_controls

    melodies = generate(Generator(CountingModel(), Sampler(seed=0)), 2, 5, box_controls(0.0))
    assert [m.tolist() for m in melodies] == [[61, 62, 60, 61, 62]] * 2


def test_the_shipped_model_plays_melodies_through_the_box_generator():
    from tests.recording import ROOT
    from training.musical.run import box_melodies

    model = ROOT / "models" / "default.tflite"
    first, again = box_melodies(model, 2, 16, 1.0, seed=5), box_melodies(model, 2, 16, 1.0, seed=5)
    assert [m.tolist() for m in first] == [m.tolist() for m in again]
    assert all(len(m) == 16 and m.min() >= 0 and m.max() <= NO_EVENT for m in first)


def test_generated_melodies_take_their_bar_lengths_from_the_reference_in_its_proportions():
    from training.musical.run import drawn_bar_steps

    metres = [(12, 0)] * 3 + [(16, 4)]
    drawn = drawn_bar_steps(metres, 400, seed=1)
    assert set(drawn) == {12, 16}
    assert 0.65 < drawn.count(12) / 400 < 0.85
    assert drawn == drawn_bar_steps(metres, 400, seed=1)


def test_the_box_plays_each_melody_in_the_bar_length_given_for_it():
    from device.engine.generator import Generator
    from device.engine.model import StepModel
    from device.engine.sampling import Sampler
    from tests.recording import ROOT
    from training.musical.run import box_controls, box_melodies

    model = ROOT / "models" / "default.tflite"
    played = box_melodies(model, 3, 24, 1.0, seed=5, bar_steps=[12, 16, 12])
    sampler = Sampler(5)  # the same stream: the 12-step bars first, then the 16-step one
    with StepModel(model, bar_steps=12) as in_12:
        jigs = generate(Generator(in_12, sampler), 2, 24, box_controls(1.0))
    with StepModel(model, bar_steps=16) as in_16:
        reel = generate(Generator(in_16, sampler), 1, 24, box_controls(1.0))
    assert [m.tolist() for m in played] == [jigs[0].tolist(), reel[0].tolist(), jigs[1].tolist()]
