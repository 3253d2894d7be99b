"""Export: builtin ops only, parity with Keras, a loadable contract, and each runtime in its own process."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from device.core.contract import load_contract, sha256_of
from training.evaluation.measure import RUNTIME_CHECK
from training.evaluation.parity import TFLITE_RUNTIME_PYTHON, compare

pytestmark = pytest.mark.tf
REPO = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from tests.training_helpers import tiny_run

    return tiny_run(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def exported(run):
    """The tiny run exported at every precision: {precision: path}."""
    from training.evaluation.sequence import evaluate_run
    from training.export import export
    from training.fit.runs import write_json

    write_json(run / "evaluation.json", evaluate_run(run, max_order=3))
    return {p: export(run, f"tiny-{p}", run.parent / "models", p, parity_steps=300, command="test")
            for p in ("float32", "float16", "int8")}


def test_check_ops_rejects_variables_and_flex():
    from training.export import ExportError, check_ops

    check_ops(["ADD", "FULLY_CONNECTED"])
    with pytest.raises(ExportError, match="VAR_HANDLE"):
        check_ops(["ADD", "VAR_HANDLE"])
    with pytest.raises(ExportError, match="FlexMatMul"):
        check_ops(["FlexMatMul"])


def test_exported_model_has_builtin_ops_only(exported):
    from training.export import model_ops

    ops = model_ops(exported["float32"].read_bytes())
    assert "FULLY_CONNECTED" in ops
    assert not [op for op in ops if op.startswith("Flex") or op in ("VAR_HANDLE", "READ_VARIABLE", "WHILE")]


def test_float32_reproduces_the_keras_model(exported):
    parity = load_contract(exported["float32"]).parity
    assert parity["runtimes"]["ai-edge-litert"]["steps"] == 300
    assert parity["runtimes"]["ai-edge-litert"]["max_abs_logit_diff"] < 1e-4


@pytest.mark.parametrize("precision", ["float16", "int8"])
def test_quantised_models_report_agreement_and_kl(exported, precision):
    parity = load_contract(exported[precision]).parity["runtimes"]["ai-edge-litert"]
    assert parity["top1_agreement"] >= 0.99
    assert parity["mean_kl_nats"] >= 0.0


def test_quantised_models_are_smaller(exported):
    sizes = {p: path.stat().st_size for p, path in exported.items()}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]


def test_contract_names_the_signature_tensors(exported):
    contract = load_contract(exported["float32"])
    assert (contract.token.name, contract.token.shape, contract.token.dtype) == ("token", (1, 1), "int32")
    assert (contract.logits.name, contract.logits.shape) == ("logits", (1, 130))
    assert [(s.input, s.output, s.shape) for s in contract.states] == [
        ("h1", "h1_out", (1, 32)), ("c1", "c1_out", (1, 32)), ("h2", "h2_out", (1, 32)), ("c2", "c2_out", (1, 32))]


def test_contract_names_each_feature_input_of_a_lookback_model(exported):
    contract = load_contract(exported["float32"])
    assert [(i.name, i.shape, i.dtype, i.feature) for i in contract.inputs] == [
        ("token", (1, 1), "int32", "token"), ("lookback", (1, 4), "int32", "lookback"),
        ("bar_position", (1, 5), "float32", "bar_position"), ("repeats", (1, 4), "float32", "repeats")]


def test_contract_records_data_config_metrics_and_provenance(run, exported):
    contract = load_contract(exported["int8"])
    assert contract.precision == "int8"
    assert contract.tflite_sha256 == sha256_of(exported["int8"])
    assert contract.training_data["melodies"] == 60
    assert contract.training_data["files"][0]["sha256"] == sha256_of(run.parent / "scales.npz")
    assert contract.config["model"]["units"] == 32
    assert "lstm" in contract.metrics["models"]
    assert contract.provenance["command"] == "test"
    assert contract.pitch_range[0] <= 55 and contract.pitch_range[1] >= 81
    assert contract.notes


def test_contract_lists_the_runtimes_it_was_checked_on(exported):
    contract = load_contract(exported["float32"])
    assert set(contract.runtimes) == set(contract.parity["runtimes"])
    assert "ai-edge-litert" in contract.runtimes


def run_in_own_process(python: str, runtime: str, model: Path, tokens: np.ndarray, tmp_path: Path) -> np.ndarray:
    np.savez(tmp_path / "in.npz", tokens=tokens, offsets=np.array([0, len(tokens)]))
    result = subprocess.run([python, str(RUNTIME_CHECK), runtime, str(model), str(tmp_path / "in.npz"),
                             str(tmp_path / "out.npz")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "out.npz") as data:
        return data["logits"]


RUNTIMES = {"ai-edge-litert": sys.executable, "tflite-runtime": str(TFLITE_RUNTIME_PYTHON)}


@pytest.mark.parametrize("precision", ["float32", "float16", "int8"])
@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_each_runtime_runs_each_precision_in_its_own_process(run, exported, runtime, precision, tmp_path):
    if runtime == "tflite-runtime" and not TFLITE_RUNTIME_PYTHON.is_file():
        pytest.skip(f"{TFLITE_RUNTIME_PYTHON} missing: create it with `make .venv-tflite-runtime/.ready`")
    from training.data.windows import sequence_inputs
    from training.fit.model import build_models
    from training.fit.runs import load_run

    loaded = load_run(run)
    models = build_models(loaded.model)
    models.sequence.load_weights(loaded.best_weights)
    melody = loaded.side("validation")[0]
    tokens = np.concatenate([[129], melody[:-1]]).astype(np.int32)
    inputs = sequence_inputs(melody, feature_names=loaded.model.feature_names)
    reference = np.asarray(models.sequence(inputs, training=False))[0]
    figures = compare(reference, run_in_own_process(RUNTIMES[runtime], runtime, exported[precision], tokens, tmp_path))
    if precision == "float32":
        assert figures["max_abs_logit_diff"] < 1e-4
    assert figures["top1_agreement"] >= 0.99


def test_export_command_writes_model_and_contract(run, exported, tmp_path):
    result = subprocess.run([sys.executable, "-m", "training", "export", "--run", str(run), "--name", "cli",
                             "--out", str(tmp_path), "--parity-steps", "100"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "cli.json").read_text())
    assert data["provenance"]["command"].startswith("melodybox-train export --run")
    assert load_contract(tmp_path / "cli.tflite").precision == "float32"


def test_export_of_a_missing_run_fails_with_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training", "export", "--run", str(tmp_path / "nope"), "--name",
                             "x", "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr  # TensorFlow may log lines of its own before the error
    assert result.stderr.strip().splitlines()[-1:] == [
        f"melodybox-train: error: {tmp_path / 'nope' / 'config.json'}: not found "
        f"(is {tmp_path / 'nope'} a finished training run?)"]


def test_export_prints_no_tensorflow_warning(tmp_path):
    """Quiet by default (issue 20, point 11): a normal export writes only its one line; stderr stays empty."""
    from tests.training_helpers import write_scales

    data = write_scales(tmp_path / "scales.npz", count=10)
    trained = subprocess.run([sys.executable, "-m", "training", "train", str(data), "--run", str(tmp_path / "run"),
                              "--epochs", "1", "--steps-per-epoch", "2", "--units", "8", "--layers", "1",
                              "--embedding", "8", "--window", "64", "--batch-size", "4"],
                             capture_output=True, text=True, cwd=REPO)
    assert trained.returncode == 0, trained.stderr
    result = subprocess.run([sys.executable, "-m", "training", "export", "--run", str(tmp_path / "run"), "--name",
                             "tiny", "--out", str(tmp_path / "models"), "--parity-steps", "100"],
                            capture_output=True, text=True, cwd=REPO)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"wrote {tmp_path / 'models' / 'tiny.tflite'} and {tmp_path / 'models' / 'tiny.json'}\n"
