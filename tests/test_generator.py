"""device.engine.generator: priming, feeding tokens back, exact reset (a primer from MIDI: test_midireader.py)."""

import numpy as np
import pytest

from device.core import encoding
from device.core.encoding import NO_EVENT, NOTE_OFF, START_TOKEN
from device.engine.controlstate import ControlState
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler
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


def primed_by_hand(reference, primer):
    """Feed START_TOKEN then ``primer`` as the generator does (the primer ends on a bar line); the last logits."""
    reference.reset()
    logits = reference.step(START_TOKEN, -len(primer) % reference.bar_steps)
    for token in primer:
        logits = reference.step(token)
    return logits


def states_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_priming_feeds_the_start_token_then_the_primer_ending_on_a_bar_line(model, reference):
    generator = Generator(model, Sampler(seed=0), primer=PRIMER)
    expected = primed_by_hand(reference, PRIMER)  # the primer's last step ends a bar
    np.testing.assert_array_equal(generator.logits, expected)
    assert states_equal(model.get_state(), reference.get_state())


def test_without_primer_only_the_start_token_is_fed(model, reference):
    generator = Generator(model, Sampler(seed=0))
    reference.reset()
    np.testing.assert_array_equal(generator.logits, reference.step(START_TOKEN))


def test_next_token_samples_the_current_logits_and_feeds_the_token_back(model, reference):
    generator = Generator(model, Sampler(seed=0), primer=PRIMER)
    logits = primed_by_hand(reference, PRIMER)
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


# --- the musical controls with the shipped model ------------------------------------------------

BAR = 16
OUT_OF_C_MAJOR_PRIMER = [61, NO_EVENT, 63, NO_EVENT, 66, NO_EVENT, 68, 70, NO_EVENT, 73, NOTE_OFF, NO_EVENT]


def play(model, controls, seed, steps, primer=PRIMER):
    generator = Generator(model, Sampler(seed=seed, pitch_range=model.contract.pitch_range), primer)
    return [generator.next_token(controls) for _ in range(steps)]


def repetition_rate(tokens, period):
    """The share of steps after the first period whose token is the one a period before."""
    return sum(tokens[i] == tokens[i - period] for i in range(period, len(tokens))) / (len(tokens) - period)


def notes_per_bar(tokens):
    return len(encoding.tokens_to_notes(tokens)) / (len(tokens) / BAR)


@pytest.mark.parametrize("primer", [PRIMER, OUT_OF_C_MAJOR_PRIMER], ids=["primer", "out-of-scale primer"])
def test_a_hard_scale_lock_plays_only_scale_notes_over_seeds_and_temperatures(model, primer):
    c_major = {0, 2, 4, 5, 7, 9, 11}
    pitches = []
    for seed, temperature in enumerate([0.0, 0.5, 1.0, 1.0, 2.0, 3.0]):
        tokens = play(model, ControlState(temperature, scale="major", strictness=1.0), seed, 96, primer)
        pitches += [t for t in tokens if encoding.is_note_on(t)]
    assert len(pitches) > 100
    assert {p % 12 for p in pitches} <= c_major


def test_a_hard_scale_lock_does_not_turn_notes_into_rests(model):
    free = sum(notes_per_bar(play(model, ControlState(1.0), seed, 128, OUT_OF_C_MAJOR_PRIMER)) for seed in range(4))
    locked = sum(notes_per_bar(play(model, ControlState(1.0, scale="major", strictness=1.0), seed, 128,
                                    OUT_OF_C_MAJOR_PRIMER)) for seed in range(4))
    assert locked == pytest.approx(free, rel=0.25)


def test_deja_vu_zero_is_the_plain_model_and_sampler_draw_for_draw(model, reference):
    for seed in (3, 4):
        generator = Generator(model, Sampler(seed=seed, pitch_range=model.contract.pitch_range), PRIMER)
        tokens = [generator.next_token(ControlState(1.2, deja_vu=0.0, loop_bars=1)) for _ in range(80)]
        plain = Sampler(seed=seed, pitch_range=reference.contract.pitch_range)
        logits = primed_by_hand(reference, PRIMER)
        expected = []
        for _ in range(80):
            expected.append(plain.sample(logits, ControlState(1.2)))
            logits = reference.step(expected[-1])
        assert tokens == expected
        assert generator.sampler.rng.bit_generator.state == plain.rng.bit_generator.state


@pytest.mark.parametrize("loop_bars", [1, 2, 4])
def test_deja_vu_one_repeats_the_loop_exactly_after_the_first_loop(model, loop_bars):
    period = loop_bars * BAR
    tokens = play(model, ControlState(1.0, deja_vu=1.0, loop_bars=loop_bars), loop_bars, 3 * period + 5)
    assert tokens[period:] == tokens[:-period]
    assert len(set(tokens[:period])) > 2  # a real melody, not one held note


def test_the_repetition_rate_rises_with_the_deja_vu_knob(model):
    rates = []
    for knob in (0.0, 1 / 3, 2 / 3, 1.0):
        rates.append(np.mean([repetition_rate(play(model, ControlState(1.0, deja_vu=knob), seed, 160), 2 * BAR)
                              for seed in range(3)]))
    assert all(a < b for a, b in zip(rates, rates[1:], strict=False))
    assert rates[-1] == 1.0


def test_turning_deja_vu_back_to_zero_continues_from_where_the_loop_was(model):
    generator = Generator(model, Sampler(seed=6, pitch_range=model.contract.pitch_range), PRIMER)
    looped = [generator.next_token(ControlState(1.0, deja_vu=1.0, loop_bars=1)) for _ in range(40)]
    next_in_loop = generator.recorder.one_loop_ago(BAR)
    np.testing.assert_array_equal(generator.logits, next_in_loop.logits)
    assert states_equal(model.get_state(), next_in_loop.state)
    assert generator.next_token(ControlState(0.0, deja_vu=0.0)) == int(np.argmax(next_in_loop.logits))
    assert looped[-BAR:] == looped[-2 * BAR:-BAR]


def test_reset_forgets_the_loop(model):
    generator = Generator(model, Sampler(seed=1), PRIMER)
    for _ in range(20):
        generator.next_token(ControlState(1.0, deja_vu=1.0, loop_bars=1))
    generator.reset()
    assert len(generator.recorder) == 0


def test_notes_per_bar_rise_with_density(model):
    rates = [sum(notes_per_bar(play(model, ControlState(1.0, density=d), seed, 96)) for seed in range(3))
             for d in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(a < b for a, b in zip(rates, rates[1:], strict=False))


@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_density_keeps_the_encoding_canonical(model, density):
    for seed in range(3):
        melody = PRIMER + play(model, ControlState(1.0, density=density), seed, 96)  # the primer's note sounds on
        assert encoding.canonical(melody) == melody


def test_notes_stay_in_the_register_and_come_closer_to_its_centre_as_it_narrows(model):
    distances = []
    for width in (128, 12, 6, 0):  # 24 semitones around 72 hardly narrow these tunes: their own range is about that
        pitches = [t for seed in range(3) for t in play(model, ControlState(1.0, register_centre=72,
                                                                            register_width=width), seed, 96)
                   if encoding.is_note_on(t)]
        assert all(abs(p - 72) <= width / 2 for p in pitches)
        distances.append(float(np.mean([abs(p - 72) for p in pitches])))
    assert all(a > b for a, b in zip(distances, distances[1:], strict=False))
    assert distances[-1] == 0


def test_register_and_scale_lock_act_together(model):
    tokens = play(model, ControlState(1.5, scale="minor_pentatonic", scale_root=9, strictness=1.0,
                                      register_centre=60, register_width=7), 2, 96)
    pitches = {t for t in tokens if encoding.is_note_on(t)}
    assert pitches and pitches <= {57, 60, 62, 64}  # A minor pentatonic within 57..64
