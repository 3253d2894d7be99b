"""Capture: what a capture costs the loop's thread, and how long the write takes on the writer's thread.

    python -m tests.bench.bench_capture [--runs 20] [--folder captures-bench]

A box that played one note per 16th (gate 4 pulses) for N bars, captured at the bar line:
- "loop thread": Capture.tick at the bar line (the copy of the notes handed to the writer),
- "write": building the MIDI file and writing it atomically (temp file, fsync, rename, fsync of the
  folder) in ``--folder`` (default: a temporary folder beside this repository, so on its disk).
Prints the median and the maximum of each, in milliseconds, for 4 and 64 bars.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from device.play.capture import Capture

ROOT = Path(__file__).resolve().parents[2]
BAR_STEPS = 16
PULSES_PER_BAR = BAR_STEPS * 6


def measure(folder: Path, bars: int, runs: int) -> dict[str, list[float]]:
    """Seconds spent on the loop's thread and in the write, for ``runs`` captures of ``bars`` bars."""
    times: dict[str, list[float]] = {"loop thread": [], "write": []}
    for run in range(runs):
        jobs = []
        capture = Capture(folder, bars=bars, bpm=120, bar_steps=BAR_STEPS, writer=jobs.append,
                          wall_clock=lambda run=run: 1e9 + run)
        for step in range(bars * BAR_STEPS):
            capture.record(step * 6, 48 + step % 24, 100)
            capture.record(step * 6 + 4, 48 + step % 24, 0)
        capture.tick(bars * PULSES_PER_BAR - 1)
        capture.request()
        start = time.perf_counter()
        capture.tick(bars * PULSES_PER_BAR)
        times["loop thread"].append(time.perf_counter() - start)
        start = time.perf_counter()
        jobs[0]()
        times["write"].append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(dir=ROOT) as temporary:
        folder = args.folder or Path(temporary)
        for bars in (4, 64):
            times = measure(folder, bars, args.runs)
            for name, values in times.items():
                median, worst = statistics.median(values) * 1e3, max(values) * 1e3
                results[f"{bars} bars, {name}"] = (median, worst)
                print(f"{bars:2d} bars ({bars * BAR_STEPS} notes), {name}: {median:.3f} ms median, {worst:.3f} ms max")
    return results


if __name__ == "__main__":
    main()
