"""Per-step latency of the same model in Keras (``step_model(inputs)``), for the ratio against TFLite.

Uses the trained weights of runs/default when that run is here (``make train``); a fresh
clone has only the .tflite, so it then times the same architecture with untrained weights
(the time of a step does not depend on the weight values) and says so.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def keras_step_latency(model_path: Path, steps: int = 300, run: Path = ROOT / "runs" / "default") -> dict:
    """Median / p99 of one Keras step-model call in microseconds."""
    import keras

    from training.fit.model import ModelShape, build_models, zero_state

    contract = json.loads(model_path.with_suffix(".json").read_text())
    config = ModelShape.from_json(contract["config"]["model"])
    models = build_models(config)
    weights = run / "checkpoints" / "best.weights.h5"
    if weights.is_file():
        models.sequence.load_weights(weights)
        source = f"trained weights from {weights.relative_to(ROOT)}"
    else:
        source = "same architecture, untrained weights (runs/default is not here)"
    state = {name: keras.ops.convert_to_tensor(value) for name, value in zero_state(config).items()}
    token = keras.ops.convert_to_tensor(np.array([[60]], np.int32))
    times = []
    for i in range(steps + 20):
        start = time.perf_counter_ns()
        out = models.step({"token": token, **state}, training=False)
        elapsed = (time.perf_counter_ns() - start) / 1000.0
        state = {name: out[f"{name}_out"] for name in state}
        token = keras.ops.convert_to_tensor(np.array([[int(np.argmax(out["logits"][0]))]], np.int32))
        if i >= 20:
            times.append(elapsed)
    return {"runtime": "keras (tensorflow)", "weights": source,
            "step_us_p50": float(np.percentile(times, 50)), "step_us_p99": float(np.percentile(times, 99))}


if __name__ == "__main__":
    print(json.dumps(keras_step_latency(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models/default.tflite")))
