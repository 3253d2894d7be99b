"""Measuring an exported file as the box runs it, and recording those figures in its contract."""

import math

import numpy as np
import pytest

from device.core.contract import load_contract
from device.engine.model import StepModel
from tests.recording import copy_shipped_model
from training.evaluation.measure import box_inputs, logit_scores, measure_file, record_measurements
from training.evaluation.parity import ParityError, parity_check, runtime_pythons

MELODIES = [np.array([67, 129, 69, 129, 71, 128], np.int16), np.array([62, 64, 66, 129], np.int16)]


def test_box_inputs_put_start_before_each_melody_and_keep_the_metres():
    inputs = box_inputs(MELODIES, [(16, 0), (12, 3)])
    assert inputs["tokens"].tolist() == [129, 67, 129, 69, 129, 71, 129, 62, 64, 66]
    assert inputs["offsets"].tolist() == [0, 6, 10]
    assert inputs["targets"].tolist() == [67, 129, 69, 129, 71, 128, 62, 64, 66, 129]
    assert (inputs["bar_steps"].tolist(), inputs["bar_offsets"].tolist()) == ([16, 12], [0, 3])


def test_logit_scores_read_the_true_tokens_probability():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    row = logit_scores(logits, np.array([1, 2]))
    assert row["nll"] == pytest.approx((math.log(4) + math.log(1 / 0.8)) / 2)
    assert row["accuracy"] == 0.5


@pytest.fixture
def model(tmp_path):
    return copy_shipped_model(tmp_path)


def one_runtime():
    return {"ai-edge-litert": runtime_pythons()["ai-edge-litert"]}


def test_measure_file_scores_what_stepping_the_step_model_gives(model):
    measured = measure_file(model, MELODIES, one_runtime())["runtimes"]["ai-edge-litert"]
    total = 0.0
    with StepModel(model, runtime="ai-edge-litert") as step_model:
        for melody in MELODIES:
            step_model.reset()
            for previous, target in zip([129, *melody[:-1]], melody, strict=True):
                logits = step_model.step(int(previous)).astype(np.float64)
                total -= logits[target] - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    assert measured["tokens"] == 10
    assert measured["nll"] == pytest.approx(total / 10, rel=1e-6)


def test_recorded_metrics_are_the_files_own_beside_the_baselines(model):
    baseline = {"models": {"lstm": {"nll": 99.0}, "kneser-ney-2": {"nll": 2.0}}, "ngram_order": 2,
                "ngram_nll_by_order": {"1": 2.5, "2": 2.0}, "melodies": 2}
    metrics = record_measurements(model, MELODIES, one_runtime(), baseline)
    measured = metrics["measured"]["runtimes"]["ai-edge-litert"]
    assert load_contract(model).metrics == metrics
    assert metrics["models"]["lstm"]["nll"] == measured["nll"] != 99.0
    assert metrics["improvement_over_ngram_percent"] == pytest.approx(100 * (2.0 - measured["nll"]) / 2.0)
    assert load_contract(model).runtimes == ("ai-edge-litert",)


def test_a_file_that_misses_parity_is_removed_with_its_contract(model):
    wrong = np.zeros((5, 130), np.float32)
    with pytest.raises(ParityError, match="ai-edge-litert: float32 logits differ"):
        record_measurements(model, MELODIES, one_runtime(), None, None, wrong, parity_check("float32", 0.99))
    assert not model.exists() and not model.with_suffix(".json").exists()
