"""What ships in models/: every .tflite loads on the box, and its contract's figures are this file's, measured.

The figures are re-measured here, not read back: each shipped file is stepped through the box's StepModel in
every runtime its contract names, on the first validation tokens (the contract's "check"), in that runtime's
own process. A contract that copied another file's metrics fails, because each file gives its own numbers.
"""

import functools

import numpy as np
import pytest

from device.core.contract import load_contract
from device.core.encoding import VOCAB_SIZE
from device.engine.model import StepModel
from tests.recording import ROOT
from training.evaluation.measure import CHECK_STEPS, measure_file
from training.evaluation.parity import runtime_pythons

SHIPPED = sorted((ROOT / "models").glob("*.tflite"))
CASES = [(path, runtime) for path in SHIPPED for runtime in load_contract(path).runtimes]


@functools.cache
def first_validation_melodies(path):
    """The validation melodies (rebuilt from the contract) that hold the first CHECK_STEPS tokens, and metres."""
    from training.data.windows import metres
    from training.evaluation.exported import contract_sets

    melody_set, _, validation = contract_sets(path)
    chosen, total = [], 0
    for index in validation:
        if total >= CHECK_STEPS:
            break
        if len(melody_set.melodies[index]):
            chosen.append(index)
            total += len(melody_set.melodies[index])
    return [melody_set.melodies[i] for i in chosen], metres(melody_set, chosen)


def test_the_default_model_ships():
    assert ROOT / "models" / "default.tflite" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_model_loads_on_the_box_and_steps(path):
    with StepModel(path) as model:
        logits = model.step(60)
    assert logits.shape == (VOCAB_SIZE,) and np.all(np.isfinite(logits))


@pytest.mark.parametrize(("path", "runtime"), CASES, ids=lambda c: getattr(c, "name", c))
def test_every_shipped_models_recorded_figures_are_its_own_in_each_runtime(path, runtime):
    pythons = runtime_pythons()
    if runtime not in pythons:
        pytest.skip(f"{runtime} is not installed here (make .venv-tflite-runtime/.ready)")
    melodies, metres = first_validation_melodies(path)
    measured = measure_file(path, melodies, {runtime: pythons[runtime]}, metres)["runtimes"][runtime]["check"]
    recorded = load_contract(path).metrics["measured"]["runtimes"][runtime]["check"]
    assert measured["tokens"] == recorded["tokens"] == CHECK_STEPS
    assert measured["nll"] == pytest.approx(recorded["nll"], rel=1e-6)
    assert measured["accuracy"] == recorded["accuracy"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_models_metrics_row_is_its_measured_row(path):
    metrics = load_contract(path).metrics
    first = next(iter(metrics["measured"]["runtimes"].values()))
    assert metrics["models"]["lstm"] == {k: v for k, v in first.items() if k != "check"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_model_beats_the_best_ngram_by_ten_percent(path):
    metrics = load_contract(path).metrics
    lstm, ngram = metrics["models"]["lstm"]["nll"], metrics["models"][f"kneser-ney-{metrics['ngram_order']}"]["nll"]
    assert metrics["improvement_over_ngram_percent"] == pytest.approx(100 * (ngram - lstm) / ngram)
    assert metrics["improvement_over_ngram_percent"] >= 10.0


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_model_was_checked_in_both_runtimes(path):
    contract = load_contract(path)
    for runtime in contract.runtimes:
        parity = contract.parity["runtimes"][runtime]
        if contract.precision == "float32":
            assert parity["max_abs_logit_diff"] < 1e-4
        else:
            assert parity["top1_agreement"] >= 0.985  # the Makefile's int8 bar (--min-agreement 0.985)
    assert set(contract.runtimes) == {"ai-edge-litert", "tflite-runtime"}
    assert set(contract.metrics["measured"]["runtimes"]) == set(contract.runtimes)
