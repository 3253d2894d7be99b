"""Evaluation: figures computed right, the LSTM scored like the step model, baselines beside it."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from device.core.contract import load_contract
from training.evaluate import format_table, scores, verdict

REPO = Path(__file__).parents[1]


def test_scores_split_note_on_steps_from_the_rest():
    targets = np.array([60, 129, 62, 128])
    log_probs = np.log([0.5, 0.25, 0.125, 1.0])
    predicted = np.array([60, 129, 0, 129])
    row = scores(log_probs, predicted, targets)
    assert row["tokens"] == 4 and row["note_on_tokens"] == 2
    assert row["nll"] == pytest.approx((math.log(2) + math.log(4) + math.log(8)) / 4)
    assert row["nll_note_on"] == pytest.approx((math.log(2) + math.log(8)) / 2)
    assert row["perplexity_note_on"] == pytest.approx(4.0)
    assert row["accuracy"] == 0.5
    assert row["accuracy_note_on"] == 0.5


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from tests.training_helpers import tiny_run

    return tiny_run(tmp_path_factory.mktemp("evaluate"))


@pytest.fixture(scope="module")
def report(run):
    from training.evaluate import evaluate_run

    return evaluate_run(run, max_order=4)


@pytest.mark.tf
def test_report_has_the_lstm_unigram_and_best_ngram(report):
    assert list(report["models"]) == ["lstm", "unigram", f"kneser-ney-{report['ngram_order']}"]
    assert sorted(report["ngram_nll_by_order"]) == ["1", "2", "3", "4"]
    lstm, ngram = report["models"]["lstm"], report["models"][f"kneser-ney-{report['ngram_order']}"]
    assert report["improvement_over_ngram_percent"] == pytest.approx(100 * (ngram["nll"] - lstm["nll"]) / ngram["nll"])


@pytest.mark.tf
def test_trained_lstm_beats_the_unigram(report):
    assert report["models"]["lstm"]["nll"] < report["models"]["unigram"]["nll"]


@pytest.mark.tf
def test_lstm_nll_equals_stepping_the_step_model_fed_as_the_box_feeds_it(run, report):
    from device.core.features import FeatureTracker
    from training.evaluate import lstm_outputs
    from training.fit.model import build_models, state_names, zero_state
    from training.fit.runs import load_run

    loaded = load_run(run)
    models = build_models(loaded.model)
    models.sequence.load_weights(loaded.best_weights)
    melody = loaded.side("validation")[0]
    state, total, tracker = zero_state(loaded.model), 0.0, FeatureTracker()
    for previous, target in zip([129, *melody[:-1]], melody, strict=True):
        fed = {name: value for name, value in tracker.features(int(previous)).items()
               if name in loaded.model.feature_names}
        out = models.step({"token": np.array([[previous]], np.int32), **fed, **state})
        logits = np.asarray(out["logits"], np.float64)[0]
        total -= logits[target] - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        for layer in range(1, loaded.model.layers + 1):
            h, c, h_out, c_out = state_names(layer)
            state[h], state[c] = np.asarray(out[h_out]), np.asarray(out[c_out])
    log_probs, _ = lstm_outputs(models.sequence, [melody], feature_names=loaded.model.feature_names)
    assert -log_probs.sum() == pytest.approx(total, rel=1e-4)


@pytest.mark.tf
def test_evaluate_command_writes_the_report_into_the_run(run):
    result = subprocess.run([sys.executable, "-m", "training", "evaluate", "--run", str(run), "--max-order", "3"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    written = json.loads((run / "evaluation.json").read_text())
    assert format_table(written) in result.stdout


@pytest.mark.tf
def test_evaluate_json_prints_one_object_with_every_models_nll_and_the_verdict(run):
    result = subprocess.run([sys.executable, "-m", "training", "evaluate", "--run", str(run), "--max-order", "2",
                             "--json", "--out", str(run / "other.json")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads((run / "other.json").read_text())
    assert {name: row["nll"] > 0 for name, row in printed["models"].items()} == {
        "lstm": True, "unigram": True, f"kneser-ney-{printed['ngram_order']}": True}
    assert printed["verdict"].startswith("The model is ")


def rows(model: float, unigram: float, ngram: float) -> dict:
    return {"models": {"lstm": {"nll": model}, "unigram": {"nll": unigram}, "kneser-ney-5": {"nll": ngram}}}


def test_verdict_says_better_than_each_baseline_and_by_how_much():
    assert verdict(rows(1.0, 2.0, 1.25)) == (
        "The model is better than the unigram (token frequencies): NLL 1.000 vs 2.000 nats/token, 50.0% lower; "
        "better than the best n-gram (order 5): NLL 1.000 vs 1.250 nats/token, 20.0% lower.")


def test_verdict_worse_than_the_ngram_says_how_much_and_what_to_try():
    text = verdict(rows(1.5, 2.0, 1.25))
    assert "worse than the best n-gram (order 5): NLL 1.500 vs 1.250 nats/token, 20.0% higher." in text
    assert "fine-tune the shipped model (`--from default`)" in text


def test_verdict_worse_than_the_unigram_says_training_has_barely_started():
    text = verdict(rows(4.2, 2.0, 1.25))
    assert "worse than the unigram (token frequencies): NLL 4.200 vs 2.000 nats/token, 110.0% higher" in text
    assert "training has barely started" in text


def test_verdict_without_baselines_gives_the_nll():
    assert verdict({"models": {"lstm": {"nll": 1.5}}}).startswith("NLL 1.500 nats/token (no baselines")


def test_a_tail_cut_outside_zero_to_one_is_refused_before_anything_is_measured():
    from tests.recording import shipped_model_path

    result = subprocess.run([sys.executable, "-m", "training", "evaluate", "--model", str(shipped_model_path()),
                             "--musical", "5", "--tail-cut", "1.5"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip() == ("melodybox-train: error: --tail-cut 1.5: must be 0..1 (below 1); 0 draws "
                                     "from the whole distribution")


def test_musical_evaluation_of_a_run_asks_for_an_exported_model(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training", "evaluate", "--run", str(tmp_path), "--musical", "5"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("pass an exported model (--model X.tflite) instead of --run")


@pytest.fixture(scope="module")
def model_report(tmp_path_factory):
    """`evaluate --model` of the shipped model on three scales, with a small musical evaluation, as JSON."""
    pytest.importorskip("tensorflow")
    from tests.recording import shipped_model_path
    from tests.training_helpers import write_scales

    folder = tmp_path_factory.mktemp("evaluate-model")
    data = write_scales(folder / "scales.npz", count=3)
    result = subprocess.run([sys.executable, "-m", "training", "evaluate", "--model", str(shipped_model_path()),
                             "--data", str(data), "--json", "--musical", "3", "--steps", "16", "--png",
                             str(folder / "musical.png"), "--max-order", "3"], capture_output=True, text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), data, folder


@pytest.mark.tf
def test_evaluate_model_scores_the_file_as_the_box_steps_it(model_report):
    from device.engine.model import StepModel
    from tests.recording import shipped_model_path
    from training.data.dataset import load_melodies

    report, data, _ = model_report
    total, tokens = 0.0, 0
    with StepModel(shipped_model_path()) as model:
        for melody in load_melodies(data).melodies:
            model.reset()
            for previous, target in zip([129, *melody[:-1]], melody, strict=True):
                logits = model.step(int(previous)).astype(np.float64)
                total -= logits[target] - logits.max() - np.log(np.exp(logits - logits.max()).sum())
                tokens += 1
    lstm = report["models"]["lstm"]
    assert (lstm["tokens"], report["evaluated_on"], report["runtime"]) == (tokens, str(data), "ai-edge-litert")
    assert lstm["nll"] == pytest.approx(total / tokens, rel=1e-6)
    assert lstm["perplexity"] == pytest.approx(math.exp(lstm["nll"]))
    assert set(lstm) >= {"accuracy", "nll_note_on", "accuracy_note_on"}
    assert list(report["models"])[1:] == ["unigram", f"kneser-ney-{report['ngram_order']}"]


@pytest.mark.tf
def test_evaluate_model_musical_part_compares_model_ngram_and_real_melodies(model_report):
    report, _, folder = model_report
    musical = report["musical"]
    assert list(musical["rows"]) == ["model", "ngram", "real"]
    assert all(0.0 <= row["oa"] <= 1.0 for rows in musical["rows"].values() for row in rows.values())
    assert musical["summary"]["model"]["melodies"] == 3
    assert musical["settings"]["reference_melodies"] == 3
    assert musical["settings"]["bar_steps"] == {"16": 3}  # the model plays in the reference's metre: the scales' 4/4
    assert (folder / "musical.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_models_validation_melodies_are_rebuilt_from_its_contract():
    from tests.recording import shipped_model_path
    from training.evaluation.exported import contract_sets

    melody_set, train, validation = contract_sets(shipped_model_path())
    recorded = load_contract(shipped_model_path()).training_data["split"]
    assert (len(train), len(validation)) == (recorded["train"]["melodies"], recorded["validation"]["melodies"])
    assert not set(train) & set(validation)


def test_changed_training_data_is_refused_by_name(tmp_path):
    from tests.recording import copy_shipped_model, edit_contract
    from training.evaluation.exported import EvaluateError, contract_sets

    model = copy_shipped_model(tmp_path)
    edit_contract(model, lambda data: data["training_data"]["files"][0].update(sha256="0" * 64))
    with pytest.raises(EvaluateError, match=r"folk.npz: changed since copy.tflite was trained \(SHA-256 differs\); "
                                            r"pass --data"):
        contract_sets(model)


def test_missing_training_data_is_refused_by_name(tmp_path):
    from tests.recording import copy_shipped_model, edit_contract
    from training.evaluation.exported import EvaluateError, contract_sets

    model = copy_shipped_model(tmp_path)
    edit_contract(model, lambda data: data["training_data"]["files"][0].update(file=str(tmp_path / "gone.npz")))
    with pytest.raises(EvaluateError, match=r"gone.npz: the training data of copy.tflite is not here; pass --data"):
        contract_sets(model)
