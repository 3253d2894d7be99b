"""Step a .tflite model with one TFLite runtime, in its own process; numpy + the runtime only.

    python training/runtime_check.py RUNTIME MODEL.tflite IN.npz OUT.npz

RUNTIME is ``ai-edge-litert``, ``tflite-runtime`` or ``tensorflow``. IN.npz
holds ``tokens`` (int32, the inputs of all sequences concatenated) and
``offsets`` (sequence i is tokens[offsets[i]:offsets[i+1]]); the state is reset
to zeros at each sequence start. OUT.npz gets ``logits`` float32 [tokens, vocab]
and ``step_us`` float64 [tokens], the time of each signature-runner call in
microseconds (one thread). Run by the exporter and the tests with each
runtime's own Python, so runtimes never share a process. Runs without the
melodybox packages (tflite-runtime lives in its own venv).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def load_interpreter(runtime: str, model_path: str):
    """An interpreter for ``model_path`` from the named runtime, one thread."""
    if runtime == "ai-edge-litert":
        from ai_edge_litert.interpreter import Interpreter
    elif runtime == "tflite-runtime":
        from tflite_runtime.interpreter import Interpreter
    elif runtime == "tensorflow":
        from tensorflow.lite import Interpreter
    else:
        raise SystemExit(f"runtime_check: unknown runtime {runtime!r}")
    return Interpreter(model_path=model_path, num_threads=1)


def step_all(runner, tokens: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits for every input token and the microseconds each step took."""
    inputs = runner.get_input_details()
    states = sorted(name for name in inputs if name != "token")
    logits, times = [], []
    for begin, end in zip(offsets[:-1], offsets[1:], strict=True):
        state = {name: np.zeros(inputs[name]["shape"], np.float32) for name in states}
        for token in tokens[begin:end]:
            feed = np.array([[token]], np.int32)
            start = time.perf_counter_ns()
            out = runner(token=feed, **state)
            times.append((time.perf_counter_ns() - start) / 1000.0)
            state = {name: out[f"{name}_out"] for name in states}
            logits.append(out["logits"][0].astype(np.float32))
    return np.stack(logits), np.array(times)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    runtime, model_path, in_path, out_path = argv
    with np.load(in_path) as data:
        tokens, offsets = data["tokens"], data["offsets"]
    runner = load_interpreter(runtime, model_path).get_signature_runner("step")
    logits, times = step_all(runner, tokens, offsets)
    np.savez(out_path, logits=logits, step_us=times)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
