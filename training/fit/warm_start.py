"""Start a lookback model from a trained token-only one, then fine-tune it: how the shipped default was made.

    python -m training.fit.warm_start --run runs/warm-lookback [--epochs 2 --stride 256 --learning-rate 1e-3]

Reads a token-only model's Keras weights (default: models/default.weights.h5 with the config in
models/default.json), widens them to the lookback inputs (training.fit.model.widen_to_lookback: the new model
predicts exactly as the old one until it learns to use the bars before), writes them beside the run
(warm-start.weights.h5), creates the run with the train defaults otherwise (data, split, transposition)
and the widened weights as its base, and trains it (training.fit.session.fit). Export it as any run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from device.core.contract import sha256_of
from training.fit.create import create_run
from training.fit.model import ModelShape, build_models, widen_to_lookback
from training.fit.runs import REPO, TrainConfig, shown_path, write_json
from training.fit.session import fit


def widened_weights(token_contract: Path, token_weights: Path, target: Path):
    """Build the token-only model of ``token_contract``, load ``token_weights``, widen; save to ``target``."""
    import keras  # lazy: TensorFlow and Keras take over a second to import; --help never needs them

    token_config = ModelShape.from_json(json.loads(token_contract.read_text())["config"]["model"])
    if token_config.inputs != "token":
        raise ValueError(f"{token_contract}: not a token-only model (inputs {token_config.inputs!r})")
    token_models = build_models(token_config)
    token_models.sequence.load_weights(token_weights)
    config = ModelShape(**{**token_config.to_json(), "inputs": "lookback"})
    keras.utils.set_random_seed(1)
    lookback = build_models(config)
    widen_to_lookback(token_models.sequence, lookback)
    target.parent.mkdir(parents=True, exist_ok=True)
    lookback.sequence.save_weights(target)
    return config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.fit.warm_start", description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--contract", type=Path, default=REPO / "models" / "default.json")
    parser.add_argument("--weights", type=Path, default=REPO / "models" / "default.weights.h5")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--stride", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parser.parse_args(argv)
    target = args.run.with_name(args.run.name + "-warm-start.weights.h5")
    config = widened_weights(args.contract, args.weights, target)
    train = TrainConfig(epochs=args.epochs, stride=args.stride, learning_rate=args.learning_rate, max_minutes=0.0)
    create_run(args.run, config, train, shlex.join(["python", "-m", "training.fit.warm_start", *argv]))
    run_config = json.loads((args.run / "config.json").read_text())
    pitches = json.loads(args.contract.read_text())["encoding"]["pitch_range"]
    run_config["base"] = {"source": f"{shown_path(args.weights)} widened to the lookback inputs",
                          "weights": str(target),
                          "sha256": sha256_of(target), "pitch_range": pitches}
    write_json(args.run / "config.json", run_config)
    fit(args.run)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
