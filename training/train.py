"""`melodybox-train train`: fit the sequence model on prepared melodies, into a run folder.

Pipeline: load .npz files -> split by melody (seeded) -> windows of ``--window``
steps, each melody preceded by START_TOKEN, a target at every step -> tf.data
(shuffle, random transposition of whole windows, batch) -> Keras ``fit`` under a
tf.distribute strategy, validating every epoch, keeping the best checkpoint,
with a warm-up + cosine learning-rate schedule over --epochs, stopping early
(no validation gain for --patience epochs) or when --max-minutes are spent.
``--resume`` continues a run from its last epoch (model + optimizer).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from training.model import INPUT_KINDS, ModelConfig
from training.runs import (
    DEFAULT_CORPUS,
    RunError,
    TrainConfig,
    describe_data,
    load_data,
    load_run,
    read_json,
    write_json,
)
from training.windows import make_dataset, run_windows, split_melodies

STRATEGIES = ("default", "mirrored", "one-device")
WARMUP_STEPS = 100
EPILOG = """\
strategies (--strategy): the training step always runs under a tf.distribute strategy.
  default     tf.distribute.get_strategy(): the default (no-op) strategy, one device
  mirrored    tf.distribute.MirroredStrategy(): replicates over all visible GPUs (or the CPU)
  one-device  tf.distribute.OneDeviceStrategy on the first GPU, else the CPU
The batch size is global (split across replicas).

determinism: keras.utils.set_random_seed(--seed) and tf.config.experimental.enable_op_determinism();
the split, the shuffle order and the transpositions follow --seed.

example: melodybox-train train --run runs/default --max-minutes 18
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    d, m = TrainConfig(), ModelConfig()
    parser.add_argument("data", nargs="*", help=f"prepared .npz files (default: {DEFAULT_CORPUS.name}, the bundled "
                        "corpus)")
    parser.add_argument("--run", required=True, type=Path, help="run folder to create (or continue with --resume)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run from its last epoch")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed for split, shuffle, init (default %(default)s)")
    parser.add_argument("--validation-fraction", type=float, default=d.validation_fraction,
                        help="share of melodies held out for validation, 0..1 (default %(default)s)")
    parser.add_argument("--window", type=int, default=d.window, help="steps per example (default %(default)s)")
    parser.add_argument("--stride", type=int, default=d.stride, help="steps between windows (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="windows per batch (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"maximum epochs (default {d.epochs}; with --resume: extend the run to this many)")
    parser.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch,
                        help="batches per epoch; 0 = one pass over the windows (default %(default)s)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help=f"stop after this many minutes of training; 0 = no limit (default {d.max_minutes}; "
                        "with --resume: for this session)")
    parser.add_argument("--learning-rate", type=float, default=d.learning_rate,
                        help="peak Adam learning rate (default %(default)s)")
    parser.add_argument("--patience", type=int, default=d.patience,
                        help="epochs without validation improvement before stopping (default %(default)s)")
    parser.add_argument("--max-transpose", type=int, default=d.max_transpose,
                        help="random transposition of whole windows, +-semitones; 0 = off (default %(default)s)")
    parser.add_argument("--strategy", choices=STRATEGIES, default=d.strategy, help="tf.distribute strategy")
    parser.add_argument("--layers", type=int, default=m.layers, help="LSTM layers (default %(default)s)")
    parser.add_argument("--units", type=int, default=m.units, help="LSTM units per layer (default %(default)s)")
    parser.add_argument("--embedding", type=int, default=m.embedding, help="embedding size (default %(default)s)")
    parser.add_argument("--dropout", type=float, default=m.dropout,
                        help="dropout after each LSTM (default %(default)s)")
    parser.add_argument("--inputs", choices=INPUT_KINDS, default=m.inputs,
                        help="what the LSTM reads: the token only (the course's model, a baseline) or also the bar "
                        "position and the tokens 1 and 2 bars back (default %(default)s)")


def configs_from_args(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    model = ModelConfig(embedding=args.embedding, layers=args.layers, units=args.units, dropout=args.dropout,
                        inputs=args.inputs)
    train = TrainConfig(
        data=tuple(args.data) or TrainConfig.data, seed=args.seed, validation_fraction=args.validation_fraction,
        window=args.window, stride=args.stride, batch_size=args.batch_size,
        epochs=TrainConfig.epochs if args.epochs is None else args.epochs, steps_per_epoch=args.steps_per_epoch,
        max_minutes=TrainConfig.max_minutes if args.max_minutes is None else args.max_minutes,
        learning_rate=args.learning_rate,
        patience=args.patience, max_transpose=args.max_transpose, strategy=args.strategy,
    )
    return model, train


def make_strategy(name: str):
    """The tf.distribute strategy named ``name`` (one of STRATEGIES)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one-device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")


def create_run(path: Path, model: ModelConfig, train: TrainConfig, command: str = "") -> None:
    """Write config.json and split.json of a new run folder."""
    if (path / "config.json").exists():
        raise RunError(f"{path} already holds a run: pass --resume to continue it, or choose another --run")
    melodies = load_data(train.data)
    split = split_melodies(len(melodies), train.validation_fraction, train.seed)
    (path / "checkpoints").mkdir(parents=True, exist_ok=True)
    write_json(path / "config.json", {"model": model.to_json(), "train": train.to_json(), "command": command})
    write_json(path / "split.json", {**split.to_json(), "data": describe_data(train.data, melodies)})


def record_resume(path: Path, command: str) -> None:
    """Add a resume command to the run's config.json ("resumed": [...]), for the contract's provenance."""
    config = read_json(path / "config.json")
    config["resumed"] = [*config.get("resumed", []), command]
    write_json(path / "config.json", config)


def fit(run_path: Path, resume: bool = False, clock: Callable[[], float] = time.monotonic,
        overrides: dict | None = None, verbose: int = 1) -> dict:
    """Train the run in ``run_path`` (created by ``create_run``); returns the history (per-epoch lists).

    ``overrides`` replaces TrainConfig fields for this session only (e.g. epochs, max_minutes).
    """
    import keras
    import tensorflow as tf

    from training.history import History, TimeBudget

    run = load_run(run_path)
    train = replace(run.train, **(overrides or {}))
    keras.utils.set_random_seed(train.seed)
    tf.config.experimental.enable_op_determinism()
    history = History(run.path, clock)
    data = {name: run_windows(run, name, train.window, train.stride) for name in ("train", "validation")}
    train_set = make_dataset(*data["train"], train.batch_size, True, train.seed, train.max_transpose)
    val_set = make_dataset(*data["validation"], train.batch_size, False, train.seed)
    steps = train.steps_per_epoch or -(-len(data["train"][1]) // train.batch_size)
    with make_strategy(train.strategy).scope():
        model = _load_or_build(run, resume, learning_rate_schedule(train, steps))
    callbacks = [
        keras.callbacks.ModelCheckpoint(run.best_weights, monitor="val_loss", save_best_only=True,
                                        save_weights_only=True, initial_value_threshold=history.best("val_loss")),
        keras.callbacks.ModelCheckpoint(run.last_model),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=train.patience),
        TimeBudget(train.max_minutes * 60.0, clock),
        history,
    ]
    model.fit(train_set.repeat() if train.steps_per_epoch else train_set, validation_data=val_set,
              epochs=train.epochs, initial_epoch=history.epochs if resume else 0,
              steps_per_epoch=train.steps_per_epoch or None, callbacks=callbacks, verbose=verbose, shuffle=False)
    return history.data


def learning_rate_schedule(train: TrainConfig, steps_per_epoch: int):
    """Linear warm-up over the first ``WARMUP_STEPS`` batches to ``learning_rate``, then cosine decay to 5 %
    of it at the end of the last epoch (a function of the optimizer's step count, so --resume continues it)."""
    import keras

    total = max(1, train.epochs * steps_per_epoch - WARMUP_STEPS)
    return keras.optimizers.schedules.CosineDecay(0.0, total, alpha=0.05, warmup_target=train.learning_rate,
                                                  warmup_steps=WARMUP_STEPS)


def _load_or_build(run, resume: bool, learning_rate):
    import keras

    from training.model import build_models

    if resume:
        if not run.last_model.is_file():
            raise RunError(f"{run.last_model}: nothing to resume (no finished epoch in {run.path})")
        return keras.models.load_model(run.last_model)
    model = build_models(run.model).sequence
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=["sparse_categorical_accuracy"],
    )
    return model


def run(args: argparse.Namespace) -> int:
    try:
        if args.resume:
            overrides = {k: v for k, v in (("epochs", args.epochs), ("max_minutes", args.max_minutes)) if v is not None}
            record_resume(args.run, shlex.join(["melodybox-train", *sys.argv[1:]]))
            fit(args.run, resume=True, overrides=overrides)
        else:
            model, train = configs_from_args(args)
            if not Path(train.data[0]).is_file() and train.data == TrainConfig.data:
                raise RunError(f"{DEFAULT_CORPUS}: the bundled corpus is missing (build it with `make corpus`, "
                               "or pass prepared .npz files)")
            create_run(args.run, model, train, shlex.join(["melodybox-train", *sys.argv[1:]]))
            fit(args.run)
    except (RunError, ValueError) as error:
        print(f"melodybox-train train: {error}", file=sys.stderr)
        return 2
    print(f"run written to {args.run} (evaluate: melodybox-train evaluate --run {args.run})")
    return 0
