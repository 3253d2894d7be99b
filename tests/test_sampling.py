"""device.sampling: knob mapping, greedy and seeded sampling, temperature, pitch mask."""

import math

import numpy as np
import pytest

from device import encoding
from device.controlstate import ControlState
from device.sampling import Sampler, temperature_from_knob

V = encoding.VOCAB_SIZE


def peaked_logits(top: int = 60, second: int = 62) -> np.ndarray:
    """Logits with a clear winner ``top`` (10), a runner-up ``second`` (9), the rest 0."""
    logits = np.zeros(V, dtype=np.float32)
    logits[top], logits[second] = 10.0, 9.0
    return logits


def test_knob_at_zero_gives_low():
    assert temperature_from_knob(0.0) == pytest.approx(0.05)


def test_knob_at_middle_gives_exactly_one():
    assert temperature_from_knob(0.5) == 1.0


def test_knob_at_one_gives_high():
    assert temperature_from_knob(1.0) == pytest.approx(3.0)


def test_knob_is_geometric_on_each_half():
    assert temperature_from_knob(0.25, low=0.04, high=4.0) == pytest.approx(0.2)  # sqrt(0.04)
    assert temperature_from_knob(0.75, low=0.04, high=4.0) == pytest.approx(2.0)  # sqrt(4)


def test_knob_is_strictly_increasing():
    values = [temperature_from_knob(p / 100) for p in range(101)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))


def test_knob_clamps_positions_outside_zero_to_one():
    assert temperature_from_knob(-0.2) == temperature_from_knob(0.0)
    assert temperature_from_knob(1.3) == temperature_from_knob(1.0)


def test_knob_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        temperature_from_knob(math.nan)


def test_knob_rejects_a_range_that_does_not_straddle_one():
    with pytest.raises(ValueError, match="0 < low < 1 < high"):
        temperature_from_knob(0.3, low=1.5, high=3.0)


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
    probabilities = Sampler().probabilities(peaked_logits(), ControlState(1.0))
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
