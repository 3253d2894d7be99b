"""`melodybox-train evaluate --model X.tflite`: an exported model as the box runs it, and its musical evaluation.

The model is stepped through device.engine.model.StepModel in one runtime (training/evaluation/measure.py). Without
``--data`` it is scored on the validation melodies its contract names: the contract records the data files
(with SHA-256), the split seed and fraction, so the split is rebuilt exactly and checked against the
recorded sizes. Baselines need the training melodies, so they appear when those files are here.
``--musical N`` generates N melodies of ``--steps`` steps with the box's generator (StepModel + Sampler with
the box's tail cut, no primer) and N from the n-gram (with the same cut), and compares them and N training
melodies with the reference melodies.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from device.core.contract import load_contract, sha256_of
from device.engine.sampling import DEFAULT_TAIL_CUT
from training.data.dataset import MelodySet, load_melodies
from training.data.windows import metres, split_melodies
from training.evaluation.baselines import best_kneser_ney
from training.fit.runs import REPO

DEFAULT_RUNTIME = "ai-edge-litert"


class EvaluateError(ValueError):
    """The model, its data or the arguments cannot be evaluated; the message names the file."""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime", choices=("ai-edge-litert", "tflite-runtime"), default=DEFAULT_RUNTIME,
                        help="TFLite runtime that steps --model (default %(default)s)")
    parser.add_argument("--musical", type=int, default=0, metavar="N",
                        help="with --model: also generate N melodies and compare their musical features with the "
                             "reference melodies (200 gives stable figures; default: no musical evaluation)")
    parser.add_argument("--steps", type=int, default=256, help="steps per generated melody (default %(default)s "
                                                               "= 16 bars of 4/4)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default %(default)s)")
    parser.add_argument("--tail-cut", type=float, default=DEFAULT_TAIL_CUT, metavar="C",
                        help="the box's tail cut: tokens under C times the likeliest one's probability are never "
                             "drawn, by the model or the n-gram (default %(default)s, the box's; 0 draws from the "
                             "whole distribution)")
    parser.add_argument("--seed", type=int, default=1, help="seed for sampling (default %(default)s)")
    parser.add_argument("--png", type=Path, default=None,
                        help="picture of the feature distributions (default: MODEL-musical.png here)")
    parser.add_argument("--record", action="store_true",
                        help="with --model on its validation melodies: measure the file in every runtime here and "
                             "write those figures into its contract's metrics")


def contract_sets(model_path: Path) -> tuple[MelodySet, list[int], list[int]]:
    """The melodies a model was trained on and its split (train, validation indices), from its contract."""
    data = load_contract(model_path).training_data
    if not data.get("files") or "split_seed" not in data:
        raise EvaluateError(f"{model_path}: its contract does not name its training data; pass --data")
    parts = []
    for entry in data["files"]:
        path = Path(entry["file"]) if Path(entry["file"]).is_absolute() else REPO / entry["file"]
        if not path.is_file():
            raise EvaluateError(f"{path}: the training data of {model_path.name} is not here; pass --data")
        if entry.get("sha256") and sha256_of(path) != entry["sha256"]:
            raise EvaluateError(f"{path}: changed since {model_path.name} was trained (SHA-256 differs); pass --data")
        parts.append(load_melodies(path))
    melody_set = parts[0] if len(parts) == 1 else _joined(parts)
    split = split_melodies(len(melody_set), data["validation_fraction"], data["split_seed"])
    if len(split.validation) != data["split"]["validation"]["melodies"]:
        raise EvaluateError(f"{model_path}: the rebuilt split has {len(split.validation)} validation melodies, the "
                            f"contract {data['split']['validation']['melodies']}")
    return melody_set, list(split.train), list(split.validation)


def _joined(parts: list[MelodySet]) -> MelodySet:
    """Several prepared files as one MelodySet, as training loads them (metre fields dropped)."""
    return MelodySet([m for p in parts for m in p.melodies], [s for p in parts for s in p.sources])


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
    """The NLL report of an exported model through StepModel; also returns (melodies, metres, (training melodies,
    metres) or None, the fitted n-gram or None)."""
    from training.evaluate import assemble, baselines
    from training.evaluation.measure import measure_file
    from training.evaluation.parity import runtime_pythons

    pythons = runtime_pythons()
    if runtime not in pythons:
        raise EvaluateError(f"runtime {runtime} is not installed here (found: {', '.join(pythons) or 'none'})")
    melodies, melody_metres, train_side, source = reference_data(model_path, data)
    train = train_side[0] if train_side else None
    kept = [i for i, m in enumerate(melodies) if len(m)]
    melodies, melody_metres = [melodies[i] for i in kept], [melody_metres[i] for i in kept]
    measured = measure_file(model_path, melodies, {runtime: pythons[runtime]}, melody_metres)["runtimes"][runtime]
    row = {k: v for k, v in measured.items() if k != "check"}
    fitted = best_kneser_ney(train, melodies, max_order) if train else None
    targets = np.concatenate([np.asarray(m, np.int64) for m in melodies])
    baseline = baselines(train, melodies, targets, max_order, fitted) if train else None
    report = assemble(row, baseline, len(melodies), f"{model_path.name} stepped through the box's StepModel in "
                                                    f"{runtime}; baselines fitted on its training split")
    report.update(model=str(model_path), runtime=runtime, evaluated_on=source)
    return report, (melodies, melody_metres, train_side, fitted[0] if fitted else None)


def run_model(args: argparse.Namespace) -> int:
    """``evaluate --model``: print the table (and the musical table) or one JSON object."""
    from training.evaluate import format_table

    if args.musical and not 0 <= args.tail_cut < 1:
        raise EvaluateError(f"--tail-cut {args.tail_cut}: must be 0..1 (below 1); 0 draws from the whole distribution")
    report, (melodies, melody_metres, train_side, ngram) = evaluate_model(args.model, args.data, args.max_order,
                                                                     args.runtime)
    text = [format_table(report)]
    if args.record:
        text.append(record(args.model, args.data, melodies, melody_metres, report))
    if args.musical:
        from training.musical.compare import format_musical
        from training.musical.run import musical_report

        train, train_metres = train_side or (None, None)
        musical = musical_report(args.model, melodies, melody_metres, train, train_metres, ngram, args.musical,
                                 args.steps, args.temperature, args.seed, args.runtime, args.tail_cut)
        png = args.png or Path(f"{args.model.stem}-musical.png")
        from training.musical.plot import save_png

        save_png(musical, png, f"{args.model.name}: {args.musical} melodies of {args.steps} steps, "
                               f"temperature {args.temperature:g}, tail cut {args.tail_cut:g}")
        musical.pop("values")
        report["musical"] = {**musical, "png": str(png)}
        text += ["", format_musical(musical), f"Distributions: {png}"]
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report) if args.json else "\n".join(text))
    return 0


def record(model_path: Path, data: Path | None, melodies, melody_metres, report: dict) -> str:
    """Write ``model_path``'s figures, measured in every runtime here, into its contract; says what it wrote."""
    from training.evaluation.measure import record_measurements
    from training.evaluation.parity import runtime_pythons

    if data is not None:
        raise EvaluateError("--record writes the figures of the validation melodies the contract names: drop --data")
    pythons = runtime_pythons()
    metrics = record_measurements(model_path, melodies, pythons, report, melody_metres)
    return (f"Recorded in {model_path.with_suffix('.json')}: NLL {metrics['models']['lstm']['nll']:.4f} measured "
            f"in {', '.join(pythons)}.")
