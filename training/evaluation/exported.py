"""`melodybox-train evaluate --model X.tflite`: an exported model as the box runs it.

The model is stepped through device.engine.model.StepModel in one runtime (training/evaluation/measure.py). Without
``--data`` it is scored on the validation melodies its contract names: the contract records the data files
(with SHA-256), the split seed and fraction, so the split is rebuilt exactly and checked against the
recorded sizes. Baselines need the training melodies, so they appear when those files are here; the model it
was fine-tuned from appears when its contract names one whose weights are here, unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.core.contract import load_contract, sha256_of
from training.data.dataset import MelodySet, load_many, load_melodies
from training.data.windows import metres, split_melodies
from training.evaluation.baselines import best_kneser_ney
from training.evaluation.measure import measure_file, record_measurements, token_log_probs
from training.evaluation.parity import runtime_pythons
from training.evaluation.report import assemble, baseline_outputs
from training.evaluation.sequence import base_note, recorded_base, weights_outputs
from training.fit.model import ModelShape
from training.fit.runs import REPO

DEFAULT_RUNTIME = "ai-edge-litert"


class EvaluateError(ValueError):
    """The model, its data or the arguments cannot be evaluated; the message names the file."""


def contract_sets(model_path: Path) -> tuple[MelodySet, list[int], list[int]]:
    """The melodies a model was trained on and its split (train, validation indices), from its contract."""
    data = load_contract(model_path).training_data
    if not data.get("files") or "split_seed" not in data:
        raise EvaluateError(f"{model_path}: its contract does not name its training data; pass --data")
    paths = []
    for entry in data["files"]:
        path = Path(entry["file"]) if Path(entry["file"]).is_absolute() else REPO / entry["file"]
        if not path.is_file():
            raise EvaluateError(f"{path}: the training data of {model_path.name} is not here; pass --data")
        if entry.get("sha256") and sha256_of(path) != entry["sha256"]:
            raise EvaluateError(f"{path}: changed since {model_path.name} was trained (SHA-256 differs); pass --data")
        paths.append(path)
    melody_set = load_many(paths)  # as training loaded them, metres included
    split = split_melodies(len(melody_set), data["validation_fraction"], data["split_seed"])
    if len(split.validation) != data["split"]["validation"]["melodies"]:
        raise EvaluateError(f"{model_path}: the rebuilt split has {len(split.validation)} validation melodies, the "
                            f"contract {data['split']['validation']['melodies']}")
    return melody_set, list(split.train), list(split.validation)


def reference_data(model_path: Path, data: Path | None):
    """(melodies, metres, (training melodies, their metres) or None, what they are) for ``evaluate --model``."""
    try:
        melody_set, train, validation = contract_sets(model_path)
        train_side = [melody_set.melodies[i] for i in train], metres(melody_set, train)
    except EvaluateError:
        if data is None:
            raise
        train_side = None
    if data is not None:
        if not data.is_file():
            raise EvaluateError(f"{data}: prepared melody file not found")
        evaluated = load_melodies(data)
        return evaluated.melodies, metres(evaluated, range(len(evaluated))), train_side, str(data)
    return ([melody_set.melodies[i] for i in validation], metres(melody_set, validation), train_side,
            "validation split (rebuilt from the contract)")


def evaluate_model(model_path: Path, data: Path | None, max_order: int, runtime: str = DEFAULT_RUNTIME) -> tuple:
    """The report of an exported model stepped through StepModel (beside the model it was fine-tuned from, when its
    contract names one that is here); also returns (melodies, metres, (training melodies, metres) or None, the
    fitted n-gram or None)."""
    pythons = runtime_pythons()
    if runtime not in pythons:
        raise EvaluateError(f"runtime {runtime} is not installed here (found: {', '.join(pythons) or 'none'})")
    melodies, melody_metres, train_side, source = reference_data(model_path, data)
    train = train_side[0] if train_side else None
    kept = [i for i, m in enumerate(melodies) if len(m)]
    melodies, melody_metres = [melodies[i] for i in kept], [melody_metres[i] for i in kept]
    logits = measure_file(model_path, melodies, {runtime: pythons[runtime]}, melody_metres)["logits"][runtime]
    targets = np.concatenate([np.asarray(m, np.int64) for m in melodies])
    outputs = {"lstm": (token_log_probs(logits, targets), logits.argmax(axis=1))}
    config = load_contract(model_path).config
    base = recorded_base(config)
    if base and base[1]:
        outputs["base"] = weights_outputs(ModelShape.from_json(config["model"]), base[1], melodies, melody_metres)
    fitted = best_kneser_ney(train, melodies, max_order) if train else None
    search = None
    if train:
        found, search = baseline_outputs(train, melodies, max_order, fitted)
        outputs.update(found)
    report = assemble(outputs, melodies, f"{model_path.name} stepped through the box's StepModel in {runtime}; "
                                         "baselines fitted on its training split", search,
                      base[0] if base and base[1] else "")
    report.update(model=str(model_path), runtime=runtime, evaluated_on=source)
    if base and not base[1]:
        report["note"] = base_note(base[0])
    return report, (melodies, melody_metres, train_side, fitted[0] if fitted else None)


def record(model_path: Path, data: Path | None, melodies, melody_metres, report: dict) -> str:
    """Write ``model_path``'s figures, measured in every runtime here, into its contract; says what it wrote."""
    if data is not None:
        raise EvaluateError("--record writes the figures of the validation melodies the contract names: drop --data")
    pythons = runtime_pythons()
    metrics = record_measurements(model_path, melodies, pythons, report, melody_metres)
    return (f"Recorded in {model_path.with_suffix('.json')}: NLL {metrics['models']['lstm']['nll']:.4f} measured "
            f"in {', '.join(pythons)}.")
