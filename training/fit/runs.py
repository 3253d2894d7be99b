"""The run folder: what ``train`` writes and ``evaluate``/``export`` read.

    runs/NAME/
      config.json          {"model": ModelShape, "train": TrainConfig}
      split.json           melody indices on each side, seed, fraction, data files + sha256
      history.json         per-epoch loss/accuracy (nats per token), learning rate, seconds
      training-curves.png  loss curves
      evaluation.json      written by ``evaluate``
      checkpoints/best.weights.h5   weights with the lowest validation loss
      checkpoints/last.keras        model + optimizer after the last epoch (for --resume)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from device.core import encoding
from device.core.contract import sha256_of
from training.data.convert import MIDI_SUFFIXES
from training.data.dataset import DatasetError, MelodySet, load_many
from training.data.windows import Split
from training.fit.model import ModelShape, check_keys

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = Path(__file__).parents[1] / "corpus" / "folk.npz"
FINE_TUNE_LEARNING_RATE = 1e-3  # peak learning rate with --from: a trained model needs smaller steps


class RunError(ValueError):
    """A run folder that is missing or incomplete."""


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. Windows and strides in steps (16th notes); time in minutes; 0 = no limit;
    ``steps_per_epoch`` 0 = follow the data (see train.schedule)."""

    data: tuple[str, ...] = (str(DEFAULT_CORPUS),)
    seed: int = 1
    validation_fraction: float = 0.1
    window: int = 256
    stride: int = 256  # no overlap: how the default's epochs fit its time budget (models/README.md, "Made by")
    batch_size: int = 64
    epochs: int = 8
    steps_per_epoch: int = 0
    max_minutes: float = 19.0
    learning_rate: float = 4e-3
    patience: int = 3
    max_transpose: int = 0  # none: transposing put generated tunes in rare keys (models/README.md, "Trained on")
    strategy: str = "default"
    base: str = ""  # --from: the trained model whose weights start the run ("" = random initial weights)

    def to_json(self) -> dict:
        return {**asdict(self), "data": list(self.data)}

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        check_keys(cls, data, "train config")
        return cls(**{**data, "data": tuple(data.get("data", cls.data))})


@dataclass
class Run:
    """A loaded run folder: its configs, its data and the split of that data."""

    path: Path
    model: ModelShape
    train: TrainConfig
    melodies: MelodySet
    split: Split

    def side(self, name: str) -> list[np.ndarray]:
        """The melodies of one side of the split: ``"train"`` or ``"validation"``."""
        indices = self.split.train if name == "train" else self.split.validation
        return [self.melodies.melodies[i] for i in indices]

    @property
    def best_weights(self) -> Path:
        return self.path / "checkpoints" / "best.weights.h5"

    @property
    def last_model(self) -> Path:
        return self.path / "checkpoints" / "last.keras"


def shown_path(path: str | Path) -> str:
    """``path`` relative to the repository when it lies inside it (no local folders in shipped JSON), else
    absolute (so that a run or a contract finds it again from any folder)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(resolved)


def describe_data(paths: tuple[str, ...], melody_set: MelodySet) -> dict:
    """Files with SHA-256, melody and token counts, for split.json and the contract."""
    files = [{**f, "file": shown_path(p), "sha256": sha256_of(p)}
             for p, f in zip(paths, melody_set.metadata["files"], strict=True)]
    return {"files": files, "melodies": len(melody_set), "tokens": melody_set.steps}


def pitch_range(melodies: list[np.ndarray]) -> tuple[int, int]:
    """Lowest and highest note-on pitch in ``melodies`` (0..127)."""
    notes = np.concatenate([m[m < encoding.NUM_PITCHES] for m in melodies])
    if len(notes) == 0:
        raise ValueError("the melodies contain no notes")
    return int(notes.min()), int(notes.max())


def load_data(paths: tuple[str, ...]) -> MelodySet:
    """Load prepared files, with a clear error for a missing one, a MIDI file or folder, or the legacy format."""
    for path in paths:
        check_prepared(Path(path))
    try:
        return load_many(list(paths))
    except DatasetError as error:
        if "legacy pickled format" not in str(error):
            raise
        path = next(p for p in paths if str(error).startswith(f"{p}:"))
        raise RunError(f"{path}: the seed course's pickled format; `train` takes a prepared .npz: convert it with "
                       f"`melodybox-train prepare --import-legacy {path} -o {Path(path).stem}-prepared.npz`") from None


def check_prepared(path: Path) -> None:
    """Raise RunError unless ``path`` is a file that is not MIDI, saying how to prepare what it is."""
    is_midi = path.suffix.lower() in MIDI_SUFFIXES or (path.is_file() and _magic(path) == b"MThd")
    if path.is_dir() or is_midi:
        what = "a folder" if path.is_dir() else "a MIDI file"
        raise RunError(f"{path} is {what}; `train` takes a prepared .npz: make one with "
                       f"`melodybox-train prepare {path} -o {path.stem or 'melodies'}.npz`, then train on that")
    if not path.is_file():
        raise RunError(f"{path}: prepared melody file not found (make one with `melodybox-train prepare`)")


def _magic(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(4)


def write_json(path: Path, data) -> None:
    """Write ``data`` as JSON, atomically: a crash leaves the old file or the new one, never half of one."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(part, path)


def read_json(path: Path):
    if not path.is_file():
        raise RunError(f"{path}: not found (is {path.parent} a finished training run?)")
    return json.loads(path.read_text())


def load_run(path: str | Path) -> Run:
    """Read a run folder written by ``train``; checks that the data still matches the split."""
    path = Path(path)
    config = read_json(path / "config.json")
    split_data = read_json(path / "split.json")
    train = TrainConfig.from_json(config["train"])
    melodies = load_data(train.data)
    if split_data["data"]["melodies"] != len(melodies):
        raise RunError(f"{path}: the split covers {split_data['data']['melodies']} melodies but the data "
                       f"now has {len(melodies)} (the prepared files changed since training)")
    return Run(path, ModelShape.from_json(config["model"]), train, melodies, Split.from_json(split_data))
