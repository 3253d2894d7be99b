"""Parity of an exported .tflite with the Keras sequence model, in-process and in each runtime's own process.

The .tflite is stepped token by token from a zero state (the box's way); the
Keras sequence model reads the same inputs whole. Figures: max |logit
difference|, top-1 agreement (share of steps where both pick the same token),
mean KL(Keras || tflite) in nats per step. float32 must match to 1e-4; a
quantised model must agree on at least ``min_agreement`` of the steps.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from training.windows import with_start

FLOAT32_TOLERANCE = 1e-4
RUNTIME_CHECK = Path(__file__).with_name("runtime_check.py")
TFLITE_RUNTIME_PYTHON = Path(__file__).parents[1] / ".venv-tflite-runtime" / "bin" / "python"


class ParityError(RuntimeError):
    """The .tflite does not reproduce the Keras model, or a runtime cannot run it."""


def parity_inputs(melodies: list[np.ndarray], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (START + melody[:-1]) of the first melodies, ``steps`` tokens in all: (tokens, offsets)."""
    parts, total = [], 0
    for melody in melodies:
        if total >= steps:
            break
        part = with_start(melody)[:-1][: steps - total]
        if len(part):
            parts.append(part)
            total += len(part)
    if not parts:
        raise ParityError("no validation tokens to check parity on")
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    return np.concatenate(parts).astype(np.int32), offsets


def keras_logits(sequence_model, tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The sequence model's logits for each sequence, concatenated: float32 [tokens, vocab]."""
    return np.concatenate([np.asarray(sequence_model(tokens[None, a:b], training=False))[0]
                           for a, b in zip(offsets[:-1], offsets[1:], strict=True)])


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


def check_parity(sequence_model, content: bytes, tokens, offsets, precision: str, min_agreement: float) -> dict:
    """Step ``content`` with TensorFlow's own interpreter and compare with Keras; keeps the reference logits."""
    import tensorflow as tf

    from training.runtime_check import step_all

    reference = keras_logits(sequence_model, tokens, offsets)
    runner = tf.lite.Interpreter(model_content=content, num_threads=1).get_signature_runner("step")
    logits, _ = step_all(runner, tokens, offsets)
    figures = compare(reference, logits)
    require(figures, precision, min_agreement, "tf.lite interpreter")
    return {"tensorflow-interpreter": figures, "reference_logits": reference,
            "method": "stepped token by token from a zero state vs the Keras sequence model on the same "
                      "validation inputs (START_TOKEN first)"}


def runtime_pythons() -> dict[str, str]:
    """The Python that has each runtime: this one for ai-edge-litert, .venv-tflite-runtime for tflite-runtime."""
    found = {}
    if importlib.util.find_spec("ai_edge_litert") is not None:
        found["ai-edge-litert"] = sys.executable
    if TFLITE_RUNTIME_PYTHON.is_file():
        found["tflite-runtime"] = str(TFLITE_RUNTIME_PYTHON)
    return found


def run_runtime(python: str, runtime: str, model_path: Path, tokens, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Step the model in ``runtime`` in a fresh ``python`` process: (logits, microseconds per step)."""
    with tempfile.TemporaryDirectory() as folder:
        inputs, outputs = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(inputs, tokens=tokens, offsets=offsets)
        result = subprocess.run([python, str(RUNTIME_CHECK), runtime, str(model_path), str(inputs), str(outputs)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise ParityError(f"{runtime} could not run {model_path}: {last}")
        with np.load(outputs) as data:
            return data["logits"], data["step_us"]


def runtime_report(model_path: Path, tokens, offsets, reference, precision: str, min_agreement: float,
                   pythons: dict[str, str]) -> dict:
    """Parity and per-step latency (µs, signature runner, one thread) in each runtime of ``pythons``."""
    report = {}
    for runtime, python in pythons.items():
        logits, step_us = run_runtime(python, runtime, model_path, tokens, offsets)
        figures = compare(reference, logits)
        require(figures, precision, min_agreement, runtime)
        report[runtime] = {**figures, "step_us_median": float(np.median(step_us)),
                           "step_us_p99": float(np.percentile(step_us, 99))}
    return report
