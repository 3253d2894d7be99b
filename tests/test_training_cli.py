"""`melodybox-train`: help for newcomers, and a clear word when the train extra is missing."""

import subprocess
import sys

from device.core.encoding import NO_EVENT, write_midi
from tests.recording import ROOT
from training.data.dataset import load_melodies


def run_cli(*args, block=()):
    """Run melodybox-train in a fresh interpreter where the packages in ``block`` cannot be imported."""
    code = (
        "import sys\n"
        f"for name in {list(block)!r}: sys.modules[name] = None\n"
        "from training.cli import main\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_help_lists_every_subcommand_without_tensorflow():
    result = run_cli("--help", block=["tensorflow", "keras"])
    assert result.returncode == 0
    for name in ("prepare", "train", "evaluate", "export"):
        assert name in result.stdout


def test_training_without_the_train_extra_says_what_to_install():
    result = run_cli("train", "--run", "runs/never", block=["tensorflow"])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        """melodybox-train: error: missing package 'tensorflow'; the training side needs the "train" extra: """
        """pip install -e ".[train]"  (or: make setup-train)"""
    )


def test_prepare_does_not_need_tensorflow(tmp_path):
    write_midi([60, NO_EVENT, 62, NO_EVENT] * 8, tmp_path / "tune.mid")
    result = run_cli("prepare", str(tmp_path), "-o", str(tmp_path / "out.npz"), block=["tensorflow", "keras"])
    assert result.returncode == 0, result.stderr
    assert len(load_melodies(tmp_path / "out.npz")) == 1


def test_every_tensorflow_command_has_a_verbose_flag():
    for command in ("train", "evaluate", "export"):
        result = run_cli(command, "--help", block=["tensorflow", "keras"])
        assert result.returncode == 0, result.stderr
        assert "--verbose" in result.stdout and "TensorFlow's start-up" in result.stdout


def test_quiet_start_up_hides_what_libraries_write_to_the_stderr_file_descriptor(capfd):
    import os
    import sys

    from training.cli import silenced_stderr

    with silenced_stderr():
        os.write(2, b"I0000 oneDNN custom operations are on\n")
    print("melodybox-train: error: a real error", file=sys.stderr)
    assert capfd.readouterr().err == "melodybox-train: error: a real error\n"
