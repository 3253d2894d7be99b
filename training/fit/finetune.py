"""`train --from BASE`: start a run from a trained model's weights instead of random ones.

BASE is either the name of a shipped model (``default`` -> ``models/default.json``, its contract, and
``models/default.weights.h5``, its Keras weights, which ``export`` writes beside every model) or a path to
such a ``.tflite``/``.json``, or a run folder written by ``train`` (its ``checkpoints/best.weights.h5``).
The new run takes the base's model shape; the prepared melodies must lie in the pitch range the base
was trained on (its contract's ``pitch_range``: the training notes widened by the transposition).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from device.core import encoding
from device.core.contract import MODELS, model_file, sha256_of
from training.data.dataset import MelodySet
from training.fit.model import ModelShape
from training.fit.runs import REPO, RunError, load_run, pitch_range, shown_path

WEIGHTS_SUFFIX = ".weights.h5"
# Weights only: dropout is a training setting, so a fine-tuned run may change it.
NOT_SHAPE = ("dropout",)


@dataclass(frozen=True)
class Base:
    """A trained model to start from: its Keras weights, shape and pitch range (MIDI notes, inclusive)."""

    source: str
    weights: Path
    model: ModelShape
    pitch_range: tuple[int, int]


def weights_path_for(model_path: str | Path) -> Path:
    """``models/NAME.tflite`` or ``.json`` -> ``models/NAME.weights.h5`` (the Keras weights shipped beside it)."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(path.suffix) + WEIGHTS_SUFFIX)


def resolve_base(source: str, models: Path = MODELS) -> Base:
    """The base model named by ``--from``: a shipped model's name, its .tflite/.json path, or a run folder."""
    path = Path(source)
    if path.is_dir():
        return _run_base(source, path)
    if path.suffix in (".tflite", ".json"):
        return _shipped_base(source, path.with_suffix(".json"))
    if "/" in source or "\\" in source:
        raise RunError(f"--from {source}: not a run folder, a model (.tflite/.json) or a shipped model's name")
    return _shipped_base(source, model_file(source, ".json", models))  # models/NAME.json, as `run --model NAME`


def _shipped_base(source: str, contract_path: Path) -> Base:
    if not contract_path.is_file():
        names = sorted(p.stem for p in contract_path.parent.glob(f"*{WEIGHTS_SUFFIX.replace('.h5', '')}.h5"))
        known = ", ".join(n.removesuffix(".weights") for n in names) or "none"
        raise RunError(f"--from {source}: {contract_path} not found (models with Keras weights: {known}; "
                       "or pass a run folder)")
    weights = weights_path_for(contract_path)
    if not weights.is_file():
        raise RunError(f"--from {source}: {weights} not found: fine-tuning needs the model's Keras weights "
                       f"beside {contract_path.name} (`melodybox-train export` writes them), or pass a run folder")
    contract = json.loads(contract_path.read_text())
    try:
        model = ModelShape.from_json(contract["config"]["model"])
        low, high = contract["encoding"]["pitch_range"]
    except (KeyError, TypeError, ValueError) as error:
        raise RunError(f"--from {source}: {contract_path}: cannot read the model config and pitch range "
                       f"({error})") from None
    return Base(source, weights, model, (int(low), int(high)))


def _run_base(source: str, path: Path) -> Base:
    run = load_run(path)
    if not run.best_weights.is_file():
        raise RunError(f"--from {source}: {run.best_weights} not found (did that run finish an epoch?)")
    low, high = pitch_range(run.side("train"))
    shift = run.train.max_transpose
    return Base(source, run.best_weights, run.model, (max(0, low - shift), min(127, high + shift)))


def shape_differences(base: ModelShape, wanted: ModelShape) -> list[str]:
    """``"units 128 (base 256)"`` for every shape field where ``wanted`` differs from ``base``."""
    return [f"{f.name} {getattr(wanted, f.name)} (base {getattr(base, f.name)})" for f in fields(ModelShape)
            if f.name not in NOT_SHAPE and getattr(wanted, f.name) != getattr(base, f.name)]


def outside_range(melody_set: MelodySet, low: int, high: int) -> list[tuple[str, list[int], int, int]]:
    """The melodies with a note outside ``low..high`` (MIDI notes), grouped by source file in order:
    (source, melody numbers within that source counted from 1, lowest note, highest note)."""
    found: dict[str, list] = {}
    counted: dict[str, int] = {}
    for melody, source in zip(melody_set.melodies, melody_set.sources, strict=True):
        counted[source] = counted.get(source, 0) + 1
        notes = melody[melody < encoding.NUM_PITCHES]
        if len(notes) and (notes.min() < low or notes.max() > high):
            entry = found.setdefault(source, [[], int(notes.min()), int(notes.max())])
            entry[0].append(counted[source])
            entry[1], entry[2] = min(entry[1], int(notes.min())), max(entry[2], int(notes.max()))
    return [(source, numbers, lowest, highest) for source, (numbers, lowest, highest) in found.items()]


def check_pitches(base: Base, melody_set: MelodySet, shown: int = 5) -> None:
    """Raise RunError naming the melodies (and their files) with notes outside the base's pitch range, and
    how to move them into it (at most ``shown`` files named)."""
    low, high = base.pitch_range
    outside = outside_range(melody_set, low, high)
    if not outside:
        return
    count = sum(len(numbers) for _, numbers, _, _ in outside)
    named = [f"{source} (melod{'y' if len(numbers) == 1 else 'ies'} {', '.join(map(str, numbers))}: notes "
             f"{lowest}..{highest})" for source, numbers, lowest, highest in outside[:shown]]
    more = f" and {len(outside) - shown} more files" if len(outside) > shown else ""
    verb = "has" if count == 1 else "have"
    raise RunError(f"--from {base.source}: {count} of {len(melody_set)} melodies {verb} notes outside {low}..{high}, "
                   f"the MIDI notes {base.source} was trained on: {'; '.join(named)}{more}. Move them by whole "
                   f"octaves with `melodybox-train prepare YOUR_MIDI_FILES -o NEW.npz --transpose-into {low}..{high}`, "
                   "or train from scratch (leave out --from)")


def model_for(base: Base, requested: dict) -> ModelShape:
    """The run's model config: the base's shape, with ``requested`` fields (flags given) that must agree."""
    wanted = ModelShape(**{**base.model.to_json(), **requested})
    differences = shape_differences(base.model, wanted)
    if differences:
        raise RunError(f"--from {base.source}: the model shape must match the base model's: "
                       f"{', '.join(differences)}; leave out the shape flags to take the base's")
    return wanted


def describe(base: Base) -> dict:
    """What config.json records about the base: source, weights file and its SHA-256."""
    return {"source": base.source, "weights": shown_path(base.weights), "sha256": sha256_of(base.weights),
            "pitch_range": list(base.pitch_range)}


def recorded_weights(config: dict) -> Path | None:
    """The base weights a run's config.json records (``base``), or None for a run trained from scratch."""
    if not config.get("base"):
        return None
    path = Path(config["base"]["weights"])
    return path if path.is_absolute() else REPO / path
