"""`melodybox-train train`: fit the sequence model on prepared melodies, into a run folder.

Pipeline: load .npz files -> split by melody (seeded) -> windows of ``--window``
steps, each melody preceded by START_TOKEN, a target at every step -> tf.data
(shuffle, random transposition of whole windows, batch) -> Keras ``fit`` under a
tf.distribute strategy (training/fit/session.py), validating every epoch, keeping the best checkpoint.
``--resume`` continues a run from its last epoch (model + optimizer); ``--from`` starts a new run from a
trained model's weights (training/fit/finetune.py). A run that never finished an epoch is not a run
(training/fit/create.py): a refused or interrupted first epoch leaves no folder behind, and the same command
starts it again.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from training.evaluation.baselines import unigram_loss
from training.fit import finetune
from training.fit.create import create_run, discard_unfinished, is_unfinished, record_resume
from training.fit.model import INPUT_KINDS, ModelShape
from training.fit.runs import DEFAULT_CORPUS, FINE_TUNE_LEARNING_RATE, RunError, TrainConfig
from training.fit.session import MIN_STEPS_PER_EPOCH, STRATEGIES, WARMUP_STEPS, fit

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
model's shape, and the melodies must lie in the notes it was trained on (train names them when one
does not): `prepare --transpose-into LOW..HIGH` moves melodies there by whole octaves. Peak learning
rate {FINE_TUNE_LEARNING_RATE} unless --learning-rate is given. `evaluate` then compares the run with
the model it started from.

a run is a folder in which an epoch finished: a train refused or stopped before that leaves nothing,
and the same command starts again.

examples: melodybox-train train --run runs/default --max-minutes 18
          melodybox-train train mine.npz --run runs/mine --from default
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    d, m = TrainConfig(), ModelShape()
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


def configs_from_args(args: argparse.Namespace) -> tuple[ModelShape, TrainConfig]:
    """The run's configs from the flags; with --from, the model shape of that base model (flags must agree)."""
    requested = {name: getattr(args, name) for name in MODEL_FLAGS if getattr(args, name) is not None}
    base = finetune.resolve_base(args.base) if args.base else None
    model = finetune.model_for(base, requested) if base else ModelShape(**requested)
    default_rate = FINE_TUNE_LEARNING_RATE if base else TrainConfig.learning_rate
    train = TrainConfig(
        data=tuple(str(Path(p).resolve()) for p in args.data) or TrainConfig.data,  # found again from any folder
        seed=args.seed, validation_fraction=args.validation_fraction,
        window=args.window, stride=args.stride, batch_size=args.batch_size,
        epochs=TrainConfig.epochs if args.epochs is None else args.epochs, steps_per_epoch=args.steps_per_epoch,
        max_minutes=TrainConfig.max_minutes if args.max_minutes is None else args.max_minutes,
        learning_rate=default_rate if args.learning_rate is None else args.learning_rate, base=args.base,
        patience=args.patience, max_transpose=args.max_transpose, strategy=args.strategy,
    )
    return model, train


def run(args: argparse.Namespace) -> int:
    command = shlex.join(["melodybox-train", *sys.argv[1:]])
    existed = args.run.exists()
    try:
        outcome = start_or_resume(args, command)
    except (RunError, ValueError) as error:
        forget_unfinished(args.run, existed)
        print(f"melodybox-train: error: {error}", file=sys.stderr)
        return 2
    except BaseException:  # Ctrl-C or a crash in the first epoch: that start is not a run either
        forget_unfinished(args.run, existed)
        raise
    print(outcome.summary())
    if outcome.warning():
        print(f"melodybox-train: warning: {outcome.warning()}", file=sys.stderr)
    print(f"run written to {args.run} (evaluate: melodybox-train evaluate --run {args.run})")
    return 0


def start_or_resume(args: argparse.Namespace, command: str):
    """Resume the run in --run (one whose first epoch never finished starts again from its own config), or
    create and train a new one."""
    if args.resume:
        if not (args.run / "config.json").is_file():
            raise RunError(f"{args.run} holds no run to resume: leave out --resume to start one")
        overrides = {k: v for k, v in (("epochs", args.epochs), ("max_minutes", args.max_minutes)) if v is not None}
        record_resume(args.run, command)
        return fit(args.run, resume=not is_unfinished(args.run), overrides=overrides, baseline=unigram_loss)
    model, train = configs_from_args(args)
    if not Path(train.data[0]).is_file() and train.data == TrainConfig.data:
        raise RunError(f"{DEFAULT_CORPUS}: the bundled corpus is missing (build it with `make corpus`, "
                       "or pass prepared .npz files)")
    create_run(args.run, model, train, command)
    return fit(args.run, baseline=unigram_loss)


def forget_unfinished(path: Path, existed: bool) -> None:
    """After a failed session: if no epoch of the run in ``path`` ever finished, remove what it wrote (the folder
    too when this command made it and nothing else is in it)."""
    discard_unfinished(path)
    if not existed and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
