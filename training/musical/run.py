"""The sets a musical evaluation compares: melodies from the box's generator, the n-gram and the corpus.

The model's melodies come from the code the box runs: device.engine.model.StepModel and
device.engine.generator.Generator with its Sampler (the box's tail cut unless told), reset to the primed state
(no primer) before each melody,
at a fixed temperature. Each is played in a metre drawn from the reference melodies' (the box's
``music.bar_steps``), so jigs are compared with jigs (the folk corpus's metres: training/corpus/README.md,
"What it holds").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.core.timegrid import DEFAULT_BAR_STEPS
from device.engine.controlstate import ControlState
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import DEFAULT_TAIL_CUT, Sampler
from training.musical.compare import compare_sets, cut, generate, sample_ngram
from training.musical.features import Melody
from training.musical.harmony import harmony_report

HARMONY_MIN_MELODIES = 4  # per progression; with --musical N, N // 8 if more

DEFAULT_STEPS = 16 * DEFAULT_BAR_STEPS  # 16 bars of 4/4
MIN_REFERENCE = 2  # melodies: fewer give no distribution to compare with


def musical_steps(lengths: list[int], requested: int | None = None) -> tuple[int, str]:
    """How many steps each compared melody has, and a note when it is not what was asked for.

    ``requested`` (--steps) when given; else DEFAULT_STEPS when at least MIN_REFERENCE reference melodies (of
    ``lengths`` steps) are that long; else the most whole 4/4 bars that at least half of them (and at least
    MIN_REFERENCE) reach. ValueError when too few melodies are a bar long.
    """
    if requested:
        return requested, ""
    if sum(n >= DEFAULT_STEPS for n in lengths) >= MIN_REFERENCE:
        return DEFAULT_STEPS, ""
    needed = max(MIN_REFERENCE, -(-len(lengths) // 2))
    reached = sorted(lengths, reverse=True)[needed - 1] if len(lengths) >= needed else 0
    steps = reached // DEFAULT_BAR_STEPS * DEFAULT_BAR_STEPS
    if steps < DEFAULT_BAR_STEPS:
        raise ValueError(f"the musical evaluation needs at least {MIN_REFERENCE} reference melodies of a bar or more "
                         f"({DEFAULT_BAR_STEPS} steps); these {len(lengths)} are too few or too short")
    return steps, (f"Compared on {steps} steps ({steps // DEFAULT_BAR_STEPS} bars of 4/4), as long as {needed} of the "
                   f"{len(lengths)} reference melodies are; the default {DEFAULT_STEPS} is longer than they are.")


def box_controls(temperature: float):
    """What Generator.next_token takes at ``temperature``: a ControlState."""
    return ControlState(temperature=temperature)


def drawn_bar_steps(reference_metres, count: int, seed: int) -> list[int]:
    """Bar lengths (16th steps) for ``count`` melodies, drawn with ``seed`` from the (bar_steps, bar_offset)
    of the reference melodies: each metre as often as the reference has it, up to chance."""
    bars = [int(bar) for bar, _ in reference_metres]
    return [int(b) for b in np.random.default_rng(seed).choice(bars, count)]


def box_melodies(model_path: Path, count: int, steps: int, temperature: float, seed: int,
                 runtime: str | None = None, bar_steps: list[int] | None = None,
                 tail_cut: float = DEFAULT_TAIL_CUT, open_on_a_note: bool = False) -> list[np.ndarray]:
    """``count`` melodies of ``steps`` tokens played by the box's generator from ``model_path``.

    ``bar_steps``: the bar length each melody is played in (a list of ``count``; None: all in 4/4).
    ``tail_cut``: the sampler's (device.engine.sampling; 0 draws from the whole distribution).
    ``open_on_a_note``: as the live box opens (engine/generator.py); by default the model's own opening, as the
    real tunes they are compared with have theirs."""
    bar_steps = list(bar_steps or [DEFAULT_BAR_STEPS] * count)
    if len(bar_steps) != count:
        raise ValueError(f"{len(bar_steps)} bar lengths for {count} melodies")
    sampler, melodies = Sampler(seed, tail_cut=tail_cut), [np.zeros(0, np.int64)] * count
    for bar in sorted(set(bar_steps)):
        played_in = [i for i, b in enumerate(bar_steps) if b == bar]
        with StepModel(model_path, runtime=runtime, bar_steps=bar) as model:
            played = generate(Generator(model, sampler, open_on_a_note=open_on_a_note), len(played_in), steps,
                              box_controls(temperature))
        for i, melody in zip(played_in, played, strict=True):
            melodies[i] = melody
    return melodies


def musical_report(model_path: Path, melodies, melody_metres, train, train_metres, ngram, count: int, steps: int,
                   temperature: float, seed: int, runtime: str | None = None,
                   tail_cut: float = DEFAULT_TAIL_CUT) -> dict:
    """compare_sets of the model's, the n-gram's and ``count`` training melodies against the reference.

    Reference: every melody of ``melodies`` at least ``steps`` long, cut to ``steps`` (with its metre). The
    model plays each melody in a bar length drawn from the reference's, from the bar line; the n-gram's melodies
    are measured in the same bar lengths. Without ``train`` (and ``ngram``) only the model's row is made.
    """
    cut_reference = cut(melodies, steps, melody_metres)
    reference = [Melody.of(m, *metre) for m, metre in cut_reference]
    if len(reference) < 2:
        raise ValueError(f"only {len(reference)} reference melodies have {steps} steps or more: lower --steps")
    bars = drawn_bar_steps([metre for _, metre in cut_reference], count, seed)
    played = box_melodies(model_path, count, steps, temperature, seed, runtime, bars, tail_cut)
    sets = {"model": [Melody.of(m, bar) for m, bar in zip(played, bars, strict=True)]}
    if ngram is not None:
        sampled = sample_ngram(ngram, count, steps, temperature, seed, tail_cut)
        sets["ngram"] = [Melody.of(m, bar) for m, bar in zip(sampled, bars, strict=True)]
    if train:
        long_enough = cut(train, steps, train_metres)
        picked = np.random.default_rng(seed).choice(len(long_enough), min(count, len(long_enough)), replace=False)
        sets["real"] = [Melody.of(long_enough[i][0], *long_enough[i][1]) for i in sorted(picked)]
    report = compare_sets(reference, sets)
    report["harmony"] = harmony_report(model_path, max(HARMONY_MIN_MELODIES, count // 8), steps, temperature, seed,
                                       runtime, tail_cut)  # with and without chords (training/musical/harmony.py)
    report["settings"] = {"melodies": count, "steps": steps, "temperature": temperature, "seed": seed,
                          "tail_cut": tail_cut,
                          "reference_melodies": len(reference),
                          "bar_steps": {str(b): bars.count(b) for b in sorted(set(bars))}}
    return report
