"""device.engine.model.StepModel on the shipped model, with the real ai-edge-litert runtime."""

import importlib.util
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from device.core import encoding
from device.core.contract import ContractError
from device.core.features import NONE
from device.engine.model import MissingRuntimeError, ModelError, StepModel, load_interpreter_class
from tests.recording import ROOT, copy_shipped_model, edit_contract, shipped_model_path

FOREIGN = ROOT / "tests" / "data" / "foreign.tflite"  # a valid TFLite file: signature "step", x[1,4] -> y[1,4]
TFLITE_RUNTIME_PYTHON = ROOT / ".venv-tflite-runtime" / "bin" / "python"
MELODY = [encoding.START_TOKEN, 60, encoding.NO_EVENT, 62, encoding.NOTE_OFF, 64, 64, encoding.NO_EVENT]


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


@pytest.fixture()
def model_copy(tmp_path):
    """A copy of the shipped model and contract in tmp_path, to break."""
    return copy_shipped_model(tmp_path)



def test_loads_with_ai_edge_litert_by_default(model):
    assert model.runtime_name == "ai-edge-litert"
    assert model.contract.signature == "step"


def test_forced_runtime_is_used():
    with StepModel(shipped_model_path(), runtime="ai-edge-litert") as forced:
        assert forced.runtime_name == "ai-edge-litert"


def test_unknown_runtime_name_is_rejected():
    with pytest.raises(ValueError, match="unknown runtime 'tensorflow'"):
        load_interpreter_class("tensorflow")


def test_missing_runtime_names_the_extra_to_install():
    if importlib.util.find_spec("tflite_runtime") is not None:
        pytest.skip("tflite-runtime is installed in this environment")
    with pytest.raises(MissingRuntimeError, match=r'pip install -e "\.\[device\]"'):
        load_interpreter_class("tflite-runtime")


def test_step_returns_float32_logits_over_the_vocabulary(model):
    model.reset()
    logits = model.step(encoding.START_TOKEN)
    assert logits.dtype == np.float32
    assert logits.shape == (encoding.VOCAB_SIZE,)
    assert np.all(np.isfinite(logits))


def test_state_is_fed_back_between_steps(model):
    model.reset()
    first = model.step(60)
    second = model.step(60)
    assert not np.array_equal(first, second)


def test_reset_zeroes_the_state(model):
    model.reset()
    model.step(60)
    model.reset()
    lstm = model.get_state()[:len(model.contract.states)]
    assert all(not array.any() for array in lstm)
    assert [a.shape for a in lstm] == [tuple(s.shape) for s in model.contract.states]


def test_reset_replays_exactly(model):
    model.reset()
    before = [model.step(t) for t in MELODY]
    model.reset()
    after = [model.step(t) for t in MELODY]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_restored_state_gives_the_same_logits(model):
    model.reset()
    for token in MELODY:
        model.step(token)
    saved = model.get_state()
    expected = [model.step(t) for t in (67, 69, encoding.NOTE_OFF)]
    model.reset()
    model.set_state(saved)
    replayed = [model.step(t) for t in (67, 69, encoding.NOTE_OFF)]
    assert all(np.array_equal(a, b) for a, b in zip(expected, replayed, strict=True))


def test_get_state_returns_copies(model):
    model.reset()
    model.step(60)
    state = model.get_state()
    state[0][...] = 7.0
    assert not np.array_equal(model.get_state()[0], state[0])


def test_set_state_rejects_the_wrong_number_of_arrays(model):
    with pytest.raises(ValueError, match="state has 1 arrays"):
        model.set_state(model.get_state()[:1])


def test_set_state_rejects_the_wrong_shape(model):
    bad = (np.zeros((1, 3), dtype=np.float32),) + model.get_state()[1:]
    with pytest.raises(ValueError, match=r"has shape \[1, 3\]"):
        model.set_state(bad)


def test_step_rejects_a_token_outside_the_vocabulary(model):
    with pytest.raises(ValueError, match="token 130 is outside the vocabulary"):
        model.step(130)


def test_closed_model_refuses_to_step():
    loaded = StepModel(shipped_model_path())
    loaded.close()
    loaded.close()
    with pytest.raises(ValueError, match="closed model"):
        loaded.step(60)


def test_missing_model_names_the_file(tmp_path):
    with pytest.raises(ContractError, match="nothing.tflite: model file not found"):
        StepModel(tmp_path / "nothing.tflite")


def test_missing_contract_beside_its_model_names_the_contract(model_copy):
    model_copy.with_suffix(".json").unlink()
    with pytest.raises(ContractError, match="copy.json: contract not found"):
        StepModel(model_copy)


def test_model_missing_beside_its_contract_names_the_file(model_copy):
    model_copy.unlink()
    with pytest.raises(ContractError, match="copy.tflite: model file not found"):
        StepModel(model_copy)


def test_truncated_model_is_caught_by_its_contract(model_copy):
    model_copy.write_bytes(model_copy.read_bytes()[:1000])
    with pytest.raises(ContractError, match="copy.tflite: 1000 bytes, but its contract records"):
        StepModel(model_copy)


def test_truncated_model_is_rejected_by_the_runtime(model_copy):
    model_copy.write_bytes(model_copy.read_bytes()[:1000])
    edit_contract(model_copy, lambda data: None, refresh_file=True)
    with pytest.raises(ModelError, match="copy.tflite: ai-edge-litert cannot load it as a TFLite model"):
        StepModel(model_copy)


def test_text_file_is_rejected_by_the_runtime(model_copy):
    model_copy.write_text("this is not a model\n" * 50)
    edit_contract(model_copy, lambda data: None, refresh_file=True)
    with pytest.raises(ModelError, match="copy.tflite: ai-edge-litert cannot load it"):
        StepModel(model_copy)


def test_foreign_tflite_with_other_tensors_is_rejected(model_copy):
    contract = json.loads(model_copy.with_suffix(".json").read_text())["tensors"]
    inputs = contract.get("inputs", [contract["token"]])
    expected = sorted([i["name"] for i in inputs] + [s["input"] for s in contract["states"]])
    shutil.copy(FOREIGN, model_copy)
    edit_contract(model_copy, lambda data: None, refresh_file=True)
    with pytest.raises(ModelError, match=re.escape(f"'step' inputs are ['x'], its contract names {expected}")):
        StepModel(model_copy)


def test_contract_naming_another_signature_is_rejected(model_copy):
    edit_contract(model_copy, lambda data: data.update(signature="generate"))
    with pytest.raises(ModelError, match="copy.tflite: no signature 'generate'"):
        StepModel(model_copy)


def test_contract_naming_another_tensor_is_rejected(model_copy):
    edit_contract(model_copy, lambda data: data["tensors"]["logits"].update(name="probabilities"))
    with pytest.raises(ModelError, match=r"'step' outputs are .*, its contract names .*'probabilities'"):
        StepModel(model_copy)


def test_contract_with_another_state_shape_is_rejected(model_copy):
    def widen_first_state(data):
        data["tensors"]["states"][0]["shape"] = [1, 999]

    edit_contract(model_copy, widen_first_state)
    message = r"copy.tflite: tensor '.*' is float32 \[1, \d+\], its contract says float32 \[1, 999\]"
    with pytest.raises(ModelError, match=message):
        StepModel(model_copy)


def test_contract_with_another_token_dtype_is_rejected(model_copy):
    def token_int64(data):
        for spec in [data["tensors"]["token"], *data["tensors"].get("inputs", [])[:1]]:
            spec.update(dtype="int64")

    edit_contract(model_copy, token_int64)
    with pytest.raises(ModelError, match=r"is int32 \[1, 1\], its contract says int64 \[1, 1\]"):
        StepModel(model_copy)


@pytest.mark.skipif(not TFLITE_RUNTIME_PYTHON.exists(), reason="no .venv-tflite-runtime (make test creates it)")
def test_tflite_runtime_gives_the_same_logits(model):
    """tflite-runtime needs numpy<2, so it runs in its own environment and process."""
    if "tflite-runtime" not in model.contract.runtimes:
        pytest.skip("the model's contract does not list tflite-runtime (e.g. an int8 model it cannot load)")
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from device.engine.model import StepModel\n"
        f"m = StepModel({str(shipped_model_path())!r}, runtime='tflite-runtime')\n"
        f"print(json.dumps([m.step(t).tolist() for t in {MELODY!r}]))\n"
    )
    result = subprocess.run([str(TFLITE_RUNTIME_PYTHON), "-c", code], capture_output=True, text=True, check=True)
    other = np.array(json.loads(result.stdout.strip().splitlines()[-1]), dtype=np.float32)
    model.reset()
    ours = np.stack([model.step(t) for t in MELODY])
    np.testing.assert_allclose(other, ours, rtol=0, atol=1e-4)


TINY_TOKEN = ROOT / "tests" / "data" / "tiny-token.tflite"  # untrained; tests/data/make_tiny_models.py
TINY_LOOKBACK = ROOT / "tests" / "data" / "tiny-lookback.tflite"
LONG_MELODY = [60, 62, encoding.NO_EVENT, 64, 65, encoding.NOTE_OFF, 67, 60] * 10  # 80 steps: 1 to 8 bars back


@pytest.fixture()
def lookback():
    with StepModel(TINY_LOOKBACK, bar_steps=8) as loaded:
        yield loaded


def run(model, tokens, first_bar_step=None):
    model.reset()
    return np.stack([model.step(encoding.START_TOKEN, first_bar_step)] + [model.step(t) for t in tokens])


def test_a_token_only_model_has_no_feature_inputs_and_only_its_lstm_state():
    with StepModel(TINY_TOKEN) as token_only:
        assert token_only.contract.features == ()
        token_only.step(encoding.START_TOKEN)
        assert len(token_only.get_state()) == len(token_only.contract.states)


def test_a_token_only_model_ignores_the_bar_step():
    with StepModel(TINY_TOKEN) as token_only:
        np.testing.assert_array_equal(run(token_only, MELODY, 0), run(token_only, MELODY, 5))


def test_a_lookback_model_is_fed_the_features_of_device_features(lookback):
    """StepModel's features equal melody_features of the whole melody (what training feeds), row by row."""
    from device.core.features import melody_features

    interpreter = load_interpreter_class("ai-edge-litert")[1](model_path=str(TINY_LOOKBACK))
    runner = interpreter.get_signature_runner("step")
    melody = np.array(LONG_MELODY)
    rows = melody_features(melody, bar_steps=8, bar_offset=3)
    state = {s.input: np.zeros(s.shape, np.float32) for s in lookback.contract.states}
    expected = []
    for index, token in enumerate([encoding.START_TOKEN, *LONG_MELODY[:-1]]):
        out = runner(token=np.array([[token]], np.int32), **{k: v[index:index + 1] for k, v in rows.items()}, **state)
        state = {s.input: out[s.output] for s in lookback.contract.states}
        expected.append(out["logits"][0])
    np.testing.assert_allclose(run(lookback, LONG_MELODY[:-1], 3), np.stack(expected), rtol=0, atol=1e-6)


def test_the_bar_step_of_the_start_token_changes_the_prediction(lookback):
    assert not np.array_equal(run(lookback, [], 0), run(lookback, [], 4))


def test_bar_steps_counted_on_equal_bar_steps_given(lookback):
    counted = run(lookback, LONG_MELODY, 2)
    lookback.reset()
    given = [lookback.step(encoding.START_TOKEN, 2)]
    given += [lookback.step(t, (2 + i) % 8) for i, t in enumerate(LONG_MELODY)]
    np.testing.assert_array_equal(counted, np.stack(given))


def test_after_reset_the_count_starts_on_the_bar_line(lookback):
    np.testing.assert_array_equal(run(lookback, LONG_MELODY), run(lookback, LONG_MELODY, 0))


def test_reset_forgets_the_lookback_history(lookback):
    run(lookback, LONG_MELODY)
    lookback.reset()
    history, counters = lookback.get_state()[-2:]
    assert history.tolist() == [NONE] * 65  # 8 bars of 8 steps, and the step fed
    assert counters.tolist() == [0, 0]


def test_a_lookback_models_state_holds_the_history_and_restores_it(lookback):
    run(lookback, LONG_MELODY)
    saved = lookback.get_state()
    assert len(saved) == len(lookback.contract.states) + 2
    expected = [lookback.step(t) for t in (67, 69, encoding.NOTE_OFF)]
    lookback.reset()
    lookback.set_state(saved)
    np.testing.assert_array_equal(np.stack([lookback.step(t) for t in (67, 69, encoding.NOTE_OFF)]),
                                  np.stack(expected))


def test_restoring_only_the_lstm_state_is_refused(lookback):
    with pytest.raises(ValueError, match="state has 2 arrays, the model has 4"):
        lookback.set_state(lookback.get_state()[:2])


def test_a_bar_step_outside_the_bar_is_refused(lookback):
    with pytest.raises(ValueError, match="bar_step 8 is outside 0..7"):
        lookback.step(encoding.START_TOKEN, 8)


def test_a_model_with_an_input_the_box_cannot_feed_is_refused_naming_the_file(tmp_path):
    shutil.copy(TINY_LOOKBACK, tmp_path / "odd.tflite")
    shutil.copy(TINY_LOOKBACK.with_suffix(".json"), tmp_path / "odd.json")
    edit_contract(tmp_path / "odd.tflite", lambda data: data["tensors"]["inputs"][2].update(feature="chord"))
    with pytest.raises(ContractError, match="odd.json: input 'bar_position' holds feature 'chord', which this box "
                                            "cannot compute"):
        StepModel(tmp_path / "odd.tflite")


def test_a_bar_longer_than_the_position_code_is_refused():
    with pytest.raises(ValueError, match="bar_steps 33 is outside 1..32"):
        StepModel(TINY_LOOKBACK, bar_steps=33)


def test_the_lookback_history_follows_the_bar_length(lookback):
    with StepModel(TINY_LOOKBACK, bar_steps=12) as triple:
        assert [a.shape for a in triple.get_state()[-2:]] == [(97,), (2,)]
    assert [a.shape for a in lookback.get_state()[-2:]] == [(65,), (2,)]
