"""The evaluation report: a row of figures per model, the comparisons, the verdict; and its table (numpy only).

Every model scores every token of the evaluated melodies: its log-probability of the true token (nats) and its
top-1 prediction. ``assemble`` turns those into the report (training/evaluation/measure.py ``scores`` per model;
training/evaluation/verdict.py compares the model with each other row, melody by melody). Rows, in order:
``lstm`` (the model evaluated), ``base`` (the model it was fine-tuned from, when there is one), ``unigram`` and
``kneser-ney-N`` (the best n-gram).
"""

from __future__ import annotations

import numpy as np

from training.evaluation.baselines import Unigram, best_kneser_ney
from training.evaluation.measure import scores
from training.evaluation.verdict import compare, verdict

Outputs = tuple[np.ndarray, np.ndarray]  # per token: log P(true token) in nats, and the top-1 prediction


def baseline_outputs(train: list[np.ndarray], melodies: list[np.ndarray], max_order: int, fitted=None) -> tuple:
    """The unigram's and the best Kneser-Ney n-gram's outputs on ``melodies``, fitted on ``train``; and the n-gram
    order search: ({name: Outputs}, {"ngram_order": N, "ngram_nll_by_order": {...}}). ``fitted``: the result of
    best_kneser_ney, if already known."""
    unigram = Unigram.fit(train)
    ngram, by_order = fitted or best_kneser_ney(train, melodies, max_order)
    tokens = sum(len(m) for m in melodies)
    outputs = {"unigram": (np.log(unigram.token_probs(melodies)), np.full(tokens, np.argmax(unigram.counts))),
               f"kneser-ney-{ngram.order}": (np.log(ngram.token_probs(melodies)), ngram.predictions(melodies))}
    return outputs, {"ngram_order": ngram.order, "ngram_nll_by_order": {str(k): v for k, v in by_order.items()}}


def assemble(outputs: dict[str, Outputs], melodies: list[np.ndarray], method: str, search: dict | None = None,
             base: str = "") -> dict:
    """The report of ``outputs`` (name -> Outputs, "lstm" first) on ``melodies`` (concatenated in that order).

    ``search``: the n-gram order search (from baseline_outputs); ``base``: the name of the model the "base" row
    is (the one ``lstm`` was fine-tuned from).
    """
    targets = np.concatenate([np.asarray(m, np.int64) for m in melodies])
    lengths = [len(m) for m in melodies]
    model = outputs["lstm"][0]
    report = {"models": {name: scores(log_p, predicted, targets) for name, (log_p, predicted) in outputs.items()},
              "melodies": len(melodies), "method": method,
              "comparisons": {name: compare(model, log_p, lengths) for name, (log_p, _) in outputs.items()
                              if name != "lstm"}}
    if base:
        report["base"] = base
    if search:
        report.update(search)
        best_ngram = report["models"][f"kneser-ney-{search['ngram_order']}"]["nll"]
        report["improvement_over_ngram_percent"] = 100.0 * (best_ngram - report["models"]["lstm"]["nll"]) / best_ngram
    report["verdict"] = verdict(report)
    return report


def row_label(name: str, report: dict) -> str:
    """How the table names a row."""
    return f"{report.get('base', 'base')} (started from)" if name == "base" else name


def format_table(report: dict) -> str:
    """A Markdown table of the report, then its verdict."""
    lines = ["| model | NLL (nats/token) | perplexity | top-1 | NLL note-on | perplexity note-on | top-1 note-on |",
             "|---|---|---|---|---|---|---|"]
    for name, row in report["models"].items():
        lines.append(f"| {row_label(name, report)} | {row['nll']:.3f} | {row['perplexity']:.2f} | "
                     f"{row['accuracy']:.1%} | {row['nll_note_on']:.3f} | {row['perplexity_note_on']:.2f} | "
                     f"{row['accuracy_note_on']:.1%} |")
    lines.append("")
    lines.append(f"{report['models']['lstm']['tokens']} tokens of {report['melodies']} melodies. {report['verdict']}")
    if report.get("note"):
        lines.append(report["note"])
    return "\n".join(lines)
