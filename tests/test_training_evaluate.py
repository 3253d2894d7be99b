"""Evaluation: figures computed right, the LSTM scored like the step model, baselines beside it."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from device.core.contract import load_contract
from training.evaluation.measure import scores
from training.evaluation.report import format_table
from training.evaluation.verdict import verdict

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
    from training.evaluation.sequence import evaluate_run

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
    from training.evaluation.sequence import lstm_outputs
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


# --- an honest verdict: not on too few melodies, and against the model a fine-tune started from (issue 20, 6) ---

def test_a_model_better_on_every_melody_is_clearly_better():
    from training.evaluation.verdict import compare

    lengths = [4, 4, 4, 4, 4, 4]
    model, other = np.full(24, np.log(0.5)), np.full(24, np.log(0.25))
    comparison = compare(model, other, lengths)
    assert comparison["nll_difference"] == pytest.approx(np.log(0.5))  # -log 0.5 - (-log 0.25) = log 0.5 < 0
    assert comparison["interval_95"][1] < 0 and comparison["melodies_better"] == 6


def test_a_model_better_on_half_the_melodies_and_worse_on_the_rest_is_not_clearly_either():
    from training.evaluation.verdict import compare

    lengths = [100] * 6
    model = np.concatenate([np.full(100, np.log(p)) for p in (0.5, 0.2, 0.5, 0.2, 0.5, 0.2)])
    other = np.concatenate([np.full(100, np.log(p)) for p in (0.2, 0.5, 0.2, 0.5, 0.2, 0.5)])
    low, high = compare(model, other, lengths)["interval_95"]
    assert low < 0 < high


def report_of(model_nll: float, base_nll: float, interval: tuple[float, float], melodies: int = 6,
              tokens: int = 600) -> dict:
    return {"models": {"lstm": {"nll": model_nll, "tokens": tokens}, "base": {"nll": base_nll, "tokens": tokens}},
            "comparisons": {"base": {"interval_95": list(interval)}}, "melodies": melodies, "base": "default"}


def test_the_verdict_on_two_melodies_is_that_there_is_too_little_to_tell_and_what_to_do():
    text = verdict(report_of(1.0, 2.0, (-1.2, -0.8), melodies=2, tokens=256))
    assert text.startswith("Too little to tell whether the model is better or worse than the others: a verdict "
                           "needs at least 5 melodies and 512 tokens.")
    assert "--validation-fraction 0.3" in text and "--data more.npz" in text


def test_the_verdict_names_the_model_it_was_fine_tuned_from():
    assert verdict(report_of(1.0, 1.25, (-0.3, -0.2))).startswith(
        "The model is better than the default, the model it was fine-tuned from: NLL 1.000 vs 1.250 nats/token, "
        "20.0% lower.")


def test_a_difference_chance_gives_is_not_called_better():
    text = verdict(report_of(1.0, 1.01, (-0.05, 0.03)))
    assert text.startswith("The model is not clearly better or worse than the default, the model it was fine-tuned "
                           "from (NLL 1.000 vs 1.010 nats/token, 1.0% lower, a difference chance gives on 6 melodies).")
    assert "On these melodies it cannot be told apart from default" in text


def test_a_fine_tune_worse_than_its_base_says_what_to_try():
    assert "Fine-tuning made it worse on these melodies than default: train fewer --epochs or with a lower " \
           "--learning-rate, or keep default." in verdict(report_of(1.3, 1.0, (0.2, 0.4)))


def train_cli(*args):
    result = subprocess.run([sys.executable, "-m", "training", "train", *map(str, args)], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


def evaluate_cli(*args):
    result = subprocess.run([sys.executable, "-m", "training", "evaluate", *map(str, args)], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return result.stdout


TINY = ("--epochs", 1, "--steps-per-epoch", 2, "--units", 8, "--layers", 1, "--embedding", 8, "--window", 64,
        "--batch-size", 4)


@pytest.mark.tf
def test_evaluate_on_two_validation_melodies_gives_no_verdict_but_what_to_do(tmp_path):
    from tests.training_helpers import write_scales

    data = write_scales(tmp_path / "scales.npz", count=10)
    train_cli(data, "--run", tmp_path / "run", *TINY, "--validation-fraction", 0.2)
    last = evaluate_cli("--run", tmp_path / "run").splitlines()[-1]
    assert last.startswith("108 tokens of 2 melodies. Too little to tell whether the model is better or worse than "
                           "the others")


@pytest.mark.tf
@pytest.mark.slow
def test_after_from_x_evaluate_compares_the_run_with_x_on_the_same_melodies(tmp_path):
    from tests.training_helpers import write_scales

    data = write_scales(tmp_path / "scales.npz", count=60)
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    train_cli(data, "--run", base, *TINY, "--validation-fraction", 0.3)
    train_cli(data, "--run", tuned, "--from", base, *TINY[:4], "--window", 64, "--batch-size", 4,
              "--validation-fraction", 0.3)
    report = json.loads(evaluate_cli("--run", tuned, "--json"))
    alone = json.loads(evaluate_cli("--run", base, "--json"))  # the same split: the same seed, fraction and data
    assert list(report["models"])[:2] == ["lstm", "base"] and report["base"] == str(base)
    assert report["models"]["base"]["nll"] == pytest.approx(alone["models"]["lstm"]["nll"], rel=1e-6)
    assert f"{base}, the model it was fine-tuned from" in report["verdict"]
    assert f"| {base} (started from) |" in evaluate_cli("--run", tuned)


@pytest.mark.tf
def test_musical_evaluation_of_melodies_shorter_than_its_default_picks_a_length_they_allow(tmp_path):
    from tests.recording import shipped_model_path
    from tests.training_helpers import write_scales

    data = write_scales(tmp_path / "scales.npz", count=3)  # 54 steps each
    report = json.loads(evaluate_cli("--model", shipped_model_path(), "--data", data, "--json", "--musical", 3,
                                     "--png", tmp_path / "musical.png", "--max-order", 2))
    assert report["musical"]["settings"]["steps"] == 48
    assert report["musical"]["note"] == ("Compared on 48 steps (3 bars of 4/4), as long as 2 of the 3 reference "
                                         "melodies are; the default 256 is longer than they are.")


def test_a_fine_tune_worse_than_the_ngram_is_told_to_train_longer_not_to_fine_tune():
    report = report_of(1.0, 1.5, (-0.6, -0.4))
    report["models"]["kneser-ney-4"] = {"nll": 0.9, "tokens": 600}
    report["comparisons"]["kneser-ney-4"] = {"interval_95": [0.05, 0.15]}
    assert verdict(report).endswith("It has learned no more than short note patterns. Train it longer (more --epochs "
                                    "or --max-minutes) or on more of your melodies.")


@pytest.mark.tf
def test_a_run_made_with_relative_paths_is_evaluated_from_any_folder(tmp_path):
    import os

    from tests.training_helpers import write_scales

    write_scales(tmp_path / "scales.npz", count=10)
    trained = subprocess.run([sys.executable, "-m", "training", "train", "scales.npz", "--run", "run",
                              *map(str, TINY)], capture_output=True, text=True, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert trained.returncode == 0, trained.stderr
    evaluate_cli("--run", tmp_path / "run")  # from the repository's folder, not the one it was trained in
