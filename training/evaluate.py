"""`melodybox-train evaluate`: a model against unigram and Kneser-Ney n-gram baselines, with a verdict.

Two ways in:
- ``--run DIR``: a training run's best Keras weights. Each melody is read whole, in one pass from a zero
  state (the same as stepping it token by token from a reset), with its features for a lookback model.
- ``--model X.tflite``: any exported model, stepped through the box's own step model (training/evaluation/measure.py);
  on ``--data`` or, by default, on the validation melodies its contract names. ``--musical N`` adds the
  musical evaluation (training/musical/compare.py) of N melodies from the box's generator.

Every model predicts every token of each melody from the tokens before it, the melody preceded by
START_TOKEN (as in training and on the box). Baselines are fitted on the training split; the n-gram order
(1..--max-order) is the one with the lowest NLL on the evaluated melodies, which flatters the n-gram.
Figures: mean negative log-likelihood per token (nats), perplexity (e^NLL), top-1 accuracy; the same
restricted to steps whose true token is a note-on. ``--json`` prints one JSON object instead of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from device.core import encoding, features
from training.data.windows import DEFAULT_METRE, metres, sequence_inputs
from training.evaluation.baselines import Unigram, best_kneser_ney
from training.evaluation.measure import scores
from training.fit.runs import RunError, load_data, load_run, write_json

__all__ = ["scores", "evaluate", "evaluate_run", "format_table", "verdict"]
BASELINE_NAMES = {"unigram": "unigram (token frequencies)", "kneser-ney": "best n-gram"}


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
    from training.evaluation.exported import add_model_arguments

    add_model_arguments(parser)


def lstm_outputs(sequence_model, melodies: list[np.ndarray], melody_metres=None, feature_names=(),
                 batch_tokens: int = 32768):
    """Per-token log P(true token) and argmax of the sequence model, melodies concatenated in order."""
    import tensorflow as tf

    melody_metres = melody_metres or [DEFAULT_METRE] * len(melodies)
    order = np.argsort([len(m) for m in melodies])
    log_probs: list = [None] * len(melodies)
    predicted: list = [None] * len(melodies)
    start = 0
    while start < len(order):
        count = 1
        while start + count < len(order) and len(melodies[order[start + count]]) * (count + 1) <= batch_tokens:
            count += 1
        batch = [order[i] for i in range(start, start + count)]
        logp = tf.nn.log_softmax(sequence_model(batch_inputs(melodies, batch, melody_metres, feature_names),
                                                training=False), axis=-1).numpy()
        for row, index in enumerate(batch):
            n = len(melodies[index])
            targets = np.asarray(melodies[index], np.int64)
            log_probs[index] = logp[row, np.arange(n), targets]
            predicted[index] = np.argmax(logp[row, :n], axis=-1)
        start += count
    return np.concatenate(log_probs), np.concatenate(predicted)


def batch_inputs(melodies, batch, melody_metres, feature_names):
    """The sequence model's inputs for melodies ``batch``, padded to the longest (padding is never scored)."""
    longest = max(len(melodies[i]) for i in batch)
    tokens = np.full((len(batch), longest), encoding.NO_EVENT, np.int32)
    extra = {name: np.zeros((len(batch), longest, *features.INPUTS[name][0]), features.INPUTS[name][1])
             for name in feature_names}
    for row, index in enumerate(batch):
        inputs = sequence_inputs(melodies[index], melody_metres[index], feature_names)
        n = len(melodies[index])
        tokens[row, :n] = (inputs["tokens"] if feature_names else inputs)[0]
        for name in feature_names:
            extra[name][row, :n] = inputs[name][0]
    return {"tokens": tokens, **extra} if feature_names else tokens


def baselines(train: list[np.ndarray], melodies: list[np.ndarray], targets: np.ndarray, max_order: int,
              fitted=None) -> dict:
    """Rows for the unigram and the best Kneser-Ney n-gram, and the n-gram order search (``fitted``: its result
    from best_kneser_ney, if already known)."""
    unigram = Unigram.fit(train)
    ngram, by_order = fitted or best_kneser_ney(train, melodies, max_order)
    return {"models": {
        "unigram": scores(np.log(unigram.token_probs(melodies)), np.full(len(targets), np.argmax(unigram.counts)),
                          targets),
        f"kneser-ney-{ngram.order}": scores(np.log(ngram.token_probs(melodies)), ngram.predictions(melodies),
                                            targets)},
        "ngram_order": ngram.order, "ngram_nll_by_order": {str(k): v for k, v in by_order.items()}}


def assemble(model_row: dict, baseline: dict | None, melodies: int, method: str) -> dict:
    """The report: the model's row first, then the baselines, the gain over the n-gram and the verdict."""
    report = {"models": {"lstm": model_row}, "melodies": melodies, "method": method}
    if baseline:
        report["models"].update(baseline["models"])
        report.update(ngram_order=baseline["ngram_order"], ngram_nll_by_order=baseline["ngram_nll_by_order"])
        best_ngram = report["models"][f"kneser-ney-{baseline['ngram_order']}"]["nll"]
        report["improvement_over_ngram_percent"] = 100.0 * (best_ngram - model_row["nll"]) / best_ngram
    report["verdict"] = verdict(report)
    return report


def evaluate(sequence_model, train: list[np.ndarray], melodies: list[np.ndarray], max_order: int = 6,
             melody_metres=None, feature_names=()) -> dict:
    """The evaluation report of a Keras sequence model: a row per model, the n-gram order search, a verdict."""
    kept = [i for i, m in enumerate(melodies) if len(m)]
    melodies = [melodies[i] for i in kept]
    melody_metres = [melody_metres[i] for i in kept] if melody_metres else None
    targets = np.concatenate([np.asarray(m, np.int64) for m in melodies])
    lstm_logp, lstm_pred = lstm_outputs(sequence_model, melodies, melody_metres, feature_names)
    return assemble(scores(lstm_logp, lstm_pred, targets), baselines(train, melodies, targets, max_order),
                    len(melodies), "full sequences from a zero state, START_TOKEN first; baselines fitted on the "
                                   "training split; n-gram order chosen on these melodies")


def relative(model_nll: float, baseline_nll: float) -> float:
    """How much lower (positive) or higher (negative) the model's NLL is than the baseline's, in percent."""
    return 100.0 * (baseline_nll - model_nll) / baseline_nll


def verdict(report: dict) -> str:
    """The report in words: better or worse than each baseline, by how much, and what to try when worse."""
    model = report["models"]["lstm"]["nll"]
    sentences, worse = [], []
    for name, row in report["models"].items():
        if name == "lstm":
            continue
        label = BASELINE_NAMES["unigram"] if name == "unigram" else f"{BASELINE_NAMES['kneser-ney']} (order " \
                                                                    f"{name.rsplit('-', 1)[1]})"
        gain = relative(model, row["nll"])
        word = "better" if gain > 0 else "worse"
        sentences.append(f"{word} than the {label}: NLL {model:.3f} vs {row['nll']:.3f} nats/token, "
                         f"{abs(gain):.1f}% {'lower' if gain > 0 else 'higher'}")
        if gain <= 0:
            worse.append(name)
    if not sentences:
        return f"NLL {model:.3f} nats/token (no baselines: their training melodies are not available here)."
    text = "The model is " + "; ".join(sentences) + "."
    if "unigram" in worse:
        text += (" It has learned less than how often each token occurs: training has barely started. Train "
                 "longer (more --epochs or --steps-per-epoch) or, for a small corpus, fine-tune the shipped model "
                 "(`melodybox-train train own.npz --run runs/mine --from default`).")
    elif worse:
        text += (" It has learned no more than short note patterns. For a small corpus, fine-tune the shipped "
                 "model (`--from default`); otherwise train longer, on more melodies, or with a larger model.")
    return text


def format_table(report: dict) -> str:
    """A Markdown table of the report, then its verdict."""
    lines = ["| model | NLL (nats/token) | perplexity | top-1 | NLL note-on | perplexity note-on | top-1 note-on |",
             "|---|---|---|---|---|---|---|"]
    for name, row in report["models"].items():
        lines.append(f"| {name} | {row['nll']:.3f} | {row['perplexity']:.2f} | {row['accuracy']:.1%} | "
                     f"{row['nll_note_on']:.3f} | {row['perplexity_note_on']:.2f} | {row['accuracy_note_on']:.1%} |")
    lines.append("")
    lines.append(f"{report['models']['lstm']['tokens']} tokens of {report['melodies']} melodies. {report['verdict']}")
    return "\n".join(lines)


def evaluate_run(run_path: Path, data: Path | None = None, max_order: int = 6) -> dict:
    """Load a run's best weights and evaluate on its validation split (or on ``data``)."""
    from training.fit.model import build_models

    run = load_run(run_path)
    if not run.best_weights.is_file():
        raise RunError(f"{run.best_weights}: no checkpoint (did training finish an epoch?)")
    model = build_models(run.model).sequence
    model.load_weights(run.best_weights)
    if data:
        melody_set = load_data((str(data),))
        melodies, melody_metres = melody_set.melodies, metres(melody_set, range(len(melody_set)))
    else:
        melodies, melody_metres = run.side("validation"), metres(run.melodies, run.split.validation)
    report = evaluate(model, run.side("train"), melodies, max_order, melody_metres, run.model.feature_names)
    report["evaluated_on"] = str(data) if data else "validation split"
    return report


def run(args: argparse.Namespace) -> int:
    from training.evaluation.exported import EvaluateError, run_model

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
