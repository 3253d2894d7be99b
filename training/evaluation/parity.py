"""Parity of an exported .tflite with the Keras sequence model.

The .tflite is stepped through the box's own step model (device.engine.model.StepModel, fed
as the box feeds it) in each runtime's own process (training/evaluation/measure.py); the Keras
sequence model reads the same melodies whole, with the same features. Figures: max |logit
difference|, top-1 agreement (share of steps where both pick the same token),
mean KL(Keras || tflite) in nats per step. float32 must match to 1e-4; a
quantised model must agree on at least ``min_agreement`` of the steps.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from training.data.windows import DEFAULT_METRE, sequence_inputs

FLOAT32_TOLERANCE = 1e-4
TFLITE_RUNTIME_PYTHON = Path(__file__).parents[2] / ".venv-tflite-runtime" / "bin" / "python"


class ParityError(RuntimeError):
    """The .tflite does not reproduce the Keras model, or a runtime cannot run it."""


def compare(reference: np.ndarray, logits: np.ndarray) -> dict:
    """Max |difference|, top-1 agreement and mean KL(reference || logits) in nats."""
    def log_softmax(x):
        x = x.astype(np.float64) - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    ref, got = log_softmax(reference), log_softmax(logits)
    return {
        "steps": int(len(reference)),
        "max_abs_logit_diff": float(np.abs(reference - logits).max()),
        "top1_agreement": float(np.mean(reference.argmax(axis=1) == logits.argmax(axis=1))),
        "mean_kl_nats": float(np.mean(np.sum(np.exp(ref) * (ref - got), axis=1))),
    }


def require(figures: dict, precision: str, min_agreement: float, where: str) -> None:
    """Raise ParityError if ``figures`` miss the bar for ``precision``."""
    if precision == "float32" and not figures["max_abs_logit_diff"] < FLOAT32_TOLERANCE:
        raise ParityError(f"{where}: float32 logits differ from Keras by {figures['max_abs_logit_diff']:.2e} "
                          f"(must be < {FLOAT32_TOLERANCE:g})")
    if figures["top1_agreement"] < min_agreement:
        raise ParityError(f"{where}: top-1 agreement with Keras {figures['top1_agreement']:.2%} "
                          f"is below {min_agreement:.0%}")


def runtime_pythons() -> dict[str, str]:
    """The Python that has each runtime: this one for ai-edge-litert, .venv-tflite-runtime for tflite-runtime."""
    found = {}
    if importlib.util.find_spec("ai_edge_litert") is not None:
        found["ai-edge-litert"] = sys.executable
    if TFLITE_RUNTIME_PYTHON.is_file():
        found["tflite-runtime"] = str(TFLITE_RUNTIME_PYTHON)
    return found


def keras_reference(sequence_model, melodies: list[np.ndarray], steps: int, metres=None, feature_names=()):
    """The Keras sequence model's logits for the first ``steps`` inputs of ``melodies`` (each read whole, with
    its features), in the order the box steps them: float32 [steps, vocab]."""
    metres = metres or [DEFAULT_METRE] * len(melodies)
    parts, total = [], 0
    for melody, metre in zip(melodies, metres, strict=True):
        if total >= steps:
            break
        if len(melody):
            logits = np.asarray(sequence_model(sequence_inputs(melody, metre, feature_names), training=False))[0]
            parts.append(logits[: steps - total])
            total += len(parts[-1])
    if not parts:
        raise ParityError("no validation tokens to check parity on")
    return np.concatenate(parts).astype(np.float32)


def parity_check(precision: str, min_agreement: float):
    """A check for measure.record_measurements: (reference, logits, runtime) -> figures; raises ParityError."""
    def check(reference: np.ndarray, logits: np.ndarray, runtime: str) -> dict:
        figures = compare(reference, logits)
        require(figures, precision, min_agreement, runtime)
        return figures

    return check
