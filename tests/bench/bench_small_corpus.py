"""Benchmark of the newcomer's path: 20 folk-like MIDI files -> prepare -> train --from default (and from scratch).

    python -m tests.bench.bench_small_corpus [--files 20] [--held-out 40] [--skip-scratch]

The files are real tunes, written to MIDI here (not committed): ``--files`` + ``--held-out`` tunes spread evenly
over music21's ``airdsAirs`` (*Aird's Selection of Scotch, English, Irish and Foreign Airs*, Glasgow, 1778-1803,
public domain; ABC transcriptions by Jack Campin), a collection the bundled corpus does not use, converted as
the corpus builder converts its tunes (training/corpus/build.py). Every third of them is one of "your" files;
the others are held out. Each route runs the commands a user types, as whole processes (wall time, TensorFlow
start-up included):

    melodybox-train prepare OWN -o own.npz
    melodybox-train train own.npz --run RUN [--from default]
    melodybox-train evaluate --run RUN --json                  (its validation melodies)
    melodybox-train evaluate --run RUN --data held.npz --json  (tunes it never saw)

With --from default, evaluate also scores the default on the same melodies: the fine-tune against where it began.

The target: prepare + train --from default in <= 5 minutes on 2 cores, and a model whose validation NLL is
below the best n-gram's. Prints a table and returns the figures (``main``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench-out" / "small_corpus"
COLLECTION = "airdsAirs"
TARGET_SECONDS = 300.0


def write_tunes(folder: Path, own: int, held_out: int) -> tuple[Path, Path]:
    """Write ``own + held_out`` tunes of COLLECTION as MIDI files into folder/own and folder/held (kept)."""
    import music21

    from training.corpus import build

    own_dir, held_dir = folder / "own", folder / "held"
    if len(list(own_dir.glob("*.mid"))) == own and len(list(held_dir.glob("*.mid"))) == held_out:
        return own_dir, held_dir
    for path in (own_dir, held_dir):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    corpus = Path(music21.__file__).parent / "corpus" / COLLECTION
    tunes = [(f"{abc.stem}_{index:03d}", text) for abc in sorted(corpus.glob("*.abc"))
             for index, text in enumerate(build.tune_texts(abc))]
    total = own + held_out
    for position, (name, text) in enumerate(tunes[::len(tunes) // total][:total]):
        target = own_dir if position % 3 == 0 and position // 3 < own else held_dir
        (target / f"{name}.mid").write_bytes(build.tune_to_midi_bytes(text))
    return own_dir, held_dir


def timed(*args: str) -> tuple[float, str]:
    """Run ``python -m training ARGS``; (wall seconds, stdout). Raises with the last stderr line on failure."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "training", *args], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"melodybox-train {args[0]} failed: {done.stderr.strip()[-400:]}")
    return seconds, done.stdout


def nlls(report: dict) -> dict:
    """The model's, the unigram's and the best n-gram's NLL (nats/token) from an ``evaluate --json`` report."""
    models = report["models"]
    ngram = next(name for name in models if name.startswith("kneser-ney"))
    return {"lstm": models["lstm"]["nll"], "unigram": models["unigram"]["nll"], "ngram": models[ngram]["nll"],
            "ngram_name": ngram, "tokens": models["lstm"]["tokens"], "melodies": report["melodies"],
            "base": models["base"]["nll"] if "base" in models else None, "verdict": report["verdict"]}


def route(name: str, own_npz: Path, held_npz: Path, prepare_seconds: float, *train_args: str) -> dict:
    """Train one run on own.npz and evaluate it on its validation melodies and on the held-out tunes."""
    run = OUT / "runs" / name
    shutil.rmtree(run, ignore_errors=True)
    train_seconds, summary = timed("train", str(own_npz), "--run", str(run), *train_args)
    _, validation = timed("evaluate", "--run", str(run), "--json")
    _, held = timed("evaluate", "--run", str(run), "--data", str(held_npz), "--json")
    return {"route": name, "prepare_s": prepare_seconds, "train_s": train_seconds,
            "total_s": prepare_seconds + train_seconds, "summary": summary.strip().splitlines()[0],
            "validation": nlls(json.loads(validation)), "held_out": nlls(json.loads(held))}


def gain(figures: dict) -> float:
    """How much lower the model's NLL is than the best n-gram's, in percent."""
    return 100.0 * (figures["ngram"] - figures["lstm"]) / figures["ngram"]


def print_table(rows: list[dict]) -> None:
    print("| route | prepare + train s | validation NLL: model / best n-gram | vs n-gram | "
          "held-out NLL: model / best n-gram | vs n-gram | target |")
    print("|---|---:|---|---:|---|---:|---|")
    for row in rows:
        val, held = row["validation"], row["held_out"]
        met = row["total_s"] <= TARGET_SECONDS and val["lstm"] < val["ngram"]
        print(f"| {row['route']} | {row['total_s']:.0f} | {val['lstm']:.3f} / {val['ngram']:.3f} "
              f"({val['ngram_name']}) | {gain(val):+.1f} % | {held['lstm']:.3f} / {held['ngram']:.3f} "
              f"({held['ngram_name']}) | {gain(held):+.1f} % | {'met' if met else 'not met'} |")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20, help="your MIDI files (default %(default)s)")
    parser.add_argument("--held-out", type=int, default=40, help="tunes held out (default %(default)s)")
    parser.add_argument("--skip-scratch", action="store_true", help="only the --from default route")
    args = parser.parse_args(argv)
    own_dir, held_dir = write_tunes(OUT, args.files, args.held_out)
    own_npz, held_npz = OUT / "own.npz", OUT / "held.npz"
    prepare_seconds, _ = timed("prepare", str(own_dir), "-o", str(own_npz))
    timed("prepare", str(held_dir), "-o", str(held_npz))
    load = os.getloadavg()[0]
    rows = [route("from default", own_npz, held_npz, prepare_seconds, "--from", "default")]
    if not args.skip_scratch:
        rows.append(route("from scratch", own_npz, held_npz, prepare_seconds))
    print(f"{args.files} files of {COLLECTION}, {args.held_out} held out; load average before: {load:.1f}, "
          f"after: {os.getloadavg()[0]:.1f}")
    print_table(rows)
    for row in rows:
        print(f"{row['route']}: {row['summary']}")
        for side in ("validation", "held_out"):
            figures = row[side]
            if figures["base"] is not None:
                print(f"  {side}: {figures['melodies']} melodies, NLL {figures['lstm']:.3f} against the default's "
                      f"{figures['base']:.3f}; verdict: {figures['verdict']}")
    return {"files": args.files, "held_out": args.held_out, "load_before": load, "routes": rows}


if __name__ == "__main__":
    main()
