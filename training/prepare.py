"""`melodybox-train prepare`: MIDI files or folders -> a prepared melody file (.npz).

Inputs are sorted and results kept in input order, so the output does not depend on the
number of workers. Every input file gets one line in the optional JSONL report. Per-file
work is bounded (bytes, steps, seconds; see training.data.midi_melody.Settings); the parallel
path also gives up on a worker that overruns its time and restarts the pool.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from device.core import encoding
from training.data.dataset import (
    LEGACY_PICKLE_WARNING,
    DatasetError,
    MelodySet,
    load_legacy,
    save_legacy,
    save_melodies,
)
from training.data.midi_melody import REASONS, FileResult, Settings, convert_file, melodies_from_notes, result_of

MIDI_SUFFIXES = (".mid", ".midi", ".kar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    parser.epilog = ("Each melody starts on a bar line and is cut on bar lines; the bars come from the time "
                     "signatures (4/4 where there is none, or one of 1/4), and each melody records its steps per "
                     "bar and where it starts in the bar. Files that give no melody are skipped with one reason: "
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


def find_inputs(paths: list[Path | str]) -> list[Path]:
    """Files named directly, plus MIDI files under folders (recursive); sorted, without duplicates.

    Raises FileNotFoundError for a path that does not exist.
    """
    found: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
        elif path.is_file():
            found.add(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return sorted(found, key=str)


def convert_all(files: list[Path], settings: Settings, workers: int = 1, progress: bool = False,
                convert=convert_file) -> list[FileResult]:
    """Convert every file with ``convert(path, settings)`` (a module-level function, it goes to
    the workers); results in input order whatever the number of workers."""
    from tqdm import tqdm

    show = None if progress else True  # tqdm's disable=None: the bar shows only when stderr is a terminal
    with tqdm(total=len(files), desc="prepare", unit="file", file=sys.stderr, disable=show) as bar:
        if workers <= 1 or len(files) <= 1:
            results = []
            for path in files:
                results.append(convert(path, settings))
                bar.update()
            return results
        return _convert_parallel(files, settings, workers, bar, convert)


def _convert_parallel(files: list[Path], settings: Settings, workers: int, bar, convert) -> list[FileResult]:
    """Pool of processes over batches of files; a stuck worker costs a pool restart, not the run.

    A batch that gives no answer in time is retried one file per task in a fresh pool, so the
    file that hangs is the one reported as a timeout.
    """
    size = max(1, min(16, len(files) // (4 * workers)))  # batches keep inter-process traffic small
    batches = [list(range(i, min(i + size, len(files)))) for i in range(0, len(files), size)]
    results: list[FileResult | None] = [None] * len(files)
    while batches:
        batches = _run_batches(files, settings, workers, batches, results, bar, convert)
    return results


def _convert_batch(paths: list[Path], settings: Settings, convert) -> list[FileResult]:
    return [convert(path, settings) for path in paths]


def _run_batches(files, settings: Settings, workers: int, batches: list[list[int]], results: list, bar, convert):
    """Run ``batches`` in a fresh pool, filling ``results``; return the batches left after a stuck one."""
    limit = 2 * settings.max_seconds + 2.0  # per file; the worker checks its own time, this catches a stuck one
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        jobs = [(b, pool.apply_async(_convert_batch, ([files[i] for i in b], settings, convert))) for b in batches]
        for k, (batch, job) in enumerate(jobs):
            try:
                _store(batch, job.get(timeout=limit * len(batch)), results, bar)
            except multiprocessing.TimeoutError:
                left = [b for b, j in jobs[k + 1 :] if not (j.ready() and _store(b, j.get(), results, bar))]
                if len(batch) > 1:
                    return [[i] for i in batch] + left
                results[batch[0]] = FileResult(str(files[batch[0]]), "skipped", reason="timeout",
                                               message=f"worker gave no answer within {limit:.0f} s")
                bar.update()
                return left
    return []


def _store(batch: list[int], batch_results: list[FileResult], results: list, bar) -> bool:
    for i, result in zip(batch, batch_results, strict=True):
        results[i] = result
    bar.update(len(batch))
    return True


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
    ])


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
    return result_of(str(path), melodies, message=message), sources


def _import_legacy(paths: list[Path], settings: Settings) -> list[tuple[FileResult, list[str]]] | None:
    """Each legacy file cleaned (see ``clean_legacy``); None after printing why one cannot be read."""
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


def run(args) -> int:
    settings = settings_from_args(args)
    problem = check_settings(settings)
    if problem is None and not args.inputs and not args.import_legacy:
        problem = "give at least one INPUT (file or folder) or --import-legacy FILE"
    if problem:
        print(f"melodybox-train: error: {problem}", file=sys.stderr)
        return 2
    try:
        files = find_inputs(args.inputs)
    except FileNotFoundError as error:
        print(f"melodybox-train: error: {error}", file=sys.stderr)
        return 2
    results = convert_all(files, settings, max(1, args.workers), progress=True)
    sources = [r.file for r in results for _ in r.melodies]
    imported = _import_legacy(args.import_legacy, settings)
    if imported is None:
        return 1
    for result, legacy_sources in imported:
        results.append(result)
        sources += legacy_sources
    if args.report:
        write_report(args.report, results)
    summary = summarize(results)
    print(format_summary(summary))
    melody_set = MelodySet([m for r in results for m in r.melodies], sources,
                           {"settings": settings_dict(settings), "files": len(files), "kept": summary["kept"],
                            "skipped": summary["skipped"], "imported_legacy": [str(p) for p in args.import_legacy]},
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
