"""The harmony control in the sampler (chord tones on the beat, the key between, weighted before the draw) and in
the generator (a token chosen again when the chord changes before it plays)."""

import numpy as np
import pytest

from device.core import encoding
from device.core.chords import Harmony, Key, parse_chord, parse_progression
from device.engine.controlstate import ControlState
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import HARMONY_NATS, PASSING_NATS, Sampler, harmony_shape
from tests.recording import shipped_model_path

V = encoding.VOCAB_SIZE
A_MINOR = parse_chord("Am")
ON_BEAT, OFF_BEAT = Harmony(A_MINOR, Key(0), 4), Harmony(A_MINOR, Key(0), 5)


def flat_logits(rest: float = 0.0) -> np.ndarray:
    """Every pitch 48..83 equally likely; NOTE_OFF and NO_EVENT at ``rest``."""
    logits = np.full(V, -30.0, np.float32)
    logits[48:84] = 0.0
    logits[encoding.NOTE_OFF] = logits[encoding.NO_EVENT] = rest
    return logits


def pitch_classes(distribution: np.ndarray) -> set[int]:
    return {pitch % 12 for pitch in np.flatnonzero(distribution[: encoding.NUM_PITCHES] > 1e-12)}


def test_on_the_beat_only_chord_tones_keep_their_weight_and_others_lose_the_harmony_nats():
    shape = harmony_shape(A_MINOR.tones, Key(0).tones, True, 0.5, 0, 127)
    assert shape[57] == shape[60] == shape[64] == 0.0  # A, C, E
    assert shape[62] == shape[59] == shape[61] == -HARMONY_NATS  # D, B (in key, not in the chord), C#


def test_off_the_beat_the_chords_tones_keep_their_weight_the_keys_lose_a_little_the_others_more():
    shape = harmony_shape(parse_chord("A7").tones, Key(0).tones, False, 0.8, 0, 127)
    assert {p % 12 for p in range(12) if shape[p] == 0} == {9, 1, 4, 7}  # A7
    assert {p % 12 for p in range(12) if shape[p] == -PASSING_NATS * 0.8} == {0, 2, 5, 11}  # C major's others
    assert shape[3] == shape[8] == pytest.approx(-HARMONY_NATS * 0.8 / 0.2)  # D# and G#: neither


def test_at_harmony_1_the_beat_has_only_chord_tones_and_between_only_the_key():
    sampler, hard = Sampler(seed=1, tail_cut=0.0), ControlState(harmony=1.0)
    assert pitch_classes(sampler.probabilities(flat_logits(), hard, harmony=ON_BEAT)) == {9, 0, 4}
    assert pitch_classes(sampler.probabilities(flat_logits(), hard, harmony=OFF_BEAT)) == {0, 2, 4, 5, 7, 9, 11}


def test_the_odds_of_a_note_against_holding_or_resting_stay_the_models():
    sampler = Sampler(seed=1, tail_cut=0.0)
    plain = sampler.probabilities(flat_logits(rest=2.0), ControlState(harmony=0.0))
    held = sampler.probabilities(flat_logits(rest=2.0), ControlState(harmony=0.9), None, harmony=ON_BEAT)
    assert held[: encoding.NUM_PITCHES].sum() == pytest.approx(plain[: encoding.NUM_PITCHES].sum())
    assert held[encoding.NO_EVENT] == pytest.approx(plain[encoding.NO_EVENT])


def test_at_0_or_without_a_harmony_the_draws_are_those_of_a_box_without_chords():
    logits = np.random.default_rng(4).normal(0, 2, V).astype(np.float32)
    draws = np.random.default_rng(5).random(200)
    sampler = Sampler(seed=1)
    plain = [sampler.choose(logits, ControlState(), d) for d in draws]
    assert [sampler.choose(logits, ControlState(harmony=0.0), d, None, harmony=ON_BEAT) for d in draws] == plain
    assert [sampler.choose(logits, ControlState(harmony=1.0), d, None, harmony=None) for d in draws] == plain


def test_a_harmony_without_a_chord_or_key_known_leaves_the_melody_free():
    assert harmony_shape(None, None, True, 0.8, 0, 127) is None
    assert harmony_shape(A_MINOR.tones, None, False, 0.8, 0, 127) is None  # off the beat with no key: free


def test_a_register_holding_no_chord_tone_still_plays_under_a_hard_harmony():
    sampler = Sampler(seed=1, tail_cut=0.0)
    state = ControlState(harmony=1.0, register_centre=62, register_width=1)  # D and D#/C#: no A, C or E
    distribution = sampler.probabilities(flat_logits(), state, None, harmony=ON_BEAT)
    assert distribution.sum() == pytest.approx(1.0) and pitch_classes(distribution) <= {1, 2, 3}
    assert pitch_classes(distribution)


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


def test_generated_on_beat_notes_keep_to_the_chords_at_the_default(model):
    progression = parse_progression("Bb F Gm Eb")
    generator = Generator(model, Sampler(seed=2, pitch_range=model.contract.pitch_range))
    tokens = [generator.next_token(ControlState(), harmony=progression.harmony_at(step, 16)) for step in range(256)]
    on_beat = [(step, t) for step, t in enumerate(tokens) if encoding.is_note_on(t) and step % 4 == 0]
    kept = [t % 12 in progression.chord_at(step // 16).tones for step, t in on_beat]
    assert len(on_beat) >= 20 and sum(kept) / len(kept) >= 0.8


@pytest.fixture(scope="module")
def other_model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


def test_a_revised_token_is_the_one_the_new_harmony_would_have_chosen_with_the_same_draw(model, other_model):
    controls, steps = ControlState(harmony=1.0), 48
    e_major = Harmony(parse_chord("E"), Key(4), 0)
    first, second = (Generator(m, Sampler(seed=3, pitch_range=m.contract.pitch_range)) for m in (model, other_model))
    chosen, revised, direct = [], [], []
    for step in range(steps):  # on every beat the chord turns from A minor to E major just before the note
        late = Harmony(A_MINOR, Key(0), step % 16) if step % 4 == 0 else None
        heard = e_major if step % 4 == 0 else None
        chosen.append(first.next_token(controls, step, late))
        revised.append(first.revise(heard))
        direct.append(second.next_token(controls, step, heard))
    assert revised == direct
    assert sum(a != b for a, b in zip(chosen, revised, strict=True)) >= 3  # A minor's notes became E major's
    np.testing.assert_array_equal(first.logits, second.logits)


def test_a_revision_under_the_same_harmony_keeps_the_token_and_costs_no_inference(model):
    generator = Generator(model, Sampler(seed=3, pitch_range=model.contract.pitch_range))
    token = generator.next_token(ControlState(), 0, ON_BEAT)
    state = model.get_state()
    assert generator.revise(ON_BEAT) == token
    assert all(np.array_equal(a, b) for a, b in zip(model.get_state(), state, strict=True))
    generator.reset()
    assert generator.revise(ON_BEAT) is None  # nothing chosen since the reset


def test_deja_vu_repeats_the_bars_where_the_chords_repeat(model):
    progression = parse_progression("Am F C G")
    generator = Generator(model, Sampler(seed=4, pitch_range=model.contract.pitch_range))
    controls = ControlState(deja_vu=1.0, loop_bars=4)
    tokens = [generator.next_token(controls, step, progression.harmony_at(step, 16)) for step in range(192)]
    assert tokens[64:128] == tokens[128:192] and any(encoding.is_note_on(t) for t in tokens[64:128])


def test_deja_vu_over_other_chords_replays_its_draws_under_them(model):
    progression = parse_progression("C F#")  # no common tone: the loop's notes cannot all stay
    generator = Generator(model, Sampler(seed=4, pitch_range=model.contract.pitch_range))
    controls = ControlState(deja_vu=1.0, loop_bars=1, harmony=1.0)
    tokens = [generator.next_token(controls, step, progression.harmony_at(step, 16)) for step in range(64)]
    for step, token in enumerate(tokens):
        if encoding.is_note_on(token) and step % 4 == 0:
            assert token % 12 in progression.chord_at(step // 16).tones
    assert tokens[16:32] != tokens[32:48]  # the bar one loop ago lay under the other chord
