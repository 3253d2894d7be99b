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


TICKS_PER_BEAT = 480  # MIDI ticks per quarter note in the files written here
MAJOR = (0, 2, 4, 5, 7, 9, 11)


def tune_notes(bar_steps: int, bars: int, low: int, seed: int) -> list[tuple[int, int, int]]:
    """A tune as (pitch, start step, end step): a seeded walk on the major scale from ``low`` in eighths and
    quarters, every bar filled to its ``bar_steps`` 16ths (an odd bar ends on a 16th)."""
    rng = np.random.default_rng(seed)
    degree, notes, at = 7, [], 0
    for _ in range(bars):
        end = at + bar_steps
        while at < end:
            length = min(int(rng.choice([2, 2, 4])), end - at)
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
            notes.append((low + 12 * (degree // 7) + MAJOR[degree % 7], at, at + length))
            at += length
    return notes


def write_tune(path: Path, numerator: int = 4, denominator: int = 4, bars: int = 8, low: int = 60, seed: int = 0,
               chords: bool = False) -> Path:
    """A real MIDI file (mido) of one tune in ``numerator/denominator``: a track named Melody with its time
    signature, and with ``chords`` a second track of held three-note chords below it."""
    import mido

    bar_steps = numerator * 16 // denominator
    step = TICKS_PER_BEAT // 4

    def track(notes, name, channel):
        events = sorted([(start * step, 1, "note_on", pitch) for pitch, start, _ in notes]
                        + [(end * step, 0, "note_off", pitch) for pitch, _, end in notes])
        messages, now = [mido.MetaMessage("track_name", name=name)], 0
        if channel == 0:
            messages += [mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator),
                         mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100))]
        for tick, _, kind, pitch in events:
            messages.append(mido.Message(kind, note=pitch, velocity=80 if kind == "note_on" else 0, channel=channel,
                                         time=tick - now))
            now = tick
        return mido.MidiTrack(messages)

    tracks = [track(tune_notes(bar_steps, bars, low, seed), "Melody", 0)]
    if chords:
        held = [(low - 24 + offset, bar * bar_steps, (bar + 1) * bar_steps) for bar in range(bars)
                for offset in (0, 4, 7)]
        tracks.append(track(held, "Chords", 1))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT, tracks=tracks).save(path)
    return path
