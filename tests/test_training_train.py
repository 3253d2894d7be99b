"""Split, windows, transposition, and a tiny training run (default strategy) that learns scales."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from device.encoding import NO_EVENT, NOTE_OFF, START_TOKEN
from training.windows import make_windows, split_melodies

REPO = Path(__file__).parents[1]


def test_split_puts_every_melody_on_exactly_one_side():
    split = split_melodies(50, 0.2, seed=7)
    assert set(split.train).isdisjoint(split.validation)
    assert sorted(split.train + split.validation) == list(range(50))
    assert len(split.validation) == 10


def test_split_is_reproducible_from_its_seed():
    assert split_melodies(30, 0.3, seed=1) == split_melodies(30, 0.3, seed=1)
    assert split_melodies(30, 0.3, seed=1).validation != split_melodies(30, 0.3, seed=2).validation


def test_split_keeps_a_melody_on_each_side_of_a_tiny_set():
    split = split_melodies(2, 0.01, seed=0)
    assert len(split.train) == 1 and len(split.validation) == 1


def test_windows_start_each_melody_with_the_start_token():
    inputs, targets, weights = make_windows([np.array([60, 61, 62, 63])], window=3, stride=3)
    assert inputs.tolist() == [[START_TOKEN, 60, 61], [62, NO_EVENT, NO_EVENT]]
    assert targets.tolist() == [[60, 61, 62], [63, NO_EVENT, NO_EVENT]]
    assert weights.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_windows_overlap_by_window_minus_stride():
    inputs, targets, _ = make_windows([np.arange(10)], window=4, stride=2)
    assert inputs[:, 0].tolist() == [START_TOKEN, 1, 3, 5]
    assert targets[-1].tolist() == [6, 7, 8, 9]


@pytest.mark.tf
def test_transposition_moves_notes_together_and_keeps_them_in_range():
    import tensorflow as tf

    from training.windows import transpose_window

    x = tf.constant([129, 0, 128, 3], tf.int32)
    y = tf.constant([0, 128, 3, 129], tf.int32)
    for _ in range(20):
        tx, ty, _ = transpose_window(x, y, tf.ones(4), max_shift=5)
        tx, ty = tx.numpy(), ty.numpy()
        shift = tx[1]
        assert 0 <= shift <= 5
        assert tx.tolist() == [129, shift, 128, 3 + shift]
        assert ty.tolist() == [shift, 128, 3 + shift, 129]


@pytest.mark.tf
def test_transposition_never_leaves_the_midi_range():
    import tensorflow as tf

    from training.windows import transpose_window

    x = tf.constant([127, NOTE_OFF, 120], tf.int32)
    for _ in range(20):
        tx, _, _ = transpose_window(x, x, tf.ones(3), max_shift=12)
        assert tx.numpy()[0] <= 127 and tx.numpy()[2] >= 108


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from tests.training_helpers import tiny_run

    return tiny_run(tmp_path_factory.mktemp("train"))


@pytest.mark.tf
def test_tiny_run_lowers_validation_loss_on_scales(run):
    from training.baselines import Unigram, nll
    from training.runs import load_run

    history = json.loads((run / "history.json").read_text())
    loaded = load_run(run)
    unigram_nll = nll(Unigram.fit(loaded.side("train")).token_probs(loaded.side("validation")))
    assert len(history["val_loss"]) == 5
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert min(history["val_loss"]) < unigram_nll


@pytest.mark.tf
def test_run_folder_holds_config_split_history_curves_and_checkpoints(run):
    for name in ("config.json", "split.json", "history.json", "training-curves.png",
                 "checkpoints/best.weights.h5", "checkpoints/last.keras"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["strategy"] == "default"
    split = json.loads((run / "split.json").read_text())
    assert set(split["train"]).isdisjoint(split["validation"])


@pytest.mark.tf
def test_resume_continues_from_the_last_epoch(run):
    from training.train import fit

    history = fit(run, resume=True, overrides={"epochs": 6}, verbose=0)
    assert len(history["loss"]) == 6


def test_train_without_data_fails_with_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training", "train", str(tmp_path / "missing.npz"),
                             "--run", str(tmp_path / "run")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr  # TensorFlow may log lines of its own before the error
    assert result.stderr.strip().splitlines()[-1:] == [
        f"melodybox-train train: {tmp_path / 'missing.npz'}: prepared melody file not found "
        "(make one with `melodybox-train prepare`)"]


def test_train_help_documents_the_strategies():
    result = subprocess.run([sys.executable, "-m", "training", "train", "--help"], capture_output=True, text=True,
                            cwd=REPO)
    assert result.returncode == 0
    assert "MirroredStrategy" in result.stdout and "enable_op_determinism" in result.stdout


@pytest.mark.tf
@pytest.mark.parametrize(("name", "kind"), [("default", "_DefaultDistributionStrategy"),
                                            ("one-device", "OneDeviceStrategy")])
def test_strategy_flag_picks_a_tf_distribute_strategy(name, kind):
    from training.train import make_strategy

    assert type(make_strategy(name)).__name__.endswith(kind)


@pytest.mark.tf
def test_the_same_seed_trains_the_same_model(tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    from tests.training_helpers import tiny_run
    from training.model import ModelConfig, build_models

    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        folder.mkdir()
    runs = [tiny_run(folder, epochs=2) for folder in folders]
    histories = [json.loads((run / "history.json").read_text()) for run in runs]
    assert histories[0]["loss"] == histories[1]["loss"]
    assert histories[0]["val_loss"] == histories[1]["val_loss"]
    weights = []
    for run in runs:
        keras.utils.set_random_seed(0)
        model = build_models(ModelConfig(embedding=16, layers=2, units=32, dropout=0.0)).sequence
        model.load_weights(run / "checkpoints" / "best.weights.h5")
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))
