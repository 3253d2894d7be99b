"""Benchmark of the dataset generator: `melodybox-train prepare` against the seed course's music21 route.

    python -m tests.bench.bench_prepare [--files 400] [--repeat 5]

Uses the corpus cache MIDI files (build/corpus_midi, rebuilt by training.corpus.build if missing):
``--files`` of them, spread evenly over both collections, copied to a temporary folder. Times
whole-process runs of ``python -m training prepare FOLDER`` (wall time, best of ``--repeat``, default 5) with
1 and 2 workers, and a process converting the same files the course's way (music21
``converter.parse``, first part, offsets and lengths rounded to 16th steps). Prints a table and
returns the figures (``main`` is called by tests/bench/run_all.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def machine() -> dict:
    """CPU model (lscpu), core count, load average (1 min) now."""
    model = platform.processor() or "?"
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines()
        model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), model)
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)}


def pick_files(count: int) -> list[Path]:
    """``count`` cache MIDI files spread evenly over the sorted cache (rebuilds the cache if missing)."""
    from training.corpus import build

    build.write_cache(build.DEFAULT_CACHE)
    files = sorted(build.DEFAULT_CACHE.rglob("*.mid"))
    stride = max(1, len(files) // count)
    return files[::stride][:count]


def wall_time(command: list[str], repeat: int) -> float:
    """Best wall time (seconds) of ``repeat`` runs of a command that must succeed."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:4])}... failed: {done.stderr.strip()[-300:]}")
        best = min(best, elapsed)
    return best


def course_route(folder: Path | str) -> int:
    """Convert every MIDI file in ``folder`` the seed course's way; returns the number of steps made."""
    from music21 import converter

    total = 0
    for path in sorted(Path(folder).glob("*.mid")):
        score = converter.parse(str(path))
        part = score.parts[0] if score.parts else score
        notes = [(round(float(n.offset) * 4), max(1, round(float(n.quarterLength) * 4)), n.pitches[-1].midi)
                 for n in part.flatten().notes]
        length = max((start + length for start, length, _ in notes), default=0)
        tokens = [129] * length
        for start, _, pitch in notes:
            tokens[start] = pitch
        total += len(tokens)
    return total


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=400, help="how many corpus MIDI files (default 400)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the best counts (default 5)")
    args = parser.parse_args(argv)
    files = pick_files(args.files)
    before = machine()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "midi"
        folder.mkdir()
        for index, path in enumerate(files):
            shutil.copyfile(path, folder / f"{index:04d}_{path.name}")
        size = sum(p.stat().st_size for p in folder.iterdir())
        for workers in (1, 2):
            command = [sys.executable, "-m", "training", "prepare", str(folder), "-o", str(Path(tmp) / "out.npz"),
                       "--workers", str(workers)]
            rows.append({"route": f"prepare, {workers} worker{'s' if workers > 1 else ''}", "workers": workers,
                         "seconds": wall_time(command, args.repeat)})
        code = f"from tests.bench.bench_prepare import course_route; course_route({str(folder)!r})"
        command = [sys.executable, "-c", code]
        rows.append({"route": "course: music21 parse, 1 process", "workers": 1, "seconds": wall_time(command, 1)})
    for row in rows:
        row["files_per_second"] = round(len(files) / row["seconds"], 1)
    course = rows[-1]["files_per_second"]
    for row in rows:
        row["times_course"] = round(row["files_per_second"] / course, 1)
    result = {"files": len(files), "bytes": size, "machine": before, "load_1min_after": round(os.getloadavg()[0], 2),
              "rows": rows, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print_table(result)
    return result


def print_table(result: dict) -> None:
    info = result["machine"]
    print(f"prepare benchmark: {result['files']} folk-tune MIDI files ({result['bytes'] // 1024} KB), "
          f"{info['cpu']}, {info['cores']} cores, load {info['load_1min']} -> {result['load_1min_after']}")
    print(f"{'route':<36} {'wall s':>8} {'files/s':>9} {'x course':>9}")
    for row in result["rows"]:
        print(f"{row['route']:<36} {row['seconds']:>8.2f} {row['files_per_second']:>9.1f} {row['times_course']:>9.1f}")


if __name__ == "__main__":
    main()
