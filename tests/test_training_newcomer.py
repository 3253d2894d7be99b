"""The newcomer's path with twenty MIDI files of their own: prepare -> train --from default -> evaluate -> export.

The files are real MIDI files written here with mido: tunes in odd metres (6/8, 3/4, 9/8, 2/4, 4/2, 4/1, 5/4), one
with a chord track, a .kar and a .midi, and one tune below the notes the shipped model knows. Every command runs
as a user types it, in its own process; the training is tiny (one epoch of two batches): this is the path, not
the model's quality.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training_helpers import write_tune

pytestmark = [pytest.mark.tf, pytest.mark.slow]
REPO = Path(__file__).parents[1]
METRES = [(6, 8)] * 6 + [(3, 4)] * 4 + [(4, 4)] * 3 + [(2, 4)] * 2 + [(9, 8), (4, 2), (4, 1), (5, 4)]
BUDGET = ("--epochs", "1", "--steps-per-epoch", "2", "--window", "64", "--batch-size", "4",
          "--validation-fraction", "0.3")


def melodybox_train(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO)


@pytest.fixture(scope="module")
def own_files(tmp_path_factory) -> Path:
    """Twenty tunes of one's own: odd metres, a chord track, .kar and .midi files, and one low tune."""
    folder = tmp_path_factory.mktemp("newcomer")
    midi = folder / "my tunes"
    for number, (numerator, denominator) in enumerate(METRES):
        suffix = ".kar" if number == 3 else ".midi" if number == 7 else ".mid"
        write_tune(midi / f"tune{number:02d}{suffix}", numerator, denominator, bars=12 if numerator < 4 else 8,
                   seed=number, chords=number == 7)
    write_tune(midi / "low tune.mid", 3, 4, bars=12, low=36, seed=11)  # notes 36..48: below the default's 55..93
    return folder


def test_prepare_train_from_default_evaluate_and_export_work_on_ones_own_files(own_files):
    midi, prepared, run = own_files / "my tunes", own_files / "mine.npz", own_files / "run"
    done = melodybox_train("prepare", midi, "-o", prepared)
    assert done.returncode == 0, done.stderr
    assert "files     20: kept 20, skipped 0 (none)" in done.stdout.splitlines()

    refused = melodybox_train("train", prepared, "--run", run, "--from", "default", *BUDGET)
    assert refused.returncode == 2
    assert f"{midi / 'low tune.mid'} (melody 1: notes 36..48)" in refused.stderr
    assert "--transpose-into 55..93" in refused.stderr and not run.exists()

    done = melodybox_train("prepare", midi, "-o", prepared, "--transpose-into", "55..93")
    assert done.returncode == 0, done.stderr
    assert f"octaves   {midi / 'low tune.mid'}: melody 1 up 2 octaves" in done.stdout.splitlines()

    trained = melodybox_train("train", prepared, "--run", run, "--from", "default", *BUDGET)
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.splitlines()[-1] == f"run written to {run} (evaluate: melodybox-train evaluate --run {run})"

    evaluated = melodybox_train("evaluate", "--run", run, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert list(report["models"])[:2] == ["lstm", "base"] and report["base"] == "default"
    assert report["melodies"] == 6
    assert "default, the model it was fine-tuned from" in report["verdict"]

    exported = melodybox_train("export", "--run", run, "--name", "mine", "--out", own_files / "models",
                               "--parity-steps", "200")
    assert (exported.returncode, exported.stderr) == (0, "")
    model = own_files / "models" / "mine.tflite"
    assert model.is_file() and json.loads(model.with_suffix(".json").read_text())["config"]["base"]["source"] == \
        "default"

    on_the_box = melodybox_train("evaluate", "--model", model, "--json")
    assert on_the_box.returncode == 0, on_the_box.stderr
    stepped = json.loads(on_the_box.stdout)
    assert stepped["models"]["base"]["nll"] == pytest.approx(report["models"]["base"]["nll"], rel=1e-5)
    assert stepped["models"]["lstm"]["nll"] == pytest.approx(report["models"]["lstm"]["nll"], rel=1e-4)
