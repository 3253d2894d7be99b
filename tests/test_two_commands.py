"""`melodybox` and `melodybox-train` keep one convention: --verbose before or after the subcommand, --version,
the help and status 0 without arguments, values named for people, errors as "TOOL: error: ...", and a model named
NAME is models/NAME.tflite for both (`run --model NAME`, `train --from NAME`)."""

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from device.core.contract import MODELS, model_file
from device.core.encoding import NO_EVENT, is_note_on, write_midi
from device.core.scales import in_scale
from tests.recording import ROOT
from tests.test_cli import played_pitches
from training.fit.finetune import resolve_base

TOOLS = {"melodybox": "device", "melodybox-train": "training"}
SUBCOMMANDS = {"melodybox": ["run", "generate", "controls", "ports", "doctor"],
               "melodybox-train": ["prepare", "train", "evaluate", "export"]}


def tool(name, *args, cwd=ROOT):
    """The real command in a fresh interpreter (``python -m device`` / ``python -m training``), TensorFlow blocked:
    nothing here needs it."""
    code = ("import runpy, sys\n"
            "for blocked in ('tensorflow', 'keras'): sys.modules[blocked] = None\n"
            f"sys.argv = [{name!r}, *sys.argv[1:]]\n"
            f"runpy.run_module({TOOLS[name]!r}, run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", TOOLS)
def test_without_arguments_each_prints_its_help_and_exits_0(name):
    result = tool(name)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: {name} ")


@pytest.mark.parametrize("name", TOOLS)
def test_each_says_its_version(name):
    result = tool(name, "--version")
    assert (result.returncode, result.stdout) == (0, f"{name} {importlib.metadata.version('melodybox')}\n")


@pytest.mark.parametrize("name", TOOLS)
def test_verbose_goes_before_or_after_the_subcommand(name, tmp_path):
    write_midi([60, NO_EVENT, 62, NO_EVENT] * 8, tmp_path / "tune.mid")
    command = {"melodybox": ["controls"], "melodybox-train": ["prepare", tmp_path / "tune.mid", "-o",
                                                               tmp_path / "out.npz"]}[name]
    for args in (["--verbose", *command], [*command, "--verbose"]):
        result = tool(name, *args)
        assert result.returncode == 0, (args, result.stderr)


@pytest.mark.parametrize(("name", "subcommand"), [(n, s) for n, subs in SUBCOMMANDS.items() for s in subs])
def test_every_value_in_the_help_is_named_for_people_never_after_its_option(name, subcommand):
    result = tool(name, subcommand, "--help")
    assert result.returncode == 0, result.stderr
    assert "--verbose" in result.stdout
    placeholders = [f"{flag} {value}" for flag, value in re.findall(r"(--[a-z-]+) ([A-Z_]+)\b", result.stdout)
                    if value == flag[2:].upper().replace("-", "_") and "_" in value]
    assert placeholders == []  # e.g. "--learning-rate LEARNING_RATE"


def test_errors_read_tool_error_message(tmp_path):
    box = tool("melodybox", "run", "--model", tmp_path / "none.tflite", "--steps", "1")
    train = tool("melodybox-train", "prepare", tmp_path / "missing", "-o", tmp_path / "out.npz")
    assert (box.returncode, train.returncode) == (2, 2)
    assert box.stderr == f"melodybox: error: {tmp_path / 'none.tflite'}: model file not found\n"
    assert train.stderr == f"melodybox-train: error: no such file or folder: {tmp_path / 'missing'}\n"


def test_a_model_named_on_the_command_line_is_in_models():
    assert model_file("mine") == MODELS / "mine.tflite"
    assert model_file("mine", ".json") == MODELS / "mine.json"
    assert model_file("runs/mine.tflite") == Path("runs/mine.tflite")


def test_run_and_generate_find_a_model_by_its_name_from_any_folder(tmp_path):
    run = tool("melodybox", "run", "--model", "default-int8", "--steps", "4", "--bpm", "400", "--midi-file",
               tmp_path / "r.mid", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"model {MODELS / 'default-int8.tflite'} on" in run.stderr
    generate = tool("melodybox", "generate", "--model", "default-float16", "--bars", "1", "-o", tmp_path / "g.mid",
                    cwd=tmp_path)
    assert generate.returncode == 0, generate.stderr


def test_train_from_finds_the_same_model_by_its_name():
    base = resolve_base("default")
    assert base.weights == MODELS / "default.weights.h5"
    assert model_file("default", ".json").is_file()


def test_run_takes_every_music_flag_generate_takes(tmp_path):
    result = tool("melodybox", "run", "--scale", "C:major", "--density", "0.7", "--register", "72:24", "--steps",
                  "32", "--bpm", "400", "--seed", "4", "--midi-file", tmp_path / "r.mid")
    assert result.returncode == 0, result.stderr
    pitches = played_pitches(tmp_path / "r.mid")
    assert pitches and all(is_note_on(p) and in_scale(0, "major")[p] and 60 <= p <= 84 for p in pitches)
