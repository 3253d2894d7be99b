"""Split, windows, transposition, and a tiny training run (default strategy) that learns scales."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from device.core.encoding import NO_EVENT, NOTE_OFF, START_TOKEN
from training.data.windows import make_windows, split_melodies

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

    from training.data.windows import transpose_window

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

    from training.data.windows import transpose_window

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
    from training.evaluation.baselines import Unigram, nll
    from training.fit.runs import load_run

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
    from training.fit.session import fit

    outcome = fit(run, resume=True, overrides={"epochs": 6}, verbose=0)
    assert len(outcome.history["loss"]) == 6


def test_train_without_data_fails_with_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training", "train", str(tmp_path / "missing.npz"),
                             "--run", str(tmp_path / "run")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr  # TensorFlow may log lines of its own before the error
    assert result.stderr.strip().splitlines()[-1:] == [
        f"melodybox-train: error: {tmp_path / 'missing.npz'}: prepared melody file not found "
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
    from training.fit.session import make_strategy

    assert type(make_strategy(name)).__name__.endswith(kind)


@pytest.mark.tf
def test_the_same_seed_trains_the_same_model(tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    from tests.training_helpers import tiny_run
    from training.fit.model import ModelShape, build_models

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
        model = build_models(ModelShape(embedding=16, layers=2, units=32, dropout=0.0)).sequence
        model.load_weights(run / "checkpoints" / "best.weights.h5")
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))


# --- the schedule follows the data -------------------------------------------------------------------------------

def test_a_small_corpus_gets_several_passes_per_epoch_and_a_short_warm_up():
    from training.fit.runs import TrainConfig
    from training.fit.session import MIN_STEPS_PER_EPOCH, schedule

    plan = schedule(TrainConfig(batch_size=64, epochs=12), windows=66)
    assert plan.steps_per_epoch == MIN_STEPS_PER_EPOCH == 25
    assert plan.passes_per_epoch == pytest.approx(25 * 64 / 66)
    assert plan.warmup_steps == 30  # a tenth of 12 x 25 batches


def test_a_large_corpus_gets_one_pass_per_epoch_and_the_full_warm_up():
    from training.fit.runs import TrainConfig
    from training.fit.session import schedule

    plan = schedule(TrainConfig(batch_size=64, epochs=12), windows=9_700)
    assert (plan.steps_per_epoch, plan.passes_per_epoch, plan.warmup_steps) == (152, 152 * 64 / 9_700, 100)


def test_steps_per_epoch_given_on_the_command_line_win():
    from training.fit.runs import TrainConfig
    from training.fit.session import schedule

    assert schedule(TrainConfig(batch_size=8, epochs=2, steps_per_epoch=7), windows=1_000).steps_per_epoch == 7


# --- what train says at the end ----------------------------------------------------------------------------------

def outcome(reason="done", val_loss=(2.0, 1.5, 1.7), unigram=2.2):
    from training.fit.outcome import Outcome

    return Outcome({"loss": [3.0] * len(val_loss), "val_loss": list(val_loss)}, epochs=12, steps_per_epoch=25,
                   passes_per_epoch=24.2, reason=reason, seconds=125.4, patience=3, budget_minutes=19.0,
                   unigram_loss=unigram)


def test_the_summary_is_one_line_with_the_best_epoch_and_the_baseline():
    assert outcome().summary() == (
        "trained 3 epochs of 25 batches (24.2 passes over the training windows each) in 2 min 05 s; best validation "
        "loss 1.500 nats/token at epoch 2 (unigram 2.200); ran all 12 epochs")


@pytest.mark.parametrize(("reason", "words"), [
    ("early", "stopped early after epoch 3 of 12: no validation gain for 3 epochs"),
    ("budget", "stopped in epoch 3 of 12: the 19-minute budget was spent"),
])
def test_the_summary_says_why_training_stopped_early(reason, words):
    assert outcome(reason).summary().endswith(f"; {words}")


def test_no_warning_when_the_run_beats_the_unigram():
    assert outcome(unigram=2.2).warning() is None


def test_a_run_no_better_than_the_unigram_gets_a_warning_with_what_to_try():
    warning = outcome(val_loss=(2.5, 2.3), unigram=2.2).warning()
    assert warning.startswith("the best validation loss 2.300 nats/token is no better than the unigram baseline's "
                              "2.200 (token frequencies alone): try --from default")


def test_the_unigram_loss_is_weighted_like_the_validation_loss():
    from training.evaluation.baselines import Unigram, unigram_loss

    train = [np.array([60, 60, 60, NO_EVENT])]
    probs = Unigram.fit(train).probabilities()
    expected = -(np.log(probs[60]) + np.log(probs[NO_EVENT])) / 2
    targets, weights = np.array([[60, NO_EVENT, NOTE_OFF]]), np.array([[1.0, 1.0, 0.0]])
    assert unigram_loss(train, targets, weights) == pytest.approx(expected)


@pytest.mark.tf
def test_fit_reports_early_stopping_and_the_unigram_warning(tmp_path):
    from tests.training_helpers import write_scales
    from training.evaluation.baselines import unigram_loss
    from training.fit.create import create_run
    from training.fit.model import ModelShape
    from training.fit.runs import TrainConfig
    from training.fit.session import fit

    data = write_scales(tmp_path / "scales.npz", count=12)
    train = TrainConfig(data=(str(data),), seed=3, validation_fraction=0.25, window=32, stride=16, batch_size=16,
                        epochs=6, learning_rate=0.0, patience=1, max_transpose=0)  # nothing learns: no gain
    create_run(tmp_path / "run", ModelShape(embedding=8, layers=1, units=8, dropout=0.0), train, "test")
    result = fit(tmp_path / "run", verbose=0, baseline=unigram_loss)
    assert result.reason == "early" and len(result.history["loss"]) == 2
    assert result.warning() is not None


@pytest.mark.tf
def test_fit_reports_the_time_budget(run):
    from training.fit.session import fit

    ticks = iter(range(0, 10_000, 60))  # every clock reading is a minute later
    result = fit(run, resume=True, overrides={"epochs": 12, "max_minutes": 1.5}, verbose=0,
                 clock=lambda: float(next(ticks)))
    assert result.reason == "budget"


# --- messages that point at the real cause ----------------------------------------------------------------------

def train_cli(*args):
    """Run melodybox-train train in a fresh interpreter; (exit status, stderr lines)."""
    result = subprocess.run([sys.executable, "-m", "training", "train", *map(str, args)], capture_output=True,
                            text=True, cwd=REPO)
    return result.returncode, result.stderr.strip().splitlines()


def test_train_on_a_midi_file_says_train_takes_a_prepared_npz(tmp_path):
    from device.core.encoding import write_midi

    tune = tmp_path / "tune.mid"
    write_midi([60, NO_EVENT, 62, NO_EVENT], tune)
    status, lines = train_cli(tune, "--run", tmp_path / "run")
    assert (status, lines) == (2, [
        f"melodybox-train: error: {tune} is a MIDI file; `train` takes a prepared .npz: make one with "
        f"`melodybox-train prepare {tune} -o tune.npz`, then train on that"])


def test_train_on_the_seed_course_format_says_how_to_convert_it(tmp_path):
    from training.data.dataset import MelodySet, save_legacy

    legacy = tmp_path / "course.npz"
    save_legacy(legacy, MelodySet([np.array([60, 61])], ["a"]))
    status, lines = train_cli(legacy, "--run", tmp_path / "run")
    assert (status, lines) == (2, [
        f"melodybox-train: error: {legacy}: the seed course's pickled format; `train` takes a prepared .npz: "
        f"convert it with `melodybox-train prepare --import-legacy {legacy} -o course-prepared.npz`"])


# --- a file is never unpickled on a guess (issue 20, point 2) ---------------------------------------------------

NOT_DATASETS = {"notes.txt": b"my tunes: G A B c d e\n",
                "take.wav": b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + bytes(20),
                "score.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(13)}


@pytest.mark.parametrize("name", sorted(NOT_DATASETS))
def test_train_on_a_file_that_is_no_prepared_dataset_says_to_run_prepare(tmp_path, name):
    wrong = tmp_path / name
    wrong.write_bytes(NOT_DATASETS[name])
    status, lines = train_cli(wrong, "--run", tmp_path / "run")
    assert (status, lines) == (2, [
        f"melodybox-train: error: {wrong}: this is not a prepared dataset: run prepare on your MIDI files "
        "(`melodybox-train prepare FOLDER -o mine.npz`)"])
    assert not (tmp_path / "run").exists()


# --- every metre prepare keeps trains (issue 20, point 3) ---------------------------------------------------------

TINY = ("--epochs", 1, "--steps-per-epoch", 2, "--units", 8, "--layers", 1, "--embedding", 8, "--window", 64,
        "--batch-size", 4, "--validation-fraction", 0.3)


def prepare_cli(*args):
    """Run melodybox-train prepare in a fresh interpreter; (exit status, stdout lines, stderr)."""
    result = subprocess.run([sys.executable, "-m", "training", "prepare", *map(str, args)], capture_output=True,
                            text=True, cwd=REPO)
    return result.returncode, result.stdout.splitlines(), result.stderr


@pytest.mark.tf
def test_tunes_in_four_two_and_four_one_are_prepared_in_bars_the_model_knows_and_train(tmp_path):
    from tests.training_helpers import write_tune

    for seed in range(3):
        write_tune(tmp_path / "midi" / f"hornpipe{seed}.mid", 4, 2, bars=6, seed=seed)
        write_tune(tmp_path / "midi" / f"long{seed}.mid", 4, 1, bars=3, seed=10 + seed)
    status, out, err = prepare_cli(tmp_path / "midi", "-o", tmp_path / "odd.npz")
    assert status == 0, err
    assert "metres    4/1 (cut into 4 bars of 16 steps) 3, 4/2 (cut into 2 bars of 16 steps) 3 (files)" in out
    assert "bars      16 steps 6 (melodies); 0 start off a bar line" in out
    status, lines = train_cli(tmp_path / "odd.npz", "--run", tmp_path / "run", *TINY)
    assert status == 0, lines
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["loss"]) == 1


def write_long_bars(path: Path) -> Path:
    """A prepared file as prepare wrote it before long bars were cut: melodies in bars of 64 steps (4/1)."""
    from tests.training_helpers import scale_melody
    from training.data.dataset import MelodySet, save_melodies

    melodies = [scale_melody(60, bool(i % 2)) for i in range(6)]
    save_melodies(path, MelodySet(melodies, [f"tune{i}.mid" for i in range(6)], bar_steps=[64] * 6,
                                  bar_offset=[0] * 6))
    return path


def test_train_on_bars_longer_than_the_model_reads_names_the_file_and_leaves_no_run_folder(tmp_path):
    data = write_long_bars(tmp_path / "old.npz")
    status, lines = train_cli(data, "--run", tmp_path / "run", *TINY)
    assert (status, lines[-1:]) == (2, [
        f"melodybox-train: error: {data} (6 melodies in bars of 64 steps): the model reads bars of at most 32 "
        "steps; prepare the MIDI files again with `melodybox-train prepare`, which now cuts long bars into bars the "
        "model knows"])
    assert not (tmp_path / "run").exists()


# --- a run that never finished an epoch is not a run (issue 20, point 4) -----------------------------------------

def start_and_stop(data: Path, run: Path, signal_number: int) -> int:
    """Start `train` with an endless first epoch, send ``signal_number`` once its run folder is written; the exit
    status."""
    def as_at_a_terminal():  # a suite run as a background job (`make test &`) ignores SIGINT, and so would train
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    process = subprocess.Popen([sys.executable, "-m", "training", "train", str(data), "--run", str(run),
                                *map(str, TINY[:2]), "--steps-per-epoch", "1000000", *map(str, TINY[4:])],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=as_at_a_terminal)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            json.loads((run / "split.json").read_text())
            break
        except (OSError, ValueError):
            time.sleep(0.05)
    time.sleep(1.0)  # into the first epoch
    process.send_signal(signal_number)
    try:
        return process.wait(timeout=120)
    finally:
        if process.poll() is None:  # the signal did not end it: the test fails, and leaves no endless training
            process.kill()
            process.wait()


@pytest.mark.tf
@pytest.mark.slow
def test_train_stopped_with_ctrl_c_in_its_first_epoch_leaves_no_run_folder(tmp_path):
    from tests.training_helpers import write_scales

    data = write_scales(tmp_path / "scales.npz", count=10)
    assert start_and_stop(data, tmp_path / "run", signal.SIGINT) != 0
    assert not (tmp_path / "run").exists()


@pytest.mark.tf
@pytest.mark.slow
def test_after_a_crash_in_the_first_epoch_the_same_train_just_trains(tmp_path):
    from tests.training_helpers import write_scales

    data = write_scales(tmp_path / "scales.npz", count=10)
    assert start_and_stop(data, tmp_path / "run", signal.SIGKILL) == -signal.SIGKILL
    assert (tmp_path / "run" / "config.json").is_file()  # what the crash left
    status, lines = train_cli(data, "--run", tmp_path / "run", *TINY)
    assert status == 0, lines
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["loss"]) == 1


@pytest.mark.tf
@pytest.mark.slow
def test_resume_after_a_crash_in_the_first_epoch_trains_the_run_from_its_start(tmp_path):
    from tests.training_helpers import write_scales

    data = write_scales(tmp_path / "scales.npz", count=10)
    start_and_stop(data, tmp_path / "run", signal.SIGKILL)
    status, lines = train_cli("--run", tmp_path / "run", "--resume", "--max-minutes", 0.02)
    assert status == 0, lines
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["loss"]) == 1


def test_an_unfinished_start_is_discarded_but_nothing_else_in_its_folder(tmp_path):
    from training.fit.create import discard_unfinished

    (tmp_path / "checkpoints").mkdir()
    for name in ("config.json", "split.json", "my notes.txt"):
        (tmp_path / name).write_text("{}")
    discard_unfinished(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my notes.txt"]


def test_a_run_whose_history_a_crash_damaged_is_still_a_run_and_is_never_discarded(tmp_path):
    from training.fit.create import discard_unfinished, is_run

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "history.json").write_text('{"loss": [1.2, 0.')
    (tmp_path / "checkpoints" / "last.keras").write_bytes(b"PK")
    discard_unfinished(tmp_path)
    assert is_run(tmp_path) and (tmp_path / "config.json").is_file()


def test_resume_of_a_folder_without_a_run_says_to_leave_out_resume(tmp_path):
    status, lines = train_cli("--run", tmp_path / "nothing", "--resume")
    assert (status, lines[-1:]) == (2, [
        f"melodybox-train: error: {tmp_path / 'nothing'} holds no run to resume: leave out --resume to start one"])


# --- fine-tuning: --from ----------------------------------------------------------------------------------------

@pytest.fixture
def base_run(tmp_path):
    """A run folder as `train` leaves it (2 x 32 units on scales), with a stand-in weights file: no training."""
    from tests.training_helpers import write_scales
    from training.fit.create import create_run
    from training.fit.model import ModelShape
    from training.fit.runs import TrainConfig

    data = write_scales(tmp_path / "scales.npz")
    train = TrainConfig(data=(str(data),), seed=3, validation_fraction=0.2, max_transpose=2)
    create_run(tmp_path / "base", ModelShape(embedding=16, layers=2, units=32, dropout=0.0), train, "test")
    (tmp_path / "base" / "checkpoints" / "best.weights.h5").write_bytes(b"")
    return tmp_path / "base"


def fine_tune_args(data, run, *extra):
    from training.cli import build_parser

    argv = ["train", str(data), "--run", str(run), *map(str, extra)]
    return build_parser(argv).parse_args(argv)


@pytest.mark.tf
def test_a_run_from_a_run_folder_starts_from_its_best_weights(run, tmp_path):
    import keras

    from training.fit.create import create_run
    from training.fit.runs import load_run
    from training.fit.session import load_or_build
    from training.train import configs_from_args

    args = fine_tune_args(run.parent / "scales.npz", tmp_path / "tuned", "--from", run)
    create_run(args.run, *configs_from_args(args), "test")
    config = json.loads((args.run / "config.json").read_text())
    assert config["train"]["base"] == str(run) and config["train"]["learning_rate"] == 1e-3
    assert config["base"]["weights"] == str(run / "checkpoints" / "best.weights.h5")
    tuned = load_or_build(load_run(args.run), False, 1e-3)
    base = load_or_build(load_run(run), False, 1e-3)
    base.load_weights(run / "checkpoints" / "best.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(tuned.get_weights(), base.get_weights(), strict=True))
    keras.backend.clear_session()


def test_from_takes_the_base_model_shape_and_rejects_a_different_one(base_run, tmp_path):
    from training.fit.runs import RunError
    from training.train import configs_from_args

    data = base_run.parent / "scales.npz"
    model, _ = configs_from_args(fine_tune_args(data, tmp_path / "tuned", "--from", base_run))
    assert (model.layers, model.units, model.embedding) == (2, 32, 16)
    args = fine_tune_args(data, tmp_path / "tuned", "--from", base_run, "--units", 64, "--layers", 2)
    with pytest.raises(RunError, match=r"the model shape must match the base model's: units 64 \(base 32\); "
                                       "leave out the shape flags"):
        configs_from_args(args)


def test_from_rejects_melodies_outside_the_base_pitch_range(base_run, tmp_path):
    from tests.training_helpers import scale_melody
    from training.data.dataset import MelodySet, save_melodies
    from training.fit.create import create_run
    from training.fit.runs import RunError
    from training.train import configs_from_args

    low = tmp_path / "low.npz"
    save_melodies(low, MelodySet([scale_melody(30, False), scale_melody(60, True)], ["a", "b"]))
    args = fine_tune_args(low, tmp_path / "tuned", "--from", base_run)
    with pytest.raises(RunError) as refused:
        create_run(args.run, *configs_from_args(args))
    assert str(refused.value) == (
        f"--from {base_run}: 1 of 2 melodies has notes outside 53..83, the MIDI notes {base_run} was trained on: "
        "a (melody 1: notes 30..42). Move them by whole octaves with `melodybox-train prepare YOUR_MIDI_FILES -o "
        "NEW.npz --transpose-into 53..83`, or train from scratch (leave out --from)")
    assert not args.run.exists()


def test_from_default_names_the_files_and_melodies_outside_its_range_and_how_to_move_them(tmp_path):
    from tests.training_helpers import write_tune

    write_tune(tmp_path / "midi" / "low.mid", 3, 4, bars=4, low=36, seed=11)  # notes 36..47
    for seed in range(2):
        write_tune(tmp_path / "midi" / f"tune{seed}.mid", 4, 4, bars=4, low=60, seed=seed)
    assert prepare_cli(tmp_path / "midi", "-o", tmp_path / "mine.npz")[0] == 0
    status, lines = train_cli(tmp_path / "mine.npz", "--run", tmp_path / "run", "--from", "default")
    assert (status, lines[-1:]) == (2, [
        "melodybox-train: error: --from default: 1 of 3 melodies has notes outside 55..93, the MIDI notes default was "
        f"trained on: {tmp_path / 'midi' / 'low.mid'} (melody 1: notes 36..47). Move them by whole octaves with "
        "`melodybox-train prepare YOUR_MIDI_FILES -o NEW.npz --transpose-into 55..93`, or train from scratch (leave "
        "out --from)"])
    assert not (tmp_path / "run").exists()


def test_from_an_unknown_model_names_what_is_missing(tmp_path):
    from training.fit.finetune import resolve_base
    from training.fit.runs import RunError

    with pytest.raises(RunError, match=r"--from nosuch: .*models/nosuch.json not found \(models with Keras "
                                       r"weights: default"):
        resolve_base("nosuch")


def test_from_default_reads_the_shipped_models_shape_and_pitch_range():
    from training.fit.finetune import resolve_base

    contract = json.loads((REPO / "models" / "default.json").read_text())
    base = resolve_base("default")
    assert base.weights == REPO / "models" / "default.weights.h5"
    shipped = contract["config"]["model"]
    assert (base.model.units, base.model.layers, base.model.inputs) == (
        shipped["units"], shipped["layers"], shipped.get("inputs", "token"))
    assert list(base.pitch_range) == contract["encoding"]["pitch_range"]


@pytest.mark.tf
def test_the_shipped_keras_weights_are_the_shipped_tflite_model():
    from device.engine.model import StepModel
    from training.data.windows import with_start
    from training.evaluation.parity import keras_reference
    from training.fit.finetune import resolve_base
    from training.fit.model import build_models

    base = resolve_base("default")
    sequence = build_models(base.model).sequence
    sequence.load_weights(base.weights)
    melody = np.array([62, NO_EVENT, 64, NO_EVENT, 66, NOTE_OFF, 67, NO_EVENT] * 4, np.int32)
    keras_logits = keras_reference(sequence, [melody], len(melody), None, base.model.feature_names)
    step = StepModel(REPO / "models" / "default.tflite")  # from a reset: bar step 0, as keras_reference's metre
    tflite_logits = np.stack([step.step(int(token)) for token in with_start(melody)[:-1]])
    assert np.abs(tflite_logits - keras_logits).max() < 1e-4


@pytest.mark.tf
def test_base_weights_that_do_not_load_are_named_in_one_line(base_run, tmp_path):
    from training.fit.create import create_run
    from training.fit.runs import RunError, load_run
    from training.fit.session import load_or_build
    from training.train import configs_from_args

    args = fine_tune_args(base_run.parent / "scales.npz", tmp_path / "tuned", "--from", base_run)
    create_run(args.run, *configs_from_args(args), "test")
    with pytest.raises(RunError, match=rf"^{base_run / 'checkpoints' / 'best.weights.h5'}: cannot load these "
                                       rf"weights into the model of {args.run / 'config.json'} \(.*\)$"):
        load_or_build(load_run(args.run), False, 1e-3)
