"""device.keyshift and the generator's key: a key-normalised model played in another key."""

import numpy as np
import pytest

from device import encoding
from device.assembly import box_generator, key_shift
from device.contract import ContractError, KeySpec
from device.controlstate import ControlState
from device.generator import Generator
from device.keyshift import UNREACHABLE, model_token, shift_for, sounding_logits, sounding_token
from device.model import StepModel
from device.sampling import Sampler
from tests.recording import shipped_model_path

PRIMER = [60, encoding.NO_EVENT, 62, encoding.NOTE_OFF]


def test_the_shift_to_a_key_is_the_nearer_way_round():
    assert shift_for(0, 2) == 2  # C to D: up a tone
    assert shift_for(0, 7) == -5  # C to G: down a fourth
    assert shift_for(0, 6) == -6
    assert shift_for(2, 0) == -2


def test_tokens_move_between_the_model_and_the_sounding_key():
    assert sounding_token(60, 2) == 62 and model_token(62, 2) == 60
    assert sounding_token(encoding.NOTE_OFF, 5) == encoding.NOTE_OFF
    assert model_token(encoding.NO_EVENT, -3) == encoding.NO_EVENT
    assert model_token(1, 5) == 8  # below MIDI 0 in the model's key: an octave up
    assert sounding_token(126, 4) == 118


def test_logits_move_up_with_the_key_and_unreachable_pitches_are_never_chosen():
    logits = np.arange(encoding.VOCAB_SIZE, dtype=np.float32)
    up = sounding_logits(logits, 3)
    assert up[63] == logits[60] and up[127] == logits[124]
    assert (up[:3] == UNREACHABLE).all() and up[encoding.NOTE_OFF] == logits[encoding.NOTE_OFF]
    down = sounding_logits(logits, -2)
    assert down[58] == logits[60] and (down[126:128] == UNREACHABLE).all()
    np.testing.assert_array_equal(sounding_logits(logits, 0), logits)


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


def test_a_generator_in_another_key_plays_the_same_melody_moved(model):
    controls = ControlState(temperature=1.0)
    as_trained = Generator(model, Sampler(seed=4), PRIMER)
    tokens = [as_trained.next_token(controls, step) for step in range(48)]
    moved = Generator(model, Sampler(seed=4), [sounding_token(t, 3) for t in PRIMER], shift=3)
    assert [moved.next_token(controls, step) for step in range(48)] == [sounding_token(t, 3) for t in tokens]
    assert any(encoding.is_note_on(t) for t in tokens)


def test_a_scale_lock_acts_on_the_pitches_that_sound(model):
    controls = ControlState(temperature=1.0, scale="major", scale_root=2, strictness=1.0)  # D major
    generator = Generator(model, Sampler(seed=1), shift=2)
    pitches = [t for t in (generator.next_token(controls, s) for s in range(96)) if encoding.is_note_on(t)]
    assert pitches and all((p - 2) % 12 in (0, 2, 4, 5, 7, 9, 11) for p in pitches)


def test_the_box_plays_a_key_normalised_model_in_the_key_asked_or_its_default(model):
    assert model.contract.key is not None  # the shipped default is key-normalised
    native, default = model.contract.key.native, model.contract.key.default
    assert box_generator(model, 0).shift == shift_for(native, default)
    assert box_generator(model, 0, key="Bb").shift == shift_for(native, 10)
    assert box_generator(model, 0, key="Em").shift == shift_for(native, 7)


def test_a_model_of_the_keys_as_played_cannot_be_asked_for_a_key():
    assert key_shift("m.tflite", None, "") == 0
    with pytest.raises(ContractError, match=r"m\.tflite: this model plays in the keys it learned"):
        key_shift("m.tflite", None, "D")
    assert key_shift("m.tflite", KeySpec(0, 2), "") == 2
