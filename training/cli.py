"""`melodybox-train`: the desktop side (prepare, train, evaluate, export).

Each subcommand lives in its own module that provides ``add_arguments(parser)``
and ``run(args) -> int``. Modules are imported only when their subcommand runs,
so ``--help`` works without TensorFlow and a missing extra gets a clear message.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

SUBCOMMANDS = {
    "prepare": ("training.prepare", "turn MIDI files or folders into a prepared melody file (.npz)"),
    "train": ("training.train", "train the LSTM melody model on prepared files"),
    "evaluate": ("training.evaluate", "measure a trained run against unigram and n-gram baselines"),
    "export": ("training.export", "export a trained run to NAME.tflite + NAME.json for the box"),
}
# What each subcommand needs beyond its module's own imports (TensorFlow is imported late, when used).
REQUIRES = {"prepare": ("numpy", "mido"), "train": ("tensorflow",), "evaluate": ("tensorflow",),
            "export": ("tensorflow",)}
INSTALL_HINT = 'the training side needs the "train" extra: pip install -e ".[train]"  (or: make setup-train)'


def _load(module_name: str, requires: tuple[str, ...] = ()):
    """Import ``requires`` then ``module_name``; a missing package exits 2 saying what to install."""
    try:
        for package in requires:
            importlib.import_module(package)
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("training", "device"):
            raise
        print(f"melodybox-train: missing package {error.name!r}; {INSTALL_HINT}", file=sys.stderr)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO/WARNING lines say nothing to users
    args = build_parser(argv).parse_args(argv)
    return int(_load(args.module_name, args.requires).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
