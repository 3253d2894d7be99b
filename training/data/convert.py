"""Finding MIDI files and converting many of them, in parallel, each bounded in time (the engine of ``prepare``).

Inputs are sorted and results kept in input order, so the output does not depend on the number of workers.
Per-file work is bounded (bytes, steps, seconds; see training.data.midi_melody.Settings); the parallel path also
gives up on a worker that overruns its time and restarts the pool.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

from tqdm import tqdm

from training.data.midi_melody import FileResult, Settings, convert_file

MIDI_SUFFIXES = (".mid", ".midi", ".kar")


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
