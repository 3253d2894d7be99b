"""device.model.StepModel on the shipped model, with the real ai-edge-litert runtime."""

import importlib.util
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from device import encoding
from device.contract import ContractError
from device.model import MissingRuntimeError, ModelError, StepModel, load_interpreter_class
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
    assert all(not array.any() for array in model.get_state())
    assert [a.shape for a in model.get_state()] == [tuple(s.shape) for s in model.contract.states]


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
    with pytest.raises(ContractError, match="nothing.json: contract not found"):
        StepModel(tmp_path / "nothing.tflite")


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
    expected = sorted([contract["token"]["name"]] + [s["input"] for s in contract["states"]])
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
    edit_contract(model_copy, lambda data: data["tensors"]["token"].update(dtype="int64"))
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
        "from device.model import StepModel\n"
        f"m = StepModel({str(shipped_model_path())!r}, runtime='tflite-runtime')\n"
        f"print(json.dumps([m.step(t).tolist() for t in {MELODY!r}]))\n"
    )
    result = subprocess.run([str(TFLITE_RUNTIME_PYTHON), "-c", code], capture_output=True, text=True, check=True)
    other = np.array(json.loads(result.stdout.strip().splitlines()[-1]), dtype=np.float32)
    model.reset()
    ours = np.stack([model.step(t) for t in MELODY])
    np.testing.assert_allclose(other, ours, rtol=0, atol=1e-4)
