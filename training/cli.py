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
        print(f"melodybox-train: missing package {str(error)!r}; {INSTALL_HINT}", file=sys.stderr)
        raise SystemExit(2) from None


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the subcommand named in ``argv`` is imported."""
    parser = argparse.ArgumentParser(
        prog="melodybox-train",
        description="Train the Melody Box model on a desktop: prepare MIDI -> train -> evaluate -> export.",
        epilog="Start with: melodybox-train prepare my_midi_folder -o my.npz   (see each command's --help)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(module_name).add_arguments(sub_parser)
            sub_parser.set_defaults(module_name=module_name, requires=REQUIRES[name])
            if "tensorflow" in REQUIRES[name] and "--verbose" not in sub_parser._option_string_actions:
                sub_parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    return parser


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
    args = build_parser(argv).parse_args(argv)
    quiet = not getattr(args, "verbose", False)
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return int(_load(args.module_name, args.requires, quiet).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
