"""The model builder: shapes, names, shared weights, and the step model reproducing the sequence model."""

import numpy as np
import pytest

pytestmark = pytest.mark.tf

keras = pytest.importorskip("keras")

from device.core.encoding import START_TOKEN  # noqa: E402
from device.core.features import FeatureTracker  # noqa: E402
from training.data.windows import sequence_inputs  # noqa: E402
from training.fit.model import ModelShape, build_models, state_names, widen_to_lookback, zero_state  # noqa: E402

CONFIG = ModelShape(embedding=8, layers=2, units=16, dropout=0.1, inputs="token")
LOOKBACK = ModelShape(embedding=8, layers=2, units=16, dropout=0.1, lookback_embedding=4)
MELODY = np.array([60, 129, 62, 128, 129, 64, 65, 67, 129, 60, 62, 64, 64, 65] * 2, np.int32)  # 28 steps


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return build_models(CONFIG)


@pytest.fixture(scope="module")
def lookback_models():
    keras.utils.set_random_seed(0)
    return build_models(LOOKBACK)


def step_through(step_model, config, tokens):
    """Logits [len(tokens), vocab] from stepping the step model token by token from a zero state."""
    state, logits = zero_state(config), []
    for token in tokens:
        out = step_model({"token": np.array([[token]], np.int32), **state})
        logits.append(np.asarray(out["logits"])[0])
        for layer in range(1, config.layers + 1):
            h, c, h_out, c_out = state_names(layer)
            state[h], state[c] = np.asarray(out[h_out]), np.asarray(out[c_out])
    return np.stack(logits)


def test_sequence_model_gives_logits_for_every_step(models):
    out = models.sequence(np.zeros((3, 7), np.int32))
    assert tuple(out.shape) == (3, 7, 130)


def test_step_model_inputs_are_the_token_and_each_state(models):
    names = [t.name for t in models.step.inputs]
    assert sorted(names) == ["c1", "c2", "h1", "h2", "token"]
    shapes = {t.name: tuple(t.shape) for t in models.step.inputs}
    assert shapes == {"token": (1, 1), "h1": (1, 16), "c1": (1, 16), "h2": (1, 16), "c2": (1, 16)}


def test_step_model_outputs_logits_and_new_states(models):
    out = models.step({"token": np.array([[60]], np.int32), **zero_state(CONFIG)})
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "logits": (1, 130), "h1_out": (1, 16), "c1_out": (1, 16), "h2_out": (1, 16), "c2_out": (1, 16)}


def test_step_model_shares_the_sequence_models_weights(models):
    assert {id(w) for w in models.step.weights} == {id(w) for w in models.sequence.weights}


def test_step_model_equals_sequence_model(models):
    tokens = np.array([129, 60, 129, 62, 128, 129, 64, 65, 67, 129], np.int32)
    expected = np.asarray(models.sequence(tokens[None], training=False))[0]
    assert np.abs(step_through(models.step, CONFIG, tokens) - expected).max() < 1e-5


def test_default_config_is_the_courses_two_layers_of_256_with_lookback_inputs():
    config = ModelShape()
    assert (config.layers, config.units, config.embedding, config.inputs) == (2, 256, 256, "lookback")
    assert 0 < config.dropout < 1


def test_lookback_step_model_takes_the_features_as_named_inputs(lookback_models):
    shapes = {t.name: tuple(t.shape) for t in lookback_models.step.inputs}
    assert shapes == {"token": (1, 1), "lookback": (1, 4), "bar_position": (1, 5), "repeats": (1, 4),
                      "h1": (1, 16), "c1": (1, 16), "h2": (1, 16), "c2": (1, 16)}


def test_lookback_sequence_model_takes_tokens_and_features(lookback_models):
    assert sorted(t.name for t in lookback_models.sequence.inputs) == ["bar_position", "lookback", "repeats",
                                                                       "tokens"]


def test_lookback_step_model_fed_by_the_box_tracker_equals_the_sequence_model(lookback_models):
    """Training's melody_features and the box's FeatureTracker feed the one model the same inputs."""
    bar_steps, bar_offset, melody = 4, 1, np.tile(MELODY, 2)  # 56 steps: 8 bars back and more
    expected = np.asarray(lookback_models.sequence(sequence_inputs(melody, (bar_steps, bar_offset),
                                                                   LOOKBACK.feature_names), training=False))[0]
    tracker, state, logits = FeatureTracker(bar_steps), zero_state(LOOKBACK), []
    for index, token in enumerate([START_TOKEN, *melody[:-1]]):
        found = tracker.features(int(token), bar_offset if index == 0 else None)
        out = lookback_models.step({"token": np.array([[token]], np.int32), **found, **state})
        logits.append(np.asarray(out["logits"])[0])
        for layer in range(1, LOOKBACK.layers + 1):
            h, c, h_out, c_out = state_names(layer)
            state[h], state[c] = np.asarray(out[h_out]), np.asarray(out[c_out])
    assert np.abs(np.stack(logits) - expected).max() < 1e-5


def test_lookback_changes_the_prediction(lookback_models):
    plain = sequence_inputs(MELODY, (16, 0), LOOKBACK.feature_names)
    other = {**plain, "lookback": np.full_like(plain["lookback"], 60)}
    assert not np.allclose(lookback_models.sequence(plain), lookback_models.sequence(other))


def test_a_config_saved_before_inputs_existed_is_the_token_only_model():
    assert ModelShape.from_json({"embedding": 8, "layers": 1, "units": 4, "dropout": 0.0}).inputs == "token"


def test_config_rejects_unknown_inputs():
    with pytest.raises(ValueError, match=r"inputs 'pitch' is not one of \['token', 'lookback'\]"):
        ModelShape(inputs="pitch")


def test_config_round_trips_through_json(tmp_path):
    CONFIG.save(tmp_path / "config.json")
    assert ModelShape.load(tmp_path / "config.json") == CONFIG


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown model config keys: \\['width'\\]"):
        ModelShape.from_json({"width": 3})


def test_config_rejects_a_dropout_of_one():
    with pytest.raises(ValueError, match="dropout 1.0 is outside 0..1"):
        ModelShape(dropout=1.0)


def test_a_token_only_model_widened_to_lookback_predicts_exactly_as_before(models):
    keras.utils.set_random_seed(5)
    widened = build_models(ModelShape(**{**CONFIG.to_json(), "inputs": "lookback"}))
    widen_to_lookback(models.sequence, widened)
    before = np.asarray(models.sequence(sequence_inputs(MELODY), training=False))
    after = np.asarray(widened.sequence(sequence_inputs(MELODY, (4, 0), LOOKBACK.feature_names), training=False))
    np.testing.assert_array_equal(after, before)
