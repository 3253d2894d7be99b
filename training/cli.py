"""`melodybox-train`: the desktop side (prepare, train, evaluate, export).

Each subcommand lives in its own module that provides ``add_arguments(parser)``
and ``run(args) -> int``. Modules are imported only when their subcommand runs,
so ``--help`` works without TensorFlow and a missing extra gets a clear message.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from pathlib import Path

from device import package_version

SUBCOMMANDS = {
    "prepare": ("training.prepare", "turn MIDI files or folders into a prepared melody file (.npz)"),
    "train": ("training.train", "train the LSTM melody model on prepared files"),
    "evaluate": ("training.evaluate", "measure a trained run or an exported model against unigram and "
                                       "n-gram baselines, with a verdict (--musical: melody features too)"),
    "export": ("training.export", "export a trained run to NAME.tflite + NAME.json for the box"),
}
# What each subcommand needs beyond its module's own imports (TensorFlow is imported late, when used).
REQUIRES = {"prepare": ("numpy", "mido"), "train": ("tensorflow",), "evaluate": ("tensorflow",),
            "export": ("tensorflow",)}
INSTALL_HINT = 'the training side needs the "train" extra: pip install -e ".[train]"  (or: make setup-train)'
VERBOSE_HELP = "show TensorFlow's start-up and device messages (hidden by default)"
PROG = "melodybox-train"
# The conventions `melodybox` keeps too: --verbose before or after the subcommand, --version, help and status 0
# without arguments, errors as "melodybox-train: error: ...", and a value named by what it is (N, NUMBER, PATH).
METAVARS = {int: "N", float: "NUMBER", Path: "PATH"}


class MissingPackage(Exception):
    """A package of the train extra is not installed (its name is the argument)."""


def _import(module_name: str, requires: tuple[str, ...] = ()):
    """Import ``requires`` then ``module_name``; MissingPackage names a missing third-party package."""
    try:
        for package in requires:
            importlib.import_module(package)
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("training", "device"):
            raise
        raise MissingPackage(error.name) from None


def _load(module_name: str, requires: tuple[str, ...] = (), quiet: bool = False):
    """``_import``, with C++ start-up lines silenced when ``quiet``; a missing package exits 2 saying what to
    install."""
    try:
        with silenced_stderr() if quiet else contextlib.nullcontext():
            module = _import(module_name, requires)
            if quiet and "tensorflow" in requires:
                import tensorflow as tf  # lazy: only the commands that need TensorFlow load it (1.4 s)

                tf.config.list_logical_devices()  # loads the device plugins, which log too
        return module
    except MissingPackage as error:
        print(f"{PROG}: error: missing package {str(error)!r}; {INSTALL_HINT}", file=sys.stderr)
        raise SystemExit(2) from None


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the subcommand named in ``argv`` is imported."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train the Melody Box model on a desktop: prepare MIDI -> train -> evaluate -> export.",
        epilog="Start with: melodybox-train prepare my_midi_folder -o my.npz   (see each command's --help)",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(module_name).add_arguments(sub_parser)
            sub_parser.set_defaults(module_name=module_name, requires=REQUIRES[name])
            if "--verbose" not in sub_parser._option_string_actions:
                sub_parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
            name_values(sub_parser)
    return parser


def name_values(parser: argparse.ArgumentParser) -> None:
    """Give every option that takes one value and has no name for it one a musician reads (N, NUMBER, PATH;
    text keeps a one-word name such as NAME), instead of argparse's upper-cased option name (LEARNING_RATE)."""
    for action in parser._actions:
        takes_one = isinstance(action, argparse._StoreAction) and action.nargs is None and action.choices is None
        if action.option_strings and takes_one and action.metavar is None and action.type in METAVARS:
            action.metavar = METAVARS[action.type]
        elif action.option_strings and takes_one and action.metavar is None and "_" in action.dest:
            action.metavar = "TEXT"


@contextlib.contextmanager
def silenced_stderr():
    """Send file descriptor 2 to /dev/null inside the block (C++ libraries write there, past sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. Without --verbose, TensorFlow's start-up lines (oneDNN, CUDA notices, logged before
    its log level applies) go to /dev/null while it is imported, and TF_CPP_MIN_LOG_LEVEL=3 filters its later
    C++ lines (e.g. "failed call to cuInit" on a machine without a GPU). Python errors still show."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    quiet = not getattr(args, "verbose", False)
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return int(_load(args.module_name, args.requires, quiet).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
