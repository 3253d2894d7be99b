"""One training session of a run folder: windows -> tf.data -> Keras ``fit`` under a tf.distribute strategy.

The run folder is made by training.fit.create. Every epoch is validated; the best weights and the last model
(with its optimizer, for ``--resume``) are kept; the learning rate warms up linearly, then follows a cosine to
5 % of its peak at the last epoch; training stops early (no validation gain for ``patience`` epochs) or when
its time budget is spent.

The schedule follows the data (``schedule``): an epoch is one pass over the training windows, but at least
MIN_STEPS_PER_EPOCH batches (several passes for a small corpus), and the warm-up is at most WARMUP_SHARE of all
batches.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from training.data.windows import make_dataset, run_windows
from training.fit import finetune
from training.fit.model import build_models
from training.fit.outcome import Outcome
from training.fit.runs import RunError, TrainConfig, load_run, read_json

STRATEGIES = ("default", "mirrored", "one-device")
WARMUP_STEPS = 100  # batches of linear learning-rate warm-up, at most WARMUP_SHARE of all batches
WARMUP_SHARE = 0.1
MIN_STEPS_PER_EPOCH = 25  # batches per epoch at least: a small corpus gets several passes per epoch


def make_strategy(name: str):
    """The tf.distribute strategy named ``name`` (one of STRATEGIES)."""
    import tensorflow as tf  # lazy: TensorFlow takes over a second to import; --help and prepare never need it

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one-device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")


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


# What ``fit`` compares its best validation loss with: (training melodies, validation targets, their weights)
# -> nats per token. The train command passes the unigram's (training.evaluation.baselines.unigram_loss).
Baseline = Callable[[list, object, object], float]


def fit(run_path: Path, resume: bool = False, clock: Callable[[], float] = time.monotonic,
        overrides: dict | None = None, verbose: int | None = None, baseline: Baseline | None = None) -> Outcome:
    """Train the run in ``run_path`` (made by ``create.create_run``); returns how it went (history, why it stopped).

    ``overrides`` replaces TrainConfig fields for this session only (e.g. epochs, max_minutes).
    ``verbose``: Keras progress output (default: a progress bar on a terminal, nothing otherwise).
    ``baseline``: the loss the outcome compares the best validation loss with (none: no comparison).
    """
    import keras  # lazy: TensorFlow and Keras take over a second to import; --help and prepare never need them
    import tensorflow as tf  # lazy: as keras

    from training.fit.history import History, TimeBudget  # lazy: subclasses of keras callbacks (imports keras)

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
        model = load_or_build(run, resume, learning_rate_schedule(train, plan))
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
    compared = baseline(run.side("train"), *data["validation"][1:]) if baseline else None
    return Outcome(history.data, train.epochs, plan.steps_per_epoch, plan.passes_per_epoch, reason,
                   clock() - started, train.patience, train.max_minutes, compared)


def learning_rate_schedule(train: TrainConfig, plan: Schedule):
    """Linear warm-up over the first ``plan.warmup_steps`` batches to ``learning_rate``, then cosine decay to
    5 % of it at the end of the last epoch (a function of the optimizer's step count, so --resume continues it)."""
    import keras  # lazy: TensorFlow and Keras take over a second to import

    total = max(1, train.epochs * plan.steps_per_epoch - plan.warmup_steps)
    return keras.optimizers.schedules.CosineDecay(0.0, total, alpha=0.05, warmup_target=train.learning_rate,
                                                  warmup_steps=plan.warmup_steps)


def load_or_build(run, resume: bool, learning_rate):
    """The compiled sequence model of ``run``: its last model with ``resume``, else built from its shape and,
    for a fine-tuned run, loaded with its base's weights."""
    import keras  # lazy: TensorFlow and Keras take over a second to import

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
