"""`melodybox-train prepare`: MIDI files or folders -> a prepared melody file (.npz).

The files are found and converted by training/data/convert.py (sorted, results in input order whatever the
number of workers, per-file work bounded). Every input file gets one line in the optional JSONL report: kept or
skipped and why, its metres, and the melodies ``--transpose-into`` moved by octaves or left out. The seed
course's pickled format is read only with ``--import-legacy``, and only once it is known to be an .npz.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from device.core import encoding
from training.data.convert import convert_all, find_inputs
from training.data.dataset import (
    LEGACY_PICKLE_WARNING,
    DatasetError,
    MelodySet,
    check_legacy,
    load_legacy,
    save_legacy,
    save_melodies,
)
from training.data.metre import LONGEST_BAR
from training.data.midi_melody import REASONS, FileResult, Settings, melodies_from_notes, result_of
from training.data.octaves import into_range, parse_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    parser.epilog = ("Each melody starts on a bar line and is cut on bar lines; the bars come from the time "
                     "signatures (4/4 where there is none, or one of 1/4), and each melody records its steps per "
                     f"bar and where it starts in the bar. A bar longer than {LONGEST_BAR} steps (16ths), as in 4/2 "
                     "or 4/1, is cut into equal bars the model knows (4/2 into 2 bars of 16). Files that give no "
                     "melody are skipped with one reason: "
                     + ", ".join(REASONS) + ". The summary and --report say which.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="MIDI files or folders (searched recursively for .mid/.midi/.kar, any case)")
    parser.add_argument("-o", "--out", required=True, type=Path, help="the prepared file to write (.npz, no pickle)")
    parser.add_argument("--workers", type=int, default=min(2, multiprocessing.cpu_count()),
                        help="processes converting files in parallel (default: %(default)s)")
    parser.add_argument("--report", type=Path, help="write one JSON line per input file (kept or skipped, and why)")
    parser.add_argument("--min-steps", type=int, default=defaults.min_steps,
                        help="drop melodies shorter than this many 16th steps (default %(default)s)")
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps,
                        help="cut longer melodies into pieces of at most this many steps (default %(default)s)")
    parser.add_argument("--split-silence", type=int, default=defaults.split_silence,
                        help="a silence of at least this many steps splits a melody "
                             "(default %(default)s: 2 bars of 4/4)")
    parser.add_argument("--all-voices", action="store_true",
                        help="keep every non-drum part as its own melody, not only the melody line")
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds,
                        help="give up on a file after this many seconds (default %(default)s)")
    parser.add_argument("--max-bytes", type=int, default=defaults.max_bytes,
                        help="skip files larger than this (default %(default)s)")
    parser.add_argument("--legacy-out", type=Path, metavar="PATH",
                        help="also write the seed course's format (pickled object array, key 'train') for its "
                             "notebook. Risk: loading it needs pickle, which can run code hidden in a file; "
                             "share the pickle-free -o file instead")
    parser.add_argument("--import-legacy", type=Path, action="append", default=[], metavar="FILE",
                        help="also take the melodies of a seed-course .npz, cleaned like MIDI melodies (read as 4/4 "
                             "from their first step); unpickles it: only for files you trust")
    parser.add_argument("--transpose-into", metavar="LOW..HIGH", type=note_range,
                        help="move each melody up or down by whole octaves so that all its notes lie between LOW and "
                             "HIGH (MIDI numbers or note names, C4 = 60: 55..93 or G3..A6). For fine-tuning: "
                             "`train --from default` names the range the model knows. A melody wider than the range "
                             "is left out; the summary and --report say which moved")


def note_range(text: str) -> tuple[int, int]:
    """--transpose-into's LOW..HIGH (argparse turns the ValueError into a one-line usage error)."""
    try:
        return parse_range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def settings_from_args(args) -> Settings:
    return Settings(min_steps=args.min_steps, max_steps=args.max_steps, split_silence=args.split_silence,
                    all_voices=args.all_voices, max_seconds=args.max_seconds, max_bytes=args.max_bytes)


def settings_dict(settings: Settings) -> dict:
    return asdict(settings)


def check_settings(settings: Settings) -> str | None:
    """A message for settings that make no sense, else None."""
    if settings.min_steps < 1 or settings.max_steps < settings.min_steps:
        return f"need 1 <= --min-steps <= --max-steps (got {settings.min_steps}, {settings.max_steps})"
    if settings.split_silence < 1 or settings.max_seconds <= 0 or settings.max_bytes < 1:
        return "--split-silence, --max-seconds and --max-bytes must be positive"
    return None


def summarize(results: list[FileResult]) -> dict:
    """Counts over the results: files kept/skipped by reason, melodies, steps, pitch range, token shares, and
    melodies by steps per bar (most first) and by whether they start on a bar line."""
    skipped = Counter(r.reason for r in results if r.status == "skipped")
    melodies = [m for r in results for m in r.melodies]
    tokens = np.concatenate(melodies) if melodies else np.zeros(0, dtype=np.int16)
    counts = np.bincount(tokens, minlength=encoding.VOCAB_SIZE) if len(tokens) else np.zeros(encoding.VOCAB_SIZE)
    pitches = np.flatnonzero(counts[: encoding.NUM_PITCHES])
    total = max(int(len(tokens)), 1)
    bars = Counter(b for r in results for b in r.bar_steps)
    metres = Counter(name for r in results if r.status == "kept" for name in r.metres)
    return {
        "files": len(results),
        "kept": sum(r.status == "kept" for r in results),
        "skipped": {reason: skipped[reason] for reason in REASONS if skipped[reason]},
        "melodies": len(melodies),
        "steps": int(len(tokens)),
        "pitch_range": [int(pitches[0]), int(pitches[-1])] if len(pitches) else None,
        "shares": {
            "note_on": round(float(counts[: encoding.NUM_PITCHES].sum()) / total, 4),
            "note_off": round(float(counts[encoding.NOTE_OFF]) / total, 4),
            "no_event": round(float(counts[encoding.NO_EVENT]) / total, 4),
        },
        "bar_steps": {str(steps): count for steps, count in sorted(bars.items(), key=lambda item: (-item[1], item[0]))},
        "off_bar_line": sum(offset != 0 for r in results for offset in r.bar_offset),
        "metres": dict(sorted(metres.items(), key=lambda item: (-item[1], item[0]))),
        "moved": sum(" octave" in phrase for r in results for phrase in r.transposed),
        "left_out": sum(" left out" in phrase for r in results for phrase in r.transposed),
    }


def format_summary(summary: dict) -> str:
    """A few lines for the terminal."""
    skipped = ", ".join(f"{k} {v}" for k, v in summary["skipped"].items()) or "none"
    shares = summary["shares"]
    low_high = summary["pitch_range"]
    pitch = f"{low_high[0]}..{low_high[1]}" if low_high else "-"
    return "\n".join([
        f"files     {summary['files']}: kept {summary['kept']}, "
        f"skipped {summary['files'] - summary['kept']} ({skipped})",
        f"melodies  {summary['melodies']}, steps {summary['steps']}, pitch range {pitch}",
        f"tokens    note-on {shares['note_on']:.1%}, NOTE_OFF {shares['note_off']:.1%}, "
        f"NO_EVENT {shares['no_event']:.1%}",
        "bars      " + (", ".join(f"{steps} steps {count}" for steps, count in summary["bar_steps"].items()) or "-")
        + f" (melodies); {summary['off_bar_line']} start off a bar line",
        "metres    " + (", ".join(f"{name} {count}" for name, count in summary["metres"].items()) or "-")
        + " (files)",
    ] + ([f"octaves   {summary['moved']} moved, {summary['left_out']} left out (melodies; see --report)"]
         if summary["moved"] or summary["left_out"] else []))


def write_report(path: Path, results: list[FileResult]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for result in results:
            out.write(json.dumps(result.report(), sort_keys=True) + "\n")


def clean_legacy(path: Path, legacy: MelodySet, settings: Settings) -> tuple[FileResult, list[str]]:
    """The seed course's melodies cleaned like MIDI melodies (read as 4/4 from their first step): melodies
    without notes dropped, silence before the first bar line of the music and after the last note stripped,
    split at long silences, cut to ``max_steps`` on bar lines, short pieces dropped. Returns the file's
    result and the source of each melody kept."""
    melodies, sources, empty = [], [], 0
    for source, tokens in zip(legacy.sources, legacy.melodies, strict=True):
        notes = encoding.tokens_to_notes(tokens.tolist())
        empty += not notes
        pieces = melodies_from_notes(notes, settings)
        melodies += pieces
        sources += [source] * len(pieces)
    message = f"{len(legacy)} legacy melodies, {empty} without notes, {len(melodies)} kept after cleaning"
    if not melodies:
        return FileResult(str(path), "skipped", reason="no_notes" if empty == len(legacy) else "too_short",
                          message=message), []
    return result_of(str(path), melodies, message=message, metres=["4/4 (seed course's format)"]), sources


def _import_legacy(paths: list[Path], settings: Settings) -> list[tuple[FileResult, list[str]]] | None:
    """Each legacy file (already checked by ``check_legacy``) cleaned (see ``clean_legacy``); None after
    printing why one cannot be read."""
    imported = []
    for path in paths:
        print(f"melodybox-train: warning: {LEGACY_PICKLE_WARNING}: {path}", file=sys.stderr)
        try:
            legacy = load_legacy(path)
        except (DatasetError, OSError, KeyError, ValueError) as error:
            print(f"melodybox-train: error: cannot import {path}: {error}", file=sys.stderr)
            return None
        imported.append(clean_legacy(path, legacy, settings))
        print(f"legacy    {path}: {imported[-1][0].message}")
    return imported


def transpose_results(entries: list[tuple[FileResult, list[str]]], target: tuple[int, int]) -> list:
    """Each (file result, source of each melody) with its melodies moved by whole octaves into ``target``
    (training.data.octaves); the result says which moved. A file whose every melody is left out is skipped."""
    moved_entries = []
    for result, sources in entries:
        moved, said = into_range(result.melodies, target)
        keep = [i for i, melody in enumerate(moved) if melody is not None]
        if result.melodies and not keep:
            result = FileResult(result.file, "skipped", reason="out_of_range", parts=result.parts,
                                message=f"every melody spans more than {target[0]}..{target[1]}",
                                metres=result.metres, transposed=said)
        elif said:
            result = replace(result, melodies=[moved[i] for i in keep], bar_steps=[result.bar_steps[i] for i in keep],
                             bar_offset=[result.bar_offset[i] for i in keep], transposed=said)
        moved_entries.append((result, [sources[i] for i in keep]))
    return moved_entries


def print_transposed(results: list[FileResult], shown: int = 5) -> None:
    """One line per file with a melody moved or left out (at most ``shown``; all are in --report)."""
    changed = [r for r in results if r.transposed]
    for result in changed[:shown]:
        print(f"octaves   {result.file}: {'; '.join(result.transposed)}")
    if len(changed) > shown:
        print(f"octaves   ... and {len(changed) - shown} more files (all in --report)")


def input_files(args, settings: Settings) -> list[Path]:
    """The MIDI files to read; ValueError (one line) for settings that make no sense, no input, a missing one,
    or an --import-legacy file that is not the seed course's format (found before anything is unpickled)."""
    problem = check_settings(settings)
    if problem is None and not args.inputs and not args.import_legacy:
        problem = "give at least one INPUT (file or folder) or --import-legacy FILE"
    if problem:
        raise ValueError(problem)
    try:
        for path in args.import_legacy:
            check_legacy(path)
        return find_inputs(args.inputs)
    except (DatasetError, FileNotFoundError) as error:
        raise ValueError(str(error)) from None


def run(args) -> int:
    settings = settings_from_args(args)
    try:
        files = input_files(args, settings)
    except ValueError as error:
        print(f"melodybox-train: error: {error}", file=sys.stderr)
        return 2
    results = convert_all(files, settings, max(1, args.workers), progress=True)
    entries = [(result, [result.file] * len(result.melodies)) for result in results]
    imported = _import_legacy(args.import_legacy, settings)
    if imported is None:
        return 1
    entries += imported
    if args.transpose_into:
        entries = transpose_results(entries, args.transpose_into)
    results, sources = [result for result, _ in entries], [source for _, found in entries for source in found]
    if args.report:
        write_report(args.report, results)
    summary = summarize(results)
    print(format_summary(summary))
    print_transposed(results)
    metadata = {"settings": settings_dict(settings), "files": len(files), "kept": summary["kept"],
                "skipped": summary["skipped"], "imported_legacy": [str(p) for p in args.import_legacy],
                **({"transposed_into": list(args.transpose_into)} if args.transpose_into else {})}
    melody_set = MelodySet([m for r in results for m in r.melodies], sources, metadata,
                           [b for r in results for b in r.bar_steps], [b for r in results for b in r.bar_offset])
    if not len(melody_set):
        print(f"melodybox-train: error: no melodies found in {len(results)} file(s); nothing written (see --report)",
              file=sys.stderr)
        return 1
    save_melodies(args.out, melody_set)
    print(f"wrote {len(melody_set)} melodies ({melody_set.steps} steps) to {args.out}")
    if args.legacy_out:
        save_legacy(args.legacy_out, melody_set)
        print(f"wrote the seed course's pickled format to {args.legacy_out} (load it only where you trust it)")
    return 0
