"""`melodybox-train evaluate`: the trained model against unigram and Kneser-Ney n-gram baselines.

Every model predicts every token of each melody from the tokens before it, the
melody preceded by START_TOKEN (as in training and on the box). The LSTM reads
each melody whole, in one pass from a zero state (full sequences, no chunking:
the same as stepping it token by token from a reset). Baselines are fitted on
the run's training split; the n-gram order (1..--max-order) is the one with the
lowest NLL on the evaluated melodies, which flatters the n-gram, not the LSTM.

Figures: mean negative log-likelihood per token (nats), perplexity (e^NLL),
top-1 accuracy; the same restricted to steps whose true token is a note-on.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from device import encoding
from training.baselines import Unigram, best_kneser_ney
from training.runs import RunError, load_data, load_run, write_json
from training.windows import with_start

COLUMNS = ("nll", "perplexity", "accuracy", "nll_note_on", "perplexity_note_on", "accuracy_note_on")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, type=Path, help="run folder written by `melodybox-train train`")
    parser.add_argument("--data", type=Path, default=None,
                        help="evaluate on this prepared .npz instead of the run's validation split")
    parser.add_argument("--max-order", type=int, default=6, help="highest n-gram order tried (default %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON report (default: RUN/evaluation.json for the validation split)")


def scores(log_probs: np.ndarray, predicted: np.ndarray, targets: np.ndarray) -> dict:
    """The table's figures from per-token log P(true token) (nats), top-1 predictions and true tokens."""
    note_on = targets < encoding.NUM_PITCHES
    row = {"tokens": int(len(targets)), "note_on_tokens": int(note_on.sum())}
    for suffix, mask in (("", np.ones_like(note_on)), ("_note_on", note_on)):
        nll = float(-log_probs[mask].mean()) if mask.any() else float("nan")
        row[f"nll{suffix}"] = nll
        row[f"perplexity{suffix}"] = math.exp(nll)
        row[f"accuracy{suffix}"] = float((predicted[mask] == targets[mask]).mean()) if mask.any() else float("nan")
    return row


def lstm_outputs(sequence_model, melodies: list[np.ndarray], batch_tokens: int = 32768):
    """Per-token log P(true token) and argmax of the sequence model, melodies concatenated in order."""
    import tensorflow as tf

    order = np.argsort([len(m) for m in melodies])
    log_probs: list = [None] * len(melodies)
    predicted: list = [None] * len(melodies)
    start = 0
    while start < len(order):
        count = 1
        while start + count < len(order) and len(melodies[order[start + count]]) * (count + 1) <= batch_tokens:
            count += 1
        batch = [order[i] for i in range(start, start + count)]
        longest = max(len(melodies[i]) for i in batch)
        inputs = np.full((len(batch), longest), encoding.NO_EVENT, np.int32)
        for row, index in enumerate(batch):
            inputs[row, :len(melodies[index])] = with_start(melodies[index])[:-1]
        logits = sequence_model(inputs, training=False)
        logp = tf.nn.log_softmax(logits, axis=-1).numpy()
        for row, index in enumerate(batch):
            n = len(melodies[index])
            targets = np.asarray(melodies[index], np.int64)
            log_probs[index] = logp[row, np.arange(n), targets]
            predicted[index] = np.argmax(logp[row, :n], axis=-1)
        start += count
    return np.concatenate(log_probs), np.concatenate(predicted)


def evaluate(sequence_model, train: list[np.ndarray], melodies: list[np.ndarray], max_order: int = 6) -> dict:
    """The evaluation report: a row per model, the n-gram order search, and the LSTM's gain over the n-gram."""
    melodies = [m for m in melodies if len(m)]
    targets = np.concatenate([np.asarray(m, np.int64) for m in melodies])
    unigram = Unigram.fit(train)
    ngram, by_order = best_kneser_ney(train, melodies, max_order)
    lstm_logp, lstm_pred = lstm_outputs(sequence_model, melodies)
    rows = {
        "lstm": scores(lstm_logp, lstm_pred, targets),
        "unigram": scores(np.log(unigram.token_probs(melodies)), np.full(len(targets), np.argmax(unigram.counts)),
                          targets),
        f"kneser-ney-{ngram.order}": scores(np.log(ngram.token_probs(melodies)), ngram.predictions(melodies),
                                            targets),
    }
    best_ngram = rows[f"kneser-ney-{ngram.order}"]["nll"]
    return {
        "models": rows,
        "ngram_order": ngram.order,
        "ngram_nll_by_order": {str(k): v for k, v in by_order.items()},
        "improvement_over_ngram_percent": 100.0 * (best_ngram - rows["lstm"]["nll"]) / best_ngram,
        "melodies": len(melodies),
        "method": "full sequences from a zero state, START_TOKEN first; baselines fitted on the training split; "
                  "n-gram order chosen on these melodies",
    }


def format_table(report: dict) -> str:
    """A Markdown table of the report."""
    lines = ["| model | NLL (nats/token) | perplexity | top-1 | NLL note-on | perplexity note-on | top-1 note-on |",
             "|---|---|---|---|---|---|---|"]
    for name, row in report["models"].items():
        lines.append(f"| {name} | {row['nll']:.3f} | {row['perplexity']:.2f} | {row['accuracy']:.1%} | "
                     f"{row['nll_note_on']:.3f} | {row['perplexity_note_on']:.2f} | {row['accuracy_note_on']:.1%} |")
    lines.append("")
    lines.append(f"LSTM NLL is {report['improvement_over_ngram_percent']:.1f}% lower than the best n-gram "
                 f"(order {report['ngram_order']}) on {report['models']['lstm']['tokens']} tokens "
                 f"of {report['melodies']} melodies.")
    return "\n".join(lines)


def evaluate_run(run_path: Path, data: Path | None = None, max_order: int = 6) -> dict:
    """Load a run's best weights and evaluate on its validation split (or on ``data``)."""
    from training.model import build_models

    run = load_run(run_path)
    if not run.best_weights.is_file():
        raise RunError(f"{run.best_weights}: no checkpoint (did training finish an epoch?)")
    model = build_models(run.model).sequence
    model.load_weights(run.best_weights)
    melodies = load_data((str(data),)).melodies if data else run.side("validation")
    report = evaluate(model, run.side("train"), melodies, max_order)
    report["evaluated_on"] = str(data) if data else "validation split"
    return report


def run(args: argparse.Namespace) -> int:
    try:
        report = evaluate_run(args.run, args.data, args.max_order)
    except (RunError, ValueError) as error:
        print(f"melodybox-train evaluate: {error}", file=sys.stderr)
        return 2
    out = args.out or (args.run / "evaluation.json" if args.data is None else None)
    if out:
        write_json(out, report)
    print(format_table(report))
    return 0
