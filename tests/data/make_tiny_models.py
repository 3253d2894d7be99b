"""Write the tiny step models the device tests load: tiny-token.tflite and tiny-lookback.tflite (+ contracts).

    .venv/bin/python tests/data/make_tiny_models.py

Untrained (seeded random weights), 1 LSTM layer of 8 units: small files that have exactly the inputs,
outputs and contract of a real export, one token-only (contract format 1) and one with the lookback
inputs (format 2), so the device tests cover both without TensorFlow.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from device.core.contract import Contract, InputSpec, StateSpec, TensorSpec, load_contract, sha256_of  # noqa: E402
from training.export import convert, saved_model, signature_tensors  # noqa: E402
from training.fit.model import ModelConfig, build_models  # noqa: E402


def write(name: str, config: ModelConfig) -> Path:
    import keras

    keras.utils.set_random_seed(8)
    models = build_models(config)
    with tempfile.TemporaryDirectory() as folder:
        saved_model(models.step, config, Path(folder) / "saved")
        content = convert(Path(folder) / "saved", "float32")
    path = HERE / f"{name}.tflite"
    path.write_bytes(content)
    tensors = signature_tensors(content, config)
    contract = Contract(
        token=TensorSpec(**{**tensors["token"], "shape": tuple(tensors["token"]["shape"])}),
        logits=TensorSpec(**{**tensors["logits"], "shape": tuple(tensors["logits"]["shape"])}),
        states=tuple(StateSpec(s["input"], s["output"], tuple(s["shape"]), s["dtype"]) for s in tensors["states"]),
        features=tuple(InputSpec(f["name"], tuple(f["shape"]), f["dtype"], f["feature"]) for f in tensors["features"]),
        precision="float32", pitch_range=(0, 127), tflite_sha256=sha256_of(path), tflite_file=path.name,
        tflite_bytes=path.stat().st_size, runtimes=("ai-edge-litert",), config={"model": config.to_json()},
        provenance={"command": "python tests/data/make_tiny_models.py"},
        notes="untrained test model (random weights), for the device tests only",
    )
    contract.save(path.with_suffix(".json"))
    load_contract(path)
    return path


if __name__ == "__main__":
    small = dict(embedding=4, layers=1, units=8, dropout=0.0, lookback_embedding=2)
    print(write("tiny-token", ModelConfig(inputs="token", **small)))
    print(write("tiny-lookback", ModelConfig(inputs="lookback", **small)))
