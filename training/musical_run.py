"""The sets a musical evaluation compares: melodies from the box's generator, the n-gram and the corpus.

The model's melodies come from the code the box runs: device.model.StepModel and device.generator.Generator
with its Sampler, reset to the primed state (no primer) before each melody, at a fixed temperature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.musical_eval import compare_sets, cut, generate, sample_ngram
from training.musical_features import Melody


def box_controls(temperature: float):
    """What Generator.next_token takes at ``temperature``: a ControlState."""
    from device.controlstate import ControlState

    return ControlState(temperature=temperature)


def box_melodies(model_path: Path, count: int, steps: int, temperature: float, seed: int,
                 runtime: str | None = None) -> list[np.ndarray]:
    """``count`` melodies of ``steps`` tokens played by the box's generator from ``model_path``."""
    from device.generator import Generator
    from device.model import StepModel
    from device.sampling import Sampler

    with StepModel(model_path, runtime=runtime) as model:
        return generate(Generator(model, Sampler(seed)), count, steps, box_controls(temperature))


def musical_report(model_path: Path, melodies, melody_metres, train, train_metres, ngram, count: int, steps: int,
                   temperature: float, seed: int, runtime: str | None = None) -> dict:
    """compare_sets of the model's, the n-gram's and ``count`` training melodies against the reference.

    Reference: every melody of ``melodies`` at least ``steps`` long, cut to ``steps`` (with its metre).
    Without ``train`` (and ``ngram``) only the model's row is made.
    """
    reference = [Melody.of(m, *metre) for m, metre in cut(melodies, steps, melody_metres)]
    if len(reference) < 2:
        raise ValueError(f"only {len(reference)} reference melodies have {steps} steps or more: lower --steps")
    sets = {"model": [Melody.of(m) for m in box_melodies(model_path, count, steps, temperature, seed, runtime)]}
    if ngram is not None:
        sets["ngram"] = [Melody.of(m) for m in sample_ngram(ngram, count, steps, temperature, seed)]
    if train:
        long_enough = cut(train, steps, train_metres)
        picked = np.random.default_rng(seed).choice(len(long_enough), min(count, len(long_enough)), replace=False)
        sets["real"] = [Melody.of(long_enough[i][0], *long_enough[i][1]) for i in sorted(picked)]
    report = compare_sets(reference, sets)
    report["settings"] = {"melodies": count, "steps": steps, "temperature": temperature, "seed": seed,
                          "reference_melodies": len(reference)}
    return report
