"""device.generator: priming, feeding tokens back, exact reset (reading a primer from MIDI: test_midireader.py)."""

import numpy as np
import pytest

from device.controlstate import ControlState
from device.encoding import NO_EVENT, NOTE_OFF, START_TOKEN
from device.generator import Generator
from device.model import StepModel
from device.sampling import Sampler
from tests.recording import shipped_model_path

PRIMER = [60, NO_EVENT, 62, NO_EVENT, 64, NOTE_OFF, 67, NO_EVENT]


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def reference():
    """A second instance of the same model, stepped by hand to derive expectations."""
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


def states_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_priming_feeds_the_start_token_then_the_primer(model, reference):
    generator = Generator(model, Sampler(seed=0), primer=PRIMER)
    reference.reset()
    for token in [START_TOKEN, *PRIMER]:
        expected = reference.step(token)
    np.testing.assert_array_equal(generator.logits, expected)
    assert states_equal(model.get_state(), reference.get_state())


def test_without_primer_only_the_start_token_is_fed(model, reference):
    generator = Generator(model, Sampler(seed=0))
    reference.reset()
    np.testing.assert_array_equal(generator.logits, reference.step(START_TOKEN))


def test_next_token_samples_the_current_logits_and_feeds_the_token_back(model, reference):
    generator = Generator(model, Sampler(seed=0), primer=PRIMER)
    reference.reset()
    for token in [START_TOKEN, *PRIMER]:
        logits = reference.step(token)
    for _ in range(12):
        expected = int(np.argmax(logits))  # temperature 0: greedy, no randomness involved
        assert generator.next_token(ControlState(0.0)) == expected
        logits = reference.step(expected)
        np.testing.assert_array_equal(generator.logits, logits)


def test_same_seed_same_melody(model):
    first = Generator(model, Sampler(seed=42), primer=PRIMER)
    melody = [first.next_token(ControlState(1.0)) for _ in range(32)]
    second = Generator(model, Sampler(seed=42), primer=PRIMER)
    assert [second.next_token(ControlState(1.0)) for _ in range(32)] == melody


def test_reset_returns_to_the_primed_state_exactly(model):
    generator = Generator(model, Sampler(seed=1), primer=PRIMER)
    primed_state, primed_logits = model.get_state(), generator.logits
    for _ in range(20):
        generator.next_token(ControlState(1.5))
    generator.reset()
    assert states_equal(model.get_state(), primed_state)
    np.testing.assert_array_equal(generator.logits, primed_logits)


def test_after_reset_a_reseeded_sampler_repeats_the_melody(model):
    sampler = Sampler(seed=9)
    generator = Generator(model, sampler, primer=PRIMER)
    melody = [generator.next_token(ControlState(1.0)) for _ in range(24)]
    generator.reset()
    sampler.reseed(9)
    assert [generator.next_token(ControlState(1.0)) for _ in range(24)] == melody


def test_reset_does_not_rewind_the_random_stream(model):
    sampler = Sampler(seed=9)
    generator = Generator(model, sampler)
    generator.next_token(ControlState(1.0))
    state_before_reset = sampler.rng.bit_generator.state
    generator.reset()
    assert sampler.rng.bit_generator.state == state_before_reset


def test_primer_tokens_are_checked(model):
    with pytest.raises(ValueError, match="token 200 is outside the vocabulary"):
        Generator(model, Sampler(), primer=[60, 200])
