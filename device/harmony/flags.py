"""The command line's harmony flags: --chords on `run` and `generate`, --harmony-channel and --record-input on `run`,
and ``--harmony follow`` (where the chords come from) told apart from ``--harmony 0.85`` (how closely the melody keeps
to them, the declared control). device/config.py's ``with_harmony`` puts them into the configuration."""

from __future__ import annotations

import argparse

CHORDS_HELP = ('chords for the melody, one per bar, cycled, e.g. "Am F C G" or "Dm7 G7 Cmaj7:2" (:2 holds a chord two '
               'bars); --harmony sets how closely the melody keeps to them, --harmony follow hears them on the input')


def add_harmony_arguments(run: argparse.ArgumentParser, generate: argparse.ArgumentParser) -> None:
    """--chords on both commands; --harmony-channel and --record-input on ``run``."""
    for parser in (run, generate):
        parser.add_argument("--chords", metavar="PROGRESSION", help=CHORDS_HELP)
    run.add_argument("--harmony-channel", type=int, metavar="1-16", help="with --harmony follow: hear the chords on "
                     "this channel of the input only (default: every channel)")
    run.add_argument("--record-input", metavar="DIR", help="keep what you play on the MIDI input, a MIDI file per "
                     "take (a take ends after two bars without a key down), for `melodybox-train prepare DIR`")


def harmony_flags(args: argparse.Namespace) -> tuple[argparse.Namespace, dict]:
    """The flags without ``--harmony follow`` (no value of the control), and with_harmony's keywords from them."""
    follow = (getattr(args, "harmony", None) or "").strip().lower() == "follow"
    rest = argparse.Namespace(**{**vars(args), "harmony": None}) if follow else args
    return rest, {"chords": getattr(args, "chords", None), "follow": follow,
                  "channel": getattr(args, "harmony_channel", None),
                  "input_folder": getattr(args, "record_input", None)}
