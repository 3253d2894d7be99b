"""Measure an exported .tflite as the box runs it: NLL, perplexity and top-1 through device.engine.model.StepModel.

Every melody is fed as the box feeds it (reset, START_TOKEN at the melody's bar step, then its tokens) in
each TFLite runtime, each in its own process (training/evaluation/runtime_check.py), and scored on predicting each
melody token from the ones before it. The exporter calls ``record_measurements`` on the file it wrote, so
a contract's metrics are this file's, in every runtime it names; ``evaluate --model`` calls ``measure_file``.
The first ``check_steps`` tokens give a small figure (``check``) that tests re-measure in seconds.

Figures: mean negative log-likelihood per token (nats), perplexity (e^NLL), top-1 accuracy; the same
restricted to steps whose true token is a note-on.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from device.core import encoding
from device.core.contract import contract_path_for, load_contract
from device.core.timegrid import DEFAULT_BAR_STEPS
from training.data.windows import with_start
from training.evaluation.parity import ParityError

RUNTIME_CHECK = Path(__file__).with_name("runtime_check.py")
CHECK_STEPS = 2000


class MeasureError(ParityError):
    """A runtime could not step the model."""


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


def token_log_probs(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log P(true token) in nats, float64 [tokens], from logits [tokens, vocab] and the true tokens [tokens]."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return log_probs[np.arange(len(targets)), np.asarray(targets, np.int64)]


def logit_scores(logits: np.ndarray, targets: np.ndarray) -> dict:
    """``scores`` from logits [tokens, vocab] and the true next tokens [tokens]."""
    targets = np.asarray(targets, np.int64)
    return scores(token_log_probs(logits, targets), logits.argmax(axis=1), targets)


def box_inputs(melodies: list[np.ndarray], metres: list[tuple[int, int]] | None = None) -> dict:
    """What runtime_check.py reads: every melody's inputs (START + melody[:-1]), offsets, metres; and targets."""
    melodies = [np.asarray(m) for m in melodies if len(m)]
    metres = metres or [(DEFAULT_BAR_STEPS, 0)] * len(melodies)
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in melodies])]).astype(np.int64)
    return {"tokens": np.concatenate([with_start(m)[:-1] for m in melodies]).astype(np.int32),
            "offsets": offsets,
            "bar_steps": np.array([b for b, _ in metres], np.int64),
            "bar_offsets": np.array([o for _, o in metres], np.int64),
            "targets": np.concatenate(melodies).astype(np.int64)}


def run_box(python: str, runtime: str, model_path: Path, inputs: dict) -> tuple[np.ndarray, np.ndarray]:
    """Logits for every input token and µs per step, from StepModel in ``runtime`` in a fresh ``python``."""
    with tempfile.TemporaryDirectory() as folder:
        in_path, out_path = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(in_path, **{k: v for k, v in inputs.items() if k != "targets"})
        result = subprocess.run([python, str(RUNTIME_CHECK), runtime, str(model_path), str(in_path), str(out_path)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise MeasureError(f"{runtime} could not run {model_path} through the box's step model: {last}")
        with np.load(out_path) as data:
            return data["logits"], data["step_us"]


def measure_file(model_path: Path, melodies: list[np.ndarray], pythons: dict[str, str],
                 metres: list[tuple[int, int]] | None = None, check_steps: int = CHECK_STEPS) -> dict:
    """Per runtime: scores on ``melodies`` (and on their first ``check_steps`` tokens); the logits and timings.

    Returns {"runtimes": {runtime: {...scores, "check": scores}}, "logits": {runtime: float32 [tokens, vocab]},
    "step_us": {runtime: {"median", "p99"}}}. Timings are only as quiet as the machine (benchmarks measure speed).
    """
    inputs = box_inputs(melodies, metres)
    report: dict = {"runtimes": {}, "logits": {}, "step_us": {}}
    for runtime, python in pythons.items():
        logits, step_us = run_box(python, runtime, Path(model_path), inputs)
        report["runtimes"][runtime] = {**logit_scores(logits, inputs["targets"]),
                                       "check": logit_scores(logits[:check_steps], inputs["targets"][:check_steps])}
        report["logits"][runtime] = logits
        report["step_us"][runtime] = {"median": float(np.median(step_us)), "p99": float(np.percentile(step_us, 99))}
    return report


def measured_metrics(measured: dict, baseline_report: dict | None) -> dict:
    """Contract metrics: the file's own row (first runtime) beside the baselines of ``baseline_report``."""
    runtimes = measured["runtimes"]
    first = next(iter(runtimes))
    own = {k: v for k, v in runtimes[first].items() if k != "check"}
    metrics = {"models": {"lstm": own}, "measured": {
        "how": "this .tflite stepped through device.engine.model.StepModel as the box feeds it, on every validation "
               f"melody, in each runtime; 'lstm' is {first}'s; 'check' covers the first {CHECK_STEPS} tokens",
        "runtimes": runtimes}}
    if baseline_report:
        rows = {name: row for name, row in baseline_report["models"].items() if name != "lstm"}
        metrics["models"].update(rows)
        order = baseline_report["ngram_order"]
        ngram = rows[f"kneser-ney-{order}"]["nll"]
        metrics.update(ngram_order=order, ngram_nll_by_order=baseline_report["ngram_nll_by_order"],
                       improvement_over_ngram_percent=100.0 * (ngram - own["nll"]) / ngram,
                       melodies=baseline_report["melodies"], evaluated_on=baseline_report.get("evaluated_on", ""))
    return metrics


def record_measurements(model_path: Path, melodies: list[np.ndarray], pythons: dict[str, str],
                        baseline_report: dict | None = None, metres: list[tuple[int, int]] | None = None,
                        reference_logits: np.ndarray | None = None, parity_check=None) -> dict:
    """Measure ``model_path`` (its contract already written beside it) and write the figures into the contract.

    ``reference_logits``: the Keras model's logits for the first tokens of the same inputs; with them each
    runtime's logits are compared (``parity_check(reference, logits, runtime) -> figures``, which raises when
    they miss the bar) and the contract's parity records them. Returns the contract's new metrics. When a
    runtime cannot run the file or parity fails, the model and its contract are removed (nothing ships).
    """
    try:
        return _record(Path(model_path), melodies, pythons, baseline_report, metres, reference_logits, parity_check)
    except ParityError:
        Path(model_path).unlink(missing_ok=True)
        contract_path_for(model_path).unlink(missing_ok=True)
        raise


def _record(model_path: Path, melodies, pythons, baseline_report, metres, reference_logits, parity_check) -> dict:
    measured = measure_file(model_path, melodies, pythons, metres)
    contract = load_contract(model_path)
    parity = dict(contract.parity)
    if reference_logits is not None:
        parity["runtimes"] = {runtime: {**parity_check(reference_logits, logits[:len(reference_logits)], runtime),
                                        "step_us_median": measured["step_us"][runtime]["median"],
                                        "step_us_p99": measured["step_us"][runtime]["p99"]}
                              for runtime, logits in measured["logits"].items()}
        parity["method"] = ("the .tflite stepped through device.engine.model.StepModel (as the box feeds it) in each "
                            "runtime's own process vs the Keras sequence model on the same validation inputs")
    metrics = measured_metrics(measured, baseline_report)
    replace(contract, metrics=metrics, parity=parity, runtimes=tuple(measured["runtimes"])).save(
        contract_path_for(model_path))
    return metrics
