"""Unigram and Kneser-Ney baselines on data small enough to check by hand."""

import math

import numpy as np
import pytest

from device.core.encoding import START_TOKEN, VOCAB_SIZE
from training.evaluation.baselines import KneserNey, Unigram, best_kneser_ney, ngrams, nll, padded


def test_unigram_probabilities_are_add_one_frequencies():
    unigram = Unigram.fit([np.array([0, 0, 1])])
    p = unigram.probabilities()
    assert p[0] == pytest.approx(3 / 133)
    assert p[1] == pytest.approx(2 / 133)
    assert p[5] == pytest.approx(1 / 133)
    assert p.sum() == pytest.approx(1.0)


def test_unigram_token_probs_follow_the_tokens():
    unigram = Unigram.fit([np.array([0, 0, 1])])
    assert unigram.token_probs([np.array([1, 0])]) == pytest.approx([2 / 133, 3 / 133])


def test_padded_prefixes_start_tokens():
    assert padded(np.array([5, 6]), 3).tolist() == [START_TOKEN, START_TOKEN, 5, 6]


def test_ngrams_give_one_key_per_target():
    keys = ngrams([np.array([1, 2]), np.array([], np.int16), np.array([3])], order=2, vocab=VOCAB_SIZE)
    assert keys.tolist() == [START_TOKEN * VOCAB_SIZE + 1, 1 * VOCAB_SIZE + 2, START_TOKEN * VOCAB_SIZE + 3]


def test_kneser_ney_bigram_matches_the_hand_computation():
    # bigrams (129,1) (1,2) (2,1) (1,2): D2 = n1/(n1+2n2) = 2/4; continuation counts 1:2, 2:1 -> D1 = 1/3
    model = KneserNey.fit([np.array([1, 2, 1, 2])], order=2)
    uniform_share = (1 / 3) * 2 / 3 / VOCAB_SIZE
    p1_of_2 = (1 - 1 / 3) / 3 + uniform_share
    assert model.prob(np.array([[1, 2]]))[0] == pytest.approx(1.5 / 2 + 0.5 * 1 / 2 * p1_of_2, rel=1e-12)
    assert model.prob(np.array([[7, 1]]))[0] == pytest.approx((2 - 1 / 3) / 3 + uniform_share, rel=1e-12)
    assert model.prob(np.array([[7, 9]]))[0] == pytest.approx(uniform_share, rel=1e-12)


@pytest.mark.parametrize("context", [(START_TOKEN, START_TOKEN), (1, 2), (2, 1), (3, 3), (128, 5)])
def test_kneser_ney_sums_to_one_over_the_vocabulary(context):
    melodies = [np.array([1, 2, 3, 1, 2, 128, 129, 3]), np.array([2, 1, 2, 1, 3, 3])]
    model = KneserNey.fit(melodies, order=3)
    assert model.distribution(np.array([context])).sum() == pytest.approx(1.0, abs=1e-12)


def test_kneser_ney_predicts_a_deterministic_cycle():
    cycle = np.tile([60, 62, 64, 129], 20)
    model = KneserNey.fit([cycle], order=3)
    assert model.predictions([cycle])[3:].tolist() == cycle[3:].tolist()


def test_order_search_prefers_context_on_a_cycle():
    cycle = np.tile([60, 62, 64, 62, 60, 129], 20)
    model, by_order = best_kneser_ney([cycle, cycle[::-1]], [cycle], max_order=4)
    assert sorted(by_order) == [1, 2, 3, 4]
    assert model.order == min(by_order, key=by_order.get)
    assert by_order[model.order] < by_order[1]


def test_nll_is_mean_negative_log():
    assert nll(np.array([0.5, 0.25])) == pytest.approx((math.log(2) + math.log(4)) / 2)


def test_kneser_ney_is_fast_enough_for_a_million_tokens():
    rng = np.random.default_rng(0)
    melodies = [rng.integers(50, 80, 1000) for _ in range(1000)]
    model = KneserNey.fit(melodies, order=6)
    assert model.token_probs(melodies[:10]).shape == (10_000,)
