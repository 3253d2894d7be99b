"""What ships in models/: every .tflite loads on the box with its contract and keeps the contract's promises."""

import numpy as np
import pytest

from device.contract import load_contract
from device.encoding import VOCAB_SIZE
from device.model import StepModel
from tests.recording import ROOT

SHIPPED = sorted((ROOT / "models").glob("*.tflite"))


def test_the_default_model_ships():
    assert ROOT / "models" / "default.tflite" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_model_loads_on_the_box_and_steps(path):
    with StepModel(path) as model:
        logits = model.step(60)
    assert logits.shape == (VOCAB_SIZE,) and np.all(np.isfinite(logits))


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
            assert parity["top1_agreement"] >= 0.99
    assert set(contract.runtimes) == {"ai-edge-litert", "tflite-runtime"}
