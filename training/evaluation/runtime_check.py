"""Step a .tflite model through the box's own step model (device.engine.model.StepModel), one runtime per process.

    python training/evaluation/runtime_check.py RUNTIME MODEL.tflite IN.npz OUT.npz

RUNTIME is ``ai-edge-litert`` or ``tflite-runtime``; MODEL.json (the contract) must lie beside the model.
IN.npz holds ``tokens`` (int32, the inputs of all sequences concatenated, each starting with START_TOKEN),
``offsets`` (sequence i is tokens[offsets[i]:offsets[i+1]]) and optionally ``bar_steps`` and ``bar_offsets``
(steps per bar, and the bar step of each sequence's first melody step; 16 and 0 if absent). The model is
reset at each sequence start and fed as the box feeds it (START_TOKEN at the bar step, then one token per
step). OUT.npz gets ``logits`` float32
[tokens, vocab] and ``step_us`` float64 [tokens], the time of each step() call in microseconds (one thread).
Run by the exporter, ``evaluate`` and the tests with each runtime's own Python, so runtimes never share a
process; it needs numpy, the runtime and this repository's device package (stdlib + numpy), never TensorFlow.
"""

from __future__ import annotations

import inspect
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script by another venv's Python: the device package is found here
    sys.path.insert(0, str(REPO))
from device.core.timegrid import DEFAULT_BAR_STEPS  # noqa: E402 - after the path is set
from device.engine.model import StepModel  # noqa: E402 - after the path is set


def takes_bar_step(model) -> bool:
    """True if ``model.step`` takes the bar step of the token it is fed (models with bar-position inputs)."""
    return "bar_step" in inspect.signature(model.step).parameters


def box_logits(model_for, tokens: np.ndarray, offsets: np.ndarray, bar_steps: np.ndarray | None = None,
               bar_offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits after every input token, stepping the model as the box does; and µs per step.

    ``model_for(bar_steps)`` gives the StepModel for a metre (16 when ``bar_steps`` is None).
    """
    count = len(offsets) - 1
    bar_steps = np.full(count, DEFAULT_BAR_STEPS, np.int64) if bar_steps is None else bar_steps
    bar_offsets = np.zeros(count, np.int64) if bar_offsets is None else bar_offsets
    logits, times = [], []
    for begin, end, steps, bar_offset in zip(offsets[:-1], offsets[1:], bar_steps, bar_offsets, strict=True):
        model = model_for(int(steps))
        with_bar = takes_bar_step(model)
        model.reset()
        for index in range(begin, end):
            token = int(tokens[index])
            start = time.perf_counter_ns()
            out = model.step(token, bar_step=int(bar_offset)) if with_bar and index == begin else model.step(token)
            times.append((time.perf_counter_ns() - start) / 1000.0)
            logits.append(np.array(out, np.float32))
    return np.stack(logits), np.array(times)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    runtime, model_path, in_path, out_path = argv
    with np.load(in_path) as data:
        arrays = {name: data[name] for name in data.files}
    models: dict[int, StepModel] = {}

    def model_for(bar_steps: int) -> StepModel:
        if bar_steps not in models:
            kwargs = {"bar_steps": bar_steps} if "bar_steps" in inspect.signature(StepModel).parameters else {}
            models[bar_steps] = StepModel(model_path, runtime=runtime, **kwargs)
        return models[bar_steps]

    logits, times = box_logits(model_for, arrays["tokens"], arrays["offsets"], arrays.get("bar_steps"),
                               arrays.get("bar_offsets"))
    for model in models.values():
        model.close()
    np.savez(out_path, logits=logits, step_us=times)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
