"""`melodybox-train train`: fit the sequence model on prepared melodies, into a run folder.

Pipeline: load .npz files -> split by melody (seeded) -> windows of ``--window``
steps, each melody preceded by START_TOKEN, a target at every step -> tf.data
(shuffle, random transposition of whole windows, batch) -> Keras ``fit`` under a
tf.distribute strategy, validating every epoch, keeping the best checkpoint,
with a warm-up + cosine learning-rate schedule over --epochs, stopping early
(no validation gain for --patience epochs) or when --max-minutes are spent.
``--resume`` continues a run from its last epoch (model + optimizer); ``--from``
starts a new run from a trained model's weights (training/fit/finetune.py).

The schedule follows the data (``schedule``): an epoch is one pass over the
training windows, but at least MIN_STEPS_PER_EPOCH batches (several passes for
a small corpus), and the warm-up is at most WARMUP_SHARE of all batches.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from training.data.windows import make_dataset, run_windows, split_melodies
from training.fit import finetune
from training.fit.model import INPUT_KINDS, ModelConfig
from training.fit.outcome import Outcome
from training.fit.runs import (
    DEFAULT_CORPUS,
    FINE_TUNE_LEARNING_RATE,
    RunError,
    TrainConfig,
    describe_data,
    load_data,
    load_run,
    read_json,
    write_json,
)

STRATEGIES = ("default", "mirrored", "one-device")
WARMUP_STEPS = 100  # batches of linear learning-rate warm-up, at most WARMUP_SHARE of all batches
WARMUP_SHARE = 0.1
MIN_STEPS_PER_EPOCH = 25  # batches per epoch at least: a small corpus gets several passes per epoch
EPILOG = f"""\
strategies (--strategy): the training step always runs under a tf.distribute strategy.
  default     tf.distribute.get_strategy(): the default (no-op) strategy, one device
  mirrored    tf.distribute.MirroredStrategy(): replicates over all visible GPUs (or the CPU)
  one-device  tf.distribute.OneDeviceStrategy on the first GPU, else the CPU
The batch size is global (split across replicas).

determinism: keras.utils.set_random_seed(--seed) and tf.config.experimental.enable_op_determinism();
the split, the shuffle order and the transpositions follow --seed.

schedule: an epoch is one pass over the training windows but at least {MIN_STEPS_PER_EPOCH} batches (small corpora
get several passes per epoch); the warm-up is {WARMUP_STEPS} batches or a tenth of all batches, the fewer.

fine-tuning (--from): start from a trained model's weights: --from default (the shipped model and
its Keras weights, models/default.weights.h5) or --from runs/x (a run folder). The run takes that
model's shape, and the melodies must lie in the pitch range it was trained on. Peak learning
rate {FINE_TUNE_LEARNING_RATE} unless --learning-rate is given.

examples: melodybox-train train --run runs/default --max-minutes 18
          melodybox-train train mine.npz --run runs/mine --from default
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
                        help=f"batches per epoch; 0 = one pass over the windows, at least {MIN_STEPS_PER_EPOCH} "
                        "(default %(default)s)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help=f"stop after this many minutes of training; 0 = no limit (default {d.max_minutes}; "
                        "with --resume: for this session)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=f"peak Adam learning rate (default {d.learning_rate}; with --from "
                        f"{FINE_TUNE_LEARNING_RATE})")
    parser.add_argument("--patience", type=int, default=d.patience,
                        help="epochs without validation improvement before stopping (default %(default)s)")
    parser.add_argument("--max-transpose", type=int, default=d.max_transpose,
                        help="random transposition of whole windows, +-semitones; 0 = off (default %(default)s)")
    parser.add_argument("--strategy", choices=STRATEGIES, default=d.strategy, help="tf.distribute strategy")
    parser.add_argument("--from", dest="base", default="", metavar="MODEL",
                        help="start from this trained model's weights: a shipped model's name (default) or a run "
                        "folder; the model shape flags below then come from it")
    # Model shape: None = not given (the default below, or the --from model's).
    parser.add_argument("--layers", type=int, help=f"LSTM layers (default {m.layers})")
    parser.add_argument("--units", type=int, help=f"LSTM units per layer (default {m.units})")
    parser.add_argument("--embedding", type=int, help=f"embedding size (default {m.embedding})")
    parser.add_argument("--dropout", type=float, help=f"dropout after each LSTM (default {m.dropout})")
    parser.add_argument("--inputs", choices=INPUT_KINDS,
                        help="what the LSTM reads: the token only (the course's model, a baseline) or also the bar "
                        f"position and the tokens 1, 2, 4 and 8 bars back (default {m.inputs})")


MODEL_FLAGS = ("embedding", "layers", "units", "dropout", "inputs")


def configs_from_args(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """The run's configs from the flags; with --from, the model shape of that base model (flags must agree)."""
    requested = {name: getattr(args, name) for name in MODEL_FLAGS if getattr(args, name) is not None}
    base = finetune.resolve_base(args.base) if args.base else None
    model = finetune.model_for(base, requested) if base else ModelConfig(**requested)
    default_rate = FINE_TUNE_LEARNING_RATE if base else TrainConfig.learning_rate
    train = TrainConfig(
        data=tuple(args.data) or TrainConfig.data, seed=args.seed, validation_fraction=args.validation_fraction,
        window=args.window, stride=args.stride, batch_size=args.batch_size,
        epochs=TrainConfig.epochs if args.epochs is None else args.epochs, steps_per_epoch=args.steps_per_epoch,
        max_minutes=TrainConfig.max_minutes if args.max_minutes is None else args.max_minutes,
        learning_rate=default_rate if args.learning_rate is None else args.learning_rate, base=args.base,
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
    config = {"model": model.to_json(), "train": train.to_json(), "command": command}
    if train.base:
        base = finetune.resolve_base(train.base)
        finetune.check_pitches(base, melodies.melodies)
        config["base"] = finetune.describe(base)
    (path / "checkpoints").mkdir(parents=True, exist_ok=True)
    write_json(path / "config.json", config)
    write_json(path / "split.json", {**split.to_json(), "data": describe_data(train.data, melodies)})


def record_resume(path: Path, command: str) -> None:
    """Add a resume command to the run's config.json ("resumed": [...]), for the contract's provenance."""
    config = read_json(path / "config.json")
    config["resumed"] = [*config.get("resumed", []), command]
    write_json(path / "config.json", config)


@dataclass(frozen=True)
class Schedule:
    """Batches per epoch, passes over the training windows per epoch, and warm-up batches."""

    steps_per_epoch: int
    passes_per_epoch: float
    warmup_steps: int


def schedule(train: TrainConfig, windows: int) -> Schedule:
    """The schedule for ``windows`` training windows: one pass per epoch, at least MIN_STEPS_PER_EPOCH batches
    (or --steps-per-epoch); warm-up WARMUP_STEPS or WARMUP_SHARE of all batches, the fewer."""
    per_pass = -(-windows // train.batch_size)
    steps = train.steps_per_epoch or max(per_pass, MIN_STEPS_PER_EPOCH)
    warmup = min(WARMUP_STEPS, int(WARMUP_SHARE * steps * train.epochs))
    return Schedule(steps, steps * train.batch_size / windows, warmup)


def fit(run_path: Path, resume: bool = False, clock: Callable[[], float] = time.monotonic,
        overrides: dict | None = None, verbose: int | None = None) -> Outcome:
    """Train the run in ``run_path`` (created by ``create_run``); returns how it went (history, why it stopped).

    ``overrides`` replaces TrainConfig fields for this session only (e.g. epochs, max_minutes).
    ``verbose``: Keras progress output (default: a progress bar on a terminal, nothing otherwise).
    """
    import keras
    import tensorflow as tf

    from training.fit.history import History, TimeBudget

    run = load_run(run_path)
    train = replace(run.train, **(overrides or {}))
    keras.utils.set_random_seed(train.seed)
    tf.config.experimental.enable_op_determinism()
    history = History(run.path, clock)
    data = {name: run_windows(run, name, train.window, train.stride) for name in ("train", "validation")}
    train_set = make_dataset(*data["train"], train.batch_size, True, train.seed, train.max_transpose)
    val_set = make_dataset(*data["validation"], train.batch_size, False, train.seed)
    plan = schedule(train, len(data["train"][1]))
    with make_strategy(train.strategy).scope():
        model = _load_or_build(run, resume, learning_rate_schedule(train, plan))
    early, budget = keras.callbacks.EarlyStopping(monitor="val_loss", patience=train.patience), \
        TimeBudget(train.max_minutes * 60.0, clock)
    callbacks = [
        keras.callbacks.ModelCheckpoint(run.best_weights, monitor="val_loss", save_best_only=True,
                                        save_weights_only=True, initial_value_threshold=history.best("val_loss")),
        keras.callbacks.ModelCheckpoint(run.last_model),
        early, budget, history,
    ]
    started = clock()
    model.fit(train_set.repeat(), validation_data=val_set, epochs=train.epochs,
              initial_epoch=history.epochs if resume else 0, steps_per_epoch=plan.steps_per_epoch,
              callbacks=callbacks, verbose=(1 if sys.stdout.isatty() else 0) if verbose is None else verbose,
              shuffle=False)
    reason = "budget" if budget.stopped else "early" if early.stopped_epoch else "done"
    return Outcome(history.data, train.epochs, plan.steps_per_epoch, plan.passes_per_epoch, reason,
                   clock() - started, train.patience, train.max_minutes,
                   unigram_loss(run.side("train"), *data["validation"][1:]))


def unigram_loss(train: list, targets, weights) -> float:
    """The unigram baseline's loss (nats per token) on the validation windows' targets, weighted as in fit."""
    import numpy as np

    from training.evaluation.baselines import Unigram

    log_p = np.log(Unigram.fit(train).probabilities())[np.asarray(targets)]
    return float(-(log_p * weights).sum() / np.sum(weights))


def learning_rate_schedule(train: TrainConfig, plan: Schedule):
    """Linear warm-up over the first ``plan.warmup_steps`` batches to ``learning_rate``, then cosine decay to
    5 % of it at the end of the last epoch (a function of the optimizer's step count, so --resume continues it)."""
    import keras

    total = max(1, train.epochs * plan.steps_per_epoch - plan.warmup_steps)
    return keras.optimizers.schedules.CosineDecay(0.0, total, alpha=0.05, warmup_target=train.learning_rate,
                                                  warmup_steps=plan.warmup_steps)


def _load_or_build(run, resume: bool, learning_rate):
    import keras

    from training.fit.model import build_models

    if resume:
        if not run.last_model.is_file():
            raise RunError(f"{run.last_model}: nothing to resume (no finished epoch in {run.path})")
        return keras.models.load_model(run.last_model)
    model = build_models(run.model).sequence
    base_weights = finetune.recorded_weights(read_json(run.path / "config.json"))
    if base_weights:
        try:
            model.load_weights(base_weights)
        except (ValueError, OSError) as error:  # Keras lists every layer that does not fit: one line instead
            raise RunError(f"{base_weights}: cannot load these weights into the model of "
                           f"{run.path / 'config.json'} ({str(error).splitlines()[0]})") from None
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
            outcome = fit(args.run, resume=True, overrides=overrides)
        else:
            model, train = configs_from_args(args)
            if not Path(train.data[0]).is_file() and train.data == TrainConfig.data:
                raise RunError(f"{DEFAULT_CORPUS}: the bundled corpus is missing (build it with `make corpus`, "
                               "or pass prepared .npz files)")
            create_run(args.run, model, train, shlex.join(["melodybox-train", *sys.argv[1:]]))
            outcome = fit(args.run)
    except (RunError, ValueError) as error:
        print(f"melodybox-train: error: {error}", file=sys.stderr)
        return 2
    print(outcome.summary())
    if outcome.warning():
        print(f"melodybox-train: warning: {outcome.warning()}", file=sys.stderr)
    print(f"run written to {args.run} (evaluate: melodybox-train evaluate --run {args.run})")
    return 0
