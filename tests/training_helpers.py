"""A learnable synthetic corpus and a tiny trained run, shared by the training tests (module-scoped fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.core.encoding import NO_EVENT, NOTE_OFF
from training.data.dataset import MelodySet, save_melodies

SCALE = (0, 2, 4, 5, 7, 9, 11, 12)


def scale_melody(root: int, descending: bool, repeats: int = 3) -> np.ndarray:
    """A major scale from ``root`` in eighth notes (note, hold), a rest, repeated ``repeats`` times."""
    steps = SCALE[::-1] if descending else SCALE
    tokens = []
    for _ in range(repeats):
        for step in steps:
            tokens += [root + step, NO_EVENT]
        tokens += [NOTE_OFF, NO_EVENT]
    return np.array(tokens, np.int16)


def write_scales(path: Path, count: int = 60, seed: int = 0) -> Path:
    """A prepared .npz of ``count`` scales with random roots 55..69 and directions."""
    rng = np.random.default_rng(seed)
    melodies = [scale_melody(int(rng.integers(55, 70)), bool(rng.random() < 0.5)) for _ in range(count)]
    save_melodies(path, MelodySet(melodies, [f"scale{i}" for i in range(count)]))
    return path


def tiny_run(folder: Path, epochs: int = 5) -> Path:
    """Create and train a tiny run (2 x 32 units) on the scales; returns the run folder."""
    from training.fit.create import create_run
    from training.fit.model import ModelShape
    from training.fit.runs import TrainConfig
    from training.fit.session import fit

    data = write_scales(folder / "scales.npz")
    run = folder / "run"
    model = ModelShape(embedding=16, layers=2, units=32, dropout=0.0)
    train = TrainConfig(data=(str(data),), seed=3, validation_fraction=0.2, window=32, stride=16, batch_size=16,
                        epochs=epochs, learning_rate=3e-2, patience=10, max_transpose=2)
    create_run(run, model, train, "test")
    fit(run, verbose=0)
    return run
