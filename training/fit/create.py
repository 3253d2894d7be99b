"""Making a run folder (config.json, split.json) for ``train``, and what counts as a run.

A run is a folder in which at least one epoch finished (its history.json lists one, or a checkpoint exists).
A folder that holds only the files a run starts with (a run that was refused, crashed or was stopped before
its first epoch ended) is not a run: ``create_run`` replaces it and ``discard_unfinished`` removes it.
Everything that can refuse a run (the data, the split, the base model's pitch range, bars the model cannot
read) is checked before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path

from device.core.features import MAX_BAR_STEPS
from training.data.dataset import MelodySet
from training.data.windows import split_melodies
from training.fit import finetune
from training.fit.model import ModelShape
from training.fit.runs import RunError, TrainConfig, describe_data, load_data, read_json, write_json

# The files a run writes before its first epoch ends, and its checkpoints; nothing else is ever removed.
STARTED_FILES = ("config.json", "split.json", "history.json", "training-curves.png")
CHECKPOINTS = ("best.weights.h5", "last.keras")


def finished_epochs(path: Path) -> int:
    """How many epochs of the run in ``path`` finished, as its history.json says (0 without one)."""
    history = Path(path) / "history.json"
    if not history.is_file():
        return 0
    try:
        return len(json.loads(history.read_text()).get("loss", []))
    except (ValueError, AttributeError):
        return 0


def is_run(path: Path) -> bool:
    """True when an epoch of the run in ``path`` finished: its history lists one, or a checkpoint exists (so a
    run whose history.json a crash damaged is never taken for an unfinished start)."""
    checkpoints = Path(path) / "checkpoints"
    return finished_epochs(path) > 0 or any((checkpoints / name).exists() for name in CHECKPOINTS)


def is_unfinished(path: Path) -> bool:
    """True when ``path`` holds the start of a run whose first epoch never finished."""
    return (Path(path) / "config.json").is_file() and not is_run(path)


def discard_unfinished(path: Path) -> None:
    """Remove what a run that never finished an epoch left in ``path``: only the files a run writes, and its
    checkpoints folder when nothing else is in it. A folder with a finished epoch is left alone."""
    path = Path(path)
    if not path.is_dir() or is_run(path):
        return
    for name in STARTED_FILES:
        (path / name).unlink(missing_ok=True)
        (path / f"{name}.part").unlink(missing_ok=True)  # what a crash inside runs.write_json leaves
    checkpoints = path / "checkpoints"
    if checkpoints.is_dir() and not any(checkpoints.iterdir()):
        checkpoints.rmdir()


def long_bars(melody_set: MelodySet) -> str | None:
    """A sentence naming the prepared files whose melodies are in bars longer than the model's bar position
    input reads (device.core.features.MAX_BAR_STEPS), or None."""
    too_long = [i for i, steps in enumerate(melody_set.bar_steps) if steps > MAX_BAR_STEPS]
    if not too_long:
        return None
    files, first = [], 0
    for entry in melody_set.metadata.get("files", [{"file": "the data", "melodies": len(melody_set)}]):
        found = [i for i in too_long if first <= i < first + entry["melodies"]]
        if found:
            bars = sorted({int(melody_set.bar_steps[i]) for i in found})
            files.append(f"{entry['file']} ({len(found)} melodies in bars of {', '.join(map(str, bars))} steps)")
        first += entry["melodies"]
    return (f"{'; '.join(files)}: the model reads bars of at most {MAX_BAR_STEPS} steps; prepare the MIDI files "
            "again with `melodybox-train prepare`, which now cuts long bars into bars the model knows")


def create_run(path: Path, model: ModelShape, train: TrainConfig, command: str = "") -> None:
    """Check everything a run needs, then write config.json and split.json into ``path``.

    Raises RunError (nothing written) when ``path`` already holds a run with a finished epoch, or when the
    data cannot train this model. The start of a run that never finished an epoch is replaced.
    """
    path = Path(path)
    if (path / "config.json").exists() and not is_unfinished(path):
        raise RunError(f"{path} already holds a run ({finished_epochs(path)} epochs): pass --resume to continue "
                       "it, or choose another --run")
    melodies = load_data(train.data)
    split = split_melodies(len(melodies), train.validation_fraction, train.seed)
    too_long = long_bars(melodies) if model.feature_names else None
    if too_long:
        raise RunError(too_long)
    config = {"model": model.to_json(), "train": train.to_json(), "command": command}
    if train.base:
        base = finetune.resolve_base(train.base)
        finetune.check_pitches(base, melodies)
        config["base"] = finetune.describe(base)
    discard_unfinished(path)
    (path / "checkpoints").mkdir(parents=True, exist_ok=True)
    write_json(path / "config.json", config)
    write_json(path / "split.json", {**split.to_json(), "data": describe_data(train.data, melodies)})


def record_resume(path: Path, command: str) -> None:
    """Add a resume command to the run's config.json ("resumed": [...]), for the contract's provenance."""
    config = read_json(path / "config.json")
    config["resumed"] = [*config.get("resumed", []), command]
    write_json(path / "config.json", config)
