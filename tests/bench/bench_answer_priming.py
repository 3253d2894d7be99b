"""Call and response: prime the model with the call from its reset state, or from the state it is in?

    python -m tests.bench.bench_answer_priming [--tunes 200] [--model models/default.tflite]

For folk tunes of the bundled corpus, the first two bars are the call and the next two the answer a
musician would give (the tune's own continuation). The measure is how likely the model finds that
continuation (negative log-likelihood, nats per step, lower is better) after hearing the call
- from the reset state (what device/play/answer.py does), or
- from the state after the box played 256 or 1024 steps of its own (seeded, temperature 1).
Prints one line per condition and how often the reset state wins, tune by tune.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from device.engine.controlstate import ControlState
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler

ROOT = Path(__file__).resolve().parents[2]
BARS = 32  # two 4/4 bars of 16th steps


def tunes_from_corpus(count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` random tunes of at least four bars from training/corpus/folk.npz (tokens from a bar line)."""
    data = np.load(ROOT / "training" / "corpus" / "folk.npz")
    tokens, offsets = data["tokens"], data["offsets"]
    order = np.random.default_rng(seed).permutation(len(offsets) - 1)
    tunes = (tokens[offsets[i]:offsets[i + 1]].astype(int) for i in order)
    return [tune for tune, _ in zip((t for t in tunes if len(t) >= 2 * BARS), range(count), strict=False)]


def continuation_nll(generator: Generator, continuation: np.ndarray) -> float:
    """Mean negative log-likelihood (nats per step) of ``continuation`` from the generator's state, fed as heard."""
    total = 0.0
    for token in continuation:
        logits = generator.logits.astype(np.float64)
        top = logits.max()
        total += np.log(np.exp(logits - top).sum()) + top - logits[token]
        generator.prime([int(token)])
    return total / len(continuation)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default.tflite")
    args = parser.parse_args(argv)
    model = StepModel(args.model)
    generator = Generator(model, Sampler(seed=1, pitch_range=model.contract.pitch_range))
    results: dict[str, list[float]] = {"reset": [], "after 256 steps": [], "after 1024 steps": []}
    for tune in tunes_from_corpus(args.tunes):
        for name, played in (("reset", 0), ("after 256 steps", 256), ("after 1024 steps", 1024)):
            generator.reset()
            for _ in range(played):
                generator.next_token(ControlState(1.0))
            generator.prime(tune[:BARS], bar_step=0)
            results[name].append(continuation_nll(generator, tune[BARS:2 * BARS]))
    summary = {}
    for name, values in results.items():
        array = np.array(values)
        summary[name] = {"nll_mean": float(array.mean()), "sem": float(array.std() / np.sqrt(len(array)))}
        print(f"{name:<17} NLL of bars 3-4 after bars 1-2: {array.mean():.3f} nats/step "
              f"(± {summary[name]['sem']:.3f}), {len(array)} tunes")
    wins = float(np.mean(np.array(results["reset"]) < np.array(results["after 256 steps"])))
    print(f"the reset state predicts the continuation better in {wins:.1%} of the tunes (against 256 steps)")
    summary["reset_wins"] = wins
    return summary


if __name__ == "__main__":
    main()
