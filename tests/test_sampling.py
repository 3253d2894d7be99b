"""device.engine.sampling: knob mapping, greedy and seeded sampling, temperature, pitch mask."""

import math

import numpy as np
import pytest

from device.core import encoding
from device.engine.controlstate import ControlState
from device.engine.sampling import Sampler

V = encoding.VOCAB_SIZE


def peaked_logits(top: int = 60, second: int = 62) -> np.ndarray:
    """Logits with a clear winner ``top`` (10), a runner-up ``second`` (9), the rest 0."""
    logits = np.zeros(V, dtype=np.float32)
    logits[top], logits[second] = 10.0, 9.0
    return logits


def test_temperature_zero_is_greedy():
    assert Sampler(seed=1).sample(peaked_logits(), ControlState(0.0)) == 60


def test_greedy_ignores_the_random_stream():
    sampler = Sampler(seed=1)
    state = sampler.rng.bit_generator.state
    sampler.sample(peaked_logits(), ControlState(0.0))
    assert sampler.rng.bit_generator.state == state


def test_same_seed_same_tokens():
    logits = np.linspace(-1.0, 1.0, V, dtype=np.float32)
    a, b = Sampler(seed=7), Sampler(seed=7)
    first = [a.sample(logits, ControlState(1.0)) for _ in range(50)]
    second = [b.sample(logits, ControlState(1.0)) for _ in range(50)]
    assert first == second


def test_different_seeds_differ():
    logits = np.zeros(V, dtype=np.float32)
    a, b = Sampler(seed=1), Sampler(seed=2)
    warm = ControlState(1.0)
    assert [a.sample(logits, warm) for _ in range(20)] != [b.sample(logits, warm) for _ in range(20)]


def test_reseed_restarts_the_stream():
    logits = np.zeros(V, dtype=np.float32)
    sampler = Sampler(seed=3)
    first = [sampler.sample(logits, ControlState(1.0)) for _ in range(10)]
    sampler.reseed(3)
    assert [sampler.sample(logits, ControlState(1.0)) for _ in range(10)] == first


def test_tiny_temperature_is_near_greedy():
    sampler = Sampler(seed=0)
    assert {sampler.sample(peaked_logits(), ControlState(0.01)) for _ in range(200)} == {60}


def test_high_temperature_flattens_the_distribution():
    probabilities = Sampler().probabilities(peaked_logits(), ControlState(1000.0))
    assert probabilities.max() - probabilities.min() < 0.001


def test_probabilities_follow_the_softmax():
    probabilities = Sampler(tail_cut=0).probabilities(peaked_logits(), ControlState(1.0))
    expected = np.exp(peaked_logits().astype(np.float64))
    np.testing.assert_allclose(probabilities, expected / expected.sum(), rtol=1e-12)


def test_softmax_is_stable_for_huge_logits():
    logits = np.full(V, 1e30, dtype=np.float32)
    logits[5] = 3e38
    probabilities = Sampler().probabilities(logits, ControlState(0.05))
    assert probabilities[5] == 1.0
    assert Sampler(seed=0).sample(logits, ControlState(0.05)) == 5


def test_sampling_follows_the_probabilities():
    logits = np.full(V, -1e4, dtype=np.float32)
    logits[[10, 20]] = [0.0, math.log(3.0)]  # 1 : 3
    sampler = Sampler(seed=11)
    draws = [sampler.sample(logits, ControlState(1.0)) for _ in range(4000)]
    assert set(draws) == {10, 20}
    assert 0.70 < draws.count(20) / len(draws) < 0.80


def test_pitch_range_excludes_note_ons_outside_it():
    sampler = Sampler(seed=0, pitch_range=(48, 72))
    probabilities = sampler.probabilities(np.zeros(V, dtype=np.float32), ControlState(1.0))
    assert np.all(probabilities[:48] == 0)
    assert np.all(probabilities[73:128] == 0)
    assert np.all(probabilities[48:73] > 0)


def test_pitch_range_never_masks_note_off_or_no_event():
    probabilities = Sampler(pitch_range=(60, 60)).probabilities(np.zeros(V, dtype=np.float32), ControlState(1.0))
    assert probabilities[encoding.NOTE_OFF] == pytest.approx(1 / 3)
    assert probabilities[encoding.NO_EVENT] == pytest.approx(1 / 3)


def test_greedy_respects_the_pitch_range():
    assert Sampler(pitch_range=(64, 80)).sample(peaked_logits(top=60, second=70), ControlState(0.0)) == 70


def test_sampled_tokens_stay_in_the_pitch_range():
    sampler = Sampler(seed=5, pitch_range=(55, 58))
    draws = {sampler.sample(np.zeros(V, dtype=np.float32), ControlState(3.0)) for _ in range(500)}
    assert draws <= {55, 56, 57, 58, encoding.NOTE_OFF, encoding.NO_EVENT}


def test_bad_pitch_range_is_rejected():
    with pytest.raises(ValueError, match="pitch_range"):
        Sampler(pitch_range=(70, 60))


def test_negative_temperature_is_rejected():
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        Sampler().sample(peaked_logits(), ControlState(-0.1))


def test_nan_logits_are_rejected():
    logits = peaked_logits()
    logits[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Sampler().sample(logits, ControlState(1.0))


def test_wrong_logit_count_is_rejected():
    with pytest.raises(ValueError, match="expected 130"):
        Sampler().sample(np.zeros(12, dtype=np.float32), ControlState(1.0))


# --- the tail cut ------------------------------------------------------------------------------

def test_the_tail_cut_never_draws_a_token_under_its_share_of_the_likeliest():
    logits = np.full(V, -1e4, dtype=np.float32)
    logits[[60, 61, 62]] = [0.0, math.log(0.004), math.log(0.006)]  # 1 : 0.004 : 0.006
    probabilities = Sampler(tail_cut=0.005).probabilities(logits, ControlState(1.0))
    assert probabilities[61] == 0
    assert probabilities[[60, 62]] == pytest.approx([1 / 1.006, 0.006 / 1.006], rel=1e-6)
    sampler = Sampler(seed=3, tail_cut=0.005)
    assert 61 not in {sampler.sample(logits, ControlState(1.0)) for _ in range(3000)}


def test_tail_cut_zero_draws_from_the_whole_distribution():
    logits = spread_logits() * 4  # odds down to e^-16 against the likeliest
    whole = Sampler(tail_cut=0).probabilities(logits, ControlState(1.0))
    assert np.all(whole > 0)
    assert np.count_nonzero(Sampler(tail_cut=0.005).probabilities(logits, ControlState(1.0))) < V


def test_the_tail_cut_is_taken_after_temperature_against_the_likeliest_token():
    logits = np.full(V, -1e4, dtype=np.float32)
    logits[[60, 61]] = [0.0, math.log(1e-4)]  # 1 : 0.0001 as the model says
    sampler = Sampler(tail_cut=0.005)
    assert sampler.probabilities(logits, ControlState(1.0))[61] == 0
    assert sampler.probabilities(logits, ControlState(3.0))[61] > 0  # wild: 1 : 0.046, kept


def test_the_box_cuts_the_tail_by_default():
    from device.engine.sampling import DEFAULT_TAIL_CUT

    assert Sampler().tail_cut == DEFAULT_TAIL_CUT > 0


@pytest.mark.parametrize("cut", [-0.1, 1.0, math.nan])
def test_a_tail_cut_outside_zero_to_one_is_refused(cut):
    with pytest.raises(ValueError, match="tail_cut must be 0..1"):
        Sampler(tail_cut=cut)


# --- the musical controls ---------------------------------------------------------------------

C_MAJOR = [p for p in range(128) if p % 12 in {0, 2, 4, 5, 7, 9, 11}]
OUT_OF_C_MAJOR = [p for p in range(128) if p not in C_MAJOR]


def spread_logits(seed: int = 0) -> np.ndarray:
    """Logits with every token likely enough to matter: a fixed random spread in -2..2."""
    return np.random.default_rng(seed).uniform(-2.0, 2.0, V).astype(np.float32)


def masses(probabilities):
    """(new note, rest, hold): the summed probability of note-ons, NOTE_OFF and NO_EVENT."""
    return probabilities[:128].sum(), probabilities[encoding.NOTE_OFF], probabilities[encoding.NO_EVENT]


def test_neutral_controls_without_the_tail_cut_give_the_plain_softmax_bit_for_bit():
    logits = spread_logits()
    plain = np.exp(logits.astype(np.float64) / 0.7 - (logits.astype(np.float64) / 0.7).max())
    neutral = ControlState(0.7, scale="chromatic", density=0.5, register_centre=64, register_width=128)
    assert np.array_equal(Sampler(tail_cut=0).probabilities(logits, neutral), plain / plain.sum())


def test_hard_scale_lock_gives_out_of_scale_pitches_no_probability():
    probabilities = Sampler().probabilities(spread_logits(), ControlState(1.0, scale="major", strictness=1.0))
    assert np.all(probabilities[OUT_OF_C_MAJOR] == 0)
    assert np.all(probabilities[C_MAJOR] > 0)


def test_scale_lock_keeps_the_masses_of_new_note_rest_and_hold():
    sampler, logits = Sampler(tail_cut=0), spread_logits()
    free = masses(sampler.probabilities(logits, ControlState(1.3)))
    for strictness in (0.3, 0.8, 1.0):
        locked = sampler.probabilities(logits, ControlState(1.3, scale="blues", scale_root=4, strictness=strictness))
        np.testing.assert_allclose(masses(locked), free, rtol=1e-12)


def test_partial_strictness_scales_out_of_scale_odds_by_the_penalty():
    from device.engine.sampling import STRICTNESS_NATS

    logits = np.zeros(V, dtype=np.float32)
    probabilities = Sampler().probabilities(logits, ControlState(1.0, scale="major", strictness=0.5))
    assert probabilities[61] / probabilities[60] == pytest.approx(math.exp(-STRICTNESS_NATS * 0.5 / 0.5))


def test_the_out_of_scale_share_shrinks_as_strictness_grows():
    logits = spread_logits()
    whole = Sampler(tail_cut=0)
    shares = [whole.probabilities(logits, ControlState(1.0, scale="major", strictness=s))[OUT_OF_C_MAJOR].sum()
              for s in (0.0, 0.25, 0.5, 0.75, 0.95, 1.0)]
    assert all(a > b for a, b in zip(shares, shares[1:], strict=False))
    assert shares[-1] == 0


def test_strictness_zero_leaves_the_distribution_as_it_was():
    logits = spread_logits()
    free = Sampler(tail_cut=0).probabilities(logits, ControlState(1.0))
    locked = Sampler(tail_cut=0).probabilities(logits, ControlState(1.0, scale="major", strictness=0.0))
    assert np.array_equal(free, locked)


def test_greedy_under_a_hard_lock_picks_the_best_in_scale_pitch_not_a_rest():
    logits = peaked_logits(top=61, second=63)  # C# and D#, both outside C major; the rest at 0
    logits[62] = 1.0
    assert Sampler().sample(logits, ControlState(0.0, scale="major", strictness=1.0)) == 62


def test_register_excludes_pitches_outside_its_window():
    probabilities = Sampler().probabilities(spread_logits(), ControlState(1.0, register_centre=72,
                                                                            register_width=12))
    assert np.nonzero(probabilities[:128])[0].tolist() == list(range(66, 79))


def test_register_keeps_the_masses_of_new_note_rest_and_hold():
    sampler, logits = Sampler(pitch_range=(40, 90)), spread_logits(3)
    narrow = sampler.probabilities(logits, ControlState(1.0, register_centre=50, register_width=4))
    np.testing.assert_allclose(masses(narrow), masses(sampler.probabilities(logits, ControlState(1.0))), rtol=1e-12)


def test_a_register_below_the_pitch_range_slides_up_into_it():
    probabilities = Sampler(pitch_range=(52, 96)).probabilities(
        spread_logits(), ControlState(1.0, register_centre=30, register_width=4))
    assert np.nonzero(probabilities[:128])[0].tolist() == [52, 53, 54, 55, 56]


def test_a_register_above_the_pitch_range_slides_down_into_it():
    probabilities = Sampler(pitch_range=(52, 96)).probabilities(
        spread_logits(), ControlState(1.0, register_centre=120, register_width=2))
    assert np.nonzero(probabilities[:128])[0].tolist() == [94, 95, 96]


def test_a_hard_lock_with_no_scale_pitch_in_the_register_allows_the_nearest_scale_pitches():
    probabilities = Sampler().probabilities(
        spread_logits(), ControlState(1.0, scale="major", strictness=1.0, register_centre=61, register_width=0))
    assert np.nonzero(probabilities[:128])[0].tolist() == [60, 62]


def test_a_pitch_range_without_scale_pitches_cannot_be_locked():
    probabilities = Sampler(pitch_range=(61, 61)).probabilities(
        spread_logits(), ControlState(1.0, scale="major", strictness=1.0))
    assert np.nonzero(probabilities[:128])[0].tolist() == [61]


def test_density_multiplies_the_odds_of_a_new_note():
    from device.engine.sampling import DENSITY_NATS

    sampler, logits = Sampler(tail_cut=0), spread_logits()
    neutral = masses(sampler.probabilities(logits, ControlState(1.0)))[0]
    for density in (0.0, 0.2, 0.9, 1.0):
        new = masses(sampler.probabilities(logits, ControlState(1.0, density=density), sounding=True))[0]
        odds = (new / (1 - new)) / (neutral / (1 - neutral))
        assert odds == pytest.approx(math.exp(DENSITY_NATS * (2 * density - 1)), rel=1e-9)


def test_density_leaves_the_choice_among_pitches_and_between_hold_and_rest():
    sampler, logits = Sampler(tail_cut=0), spread_logits()
    neutral = sampler.probabilities(logits, ControlState(1.0))
    sparse = sampler.probabilities(logits, ControlState(1.0, density=0.1), sounding=True)
    np.testing.assert_allclose(sparse[:128] / sparse[:128].sum(), neutral[:128] / neutral[:128].sum(), rtol=1e-12)
    assert sparse[128] / sparse[129] == pytest.approx(neutral[128] / neutral[129], rel=1e-12)


def test_under_density_a_rest_while_silent_is_played_as_no_event():
    sampler, logits = Sampler(), spread_logits()
    neutral = sampler.probabilities(logits, ControlState(1.0))
    silent = sampler.probabilities(logits, ControlState(1.0, density=0.5 + 1e-9), sounding=False)
    assert silent[encoding.NOTE_OFF] == 0
    assert silent[encoding.NO_EVENT] == pytest.approx(neutral[encoding.NOTE_OFF] + neutral[encoding.NO_EVENT])


@pytest.mark.parametrize(("controls", "message"), [
    (ControlState(1.0, scale="major", strictness=1.5), "strictness must be 0..1"),
    (ControlState(1.0, density=-0.1), "density must be 0..1"),
    (ControlState(1.0, scale="lydian"), "unknown scale 'lydian'"),
    (ControlState(1.0, register_centre=130), "register 130:128 needs a centre 0..127"),
])
def test_bad_control_values_are_refused(controls, message):
    with pytest.raises(ValueError, match=message):
        Sampler(seed=0).sample(spread_logits(), controls)


def test_choose_is_a_function_of_the_draw():
    sampler, logits, controls = Sampler(), spread_logits(), ControlState(1.0, scale="dorian", strictness=0.6)
    cumulative = np.cumsum(sampler.probabilities(logits, controls))
    for draw in (0.0, 0.3, 0.77, 0.999):
        assert sampler.choose(logits, controls, draw) == int(np.searchsorted(cumulative, draw * cumulative[-1],
                                                                               side="right"))


def test_sample_is_choose_with_the_next_draw():
    logits, controls = spread_logits(), ControlState(1.0, density=0.8)
    a, b = Sampler(seed=4), Sampler(seed=4)
    assert [a.sample(logits, controls, True) for _ in range(30)] == [
        b.choose(logits, controls, b.draw(), True) for _ in range(30)]


def test_replay_decisions_have_their_own_random_stream():
    sampler = Sampler(seed=2)
    state = sampler.rng.bit_generator.state
    decisions = [sampler.replay(0.5) for _ in range(200)]
    assert sampler.rng.bit_generator.state == state
    assert 70 < sum(decisions) < 130


def test_replay_probability_zero_never_and_one_always_replays():
    sampler = Sampler(seed=2)
    assert [sampler.replay(0.0) for _ in range(50)] == [False] * 50
    assert [sampler.replay(1.0) for _ in range(50)] == [True] * 50
