"""`melodybox-train evaluate`: a model against unigram and Kneser-Ney n-gram baselines, with a verdict.

Two ways in:
- ``--run DIR``: a training run's best Keras weights (training/evaluation/sequence.py).
- ``--model X.tflite``: any exported model, stepped through the box's own step model (training/evaluation/
  exported.py); on ``--data`` or, by default, on the validation melodies its contract names. ``--musical N``
  adds the musical evaluation (training/musical/): N melodies from the box's generator (StepModel + Sampler with
  the box's tail cut, no primer) and N from the n-gram, compared with the reference melodies and N training ones.

Every model predicts every token of each melody from the tokens before it, the melody preceded by
START_TOKEN (as in training and on the box). A fine-tuned model (``train --from X``) is also compared with X
on the same melodies: is it better on your tunes than the model it started from? The verdict says better or
worse only where the melodies show it (training/evaluation/verdict.py), and nothing on too few melodies.
Figures: mean negative log-likelihood per token (nats), perplexity (e^NLL), top-1 accuracy; the same
restricted to steps whose true token is a note-on. ``--json`` prints one JSON object instead of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from device.engine.sampling import DEFAULT_TAIL_CUT
from training.evaluation.exported import DEFAULT_RUNTIME, EvaluateError, evaluate_model, record
from training.evaluation.report import format_table
from training.evaluation.sequence import evaluate_run
from training.fit.runs import RunError, write_json
from training.musical.compare import format_musical
from training.musical.plot import save_png
from training.musical.run import DEFAULT_STEPS, musical_report, musical_steps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path, help="run folder written by `melodybox-train train`")
    source.add_argument("--model", type=Path, help="an exported model (.tflite with its .json contract)")
    parser.add_argument("--data", type=Path, default=None,
                        help="evaluate on this prepared .npz instead of the validation melodies")
    parser.add_argument("--max-order", type=int, default=6, help="highest n-gram order tried (default %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON report (default with --run: RUN/evaluation.json for the validation split)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--runtime", choices=("ai-edge-litert", "tflite-runtime"), default=DEFAULT_RUNTIME,
                        help="TFLite runtime that steps --model (default %(default)s)")
    parser.add_argument("--musical", type=int, default=0, metavar="N",
                        help="with --model: also generate N melodies and compare their musical features with the "
                             "reference melodies (200 gives stable figures; default: no musical evaluation)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"steps per generated melody (default {DEFAULT_STEPS} = 16 bars of 4/4, or as many "
                             "whole bars as the reference melodies are long when they are shorter)")
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


def run_model(args: argparse.Namespace) -> int:
    """``evaluate --model``: print the table (and the musical table) or one JSON object."""
    if args.musical and not 0 <= args.tail_cut < 1:
        raise EvaluateError(f"--tail-cut {args.tail_cut}: must be 0..1 (below 1); 0 draws from the whole distribution")
    report, (melodies, melody_metres, train_side, ngram) = evaluate_model(args.model, args.data, args.max_order,
                                                                     args.runtime)
    text = [format_table(report)]
    if args.record:
        text.append(record(args.model, args.data, melodies, melody_metres, report))
    if args.musical:
        steps, note = musical_steps([len(m) for m in melodies], args.steps)
        train, train_metres = train_side or (None, None)
        musical = musical_report(args.model, melodies, melody_metres, train, train_metres, ngram, args.musical,
                                 steps, args.temperature, args.seed, args.runtime, args.tail_cut)
        png = args.png or Path(f"{args.model.stem}-musical.png")
        save_png(musical, png, f"{args.model.name}: {args.musical} melodies of {steps} steps, "
                               f"temperature {args.temperature:g}, tail cut {args.tail_cut:g}")
        musical.pop("values")
        report["musical"] = {**musical, "png": str(png), **({"note": note} if note else {})}
        text += ["", *([note] if note else []), format_musical(musical), f"Distributions: {png}"]
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report) if args.json else "\n".join(text))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        if args.model is not None:
            return run_model(args)
        if args.musical:
            raise EvaluateError("the musical evaluation plays the box's generator: pass an exported model "
                                "(--model X.tflite) instead of --run")
        report = evaluate_run(args.run, args.data, args.max_order)
    except (RunError, EvaluateError, ValueError) as error:
        print(f"melodybox-train: error: {error}", file=sys.stderr)
        return 2
    out = args.out or (args.run / "evaluation.json" if args.data is None else None)
    if out:
        write_json(out, report)
    print(json.dumps(report) if args.json else format_table(report))
    return 0
