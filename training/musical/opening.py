"""How silent a melody's start is: the share of silent 16th steps overall and in the first bar, for the box's
melodies and for real tunes.

A step is silent when no note sounds on it: before the first note-on, and from a note-off to the next note-on.
The box's melodies come from its own generator (training.musical.run.box_melodies: the shipped model, the box's
sampler and tail cut, reset to the primed state without a primer before each melody: a power-on or a reset), in
4/4; the real tunes are the corpus's (training/corpus/folk.npz), each cut to the same length from its first step.

    python -m training.musical.opening [--melodies 200] [--bars 16] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from device.core import encoding
from device.core.contract import SHIPPED_MODEL
from device.core.timegrid import DEFAULT_BAR_STEPS
from training.data.dataset import load_melodies
from training.musical.run import box_melodies

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "folk.npz"


def silent_steps(tokens) -> np.ndarray:
    """True for each step of ``tokens`` on which no note sounds."""
    silent, sounding = [], False
    for token in tokens:
        if token != encoding.NO_EVENT:
            sounding = encoding.is_note_on(int(token))
        silent.append(not sounding)
    return np.array(silent, dtype=bool)


def silence(melodies, bar_steps: int = DEFAULT_BAR_STEPS) -> dict[str, float]:
    """Shares 0..1: "overall", the silent steps of all ``melodies``; "first_bar", of their first ``bar_steps``
    steps; "after_first_note", of the steps from each melody's first note-on on (the leading rests left out);
    "opens_silent", the melodies whose first step is silent."""
    masks = [silent_steps(m) for m in melodies]
    return {"overall": float(np.mean(np.concatenate(masks))),
            "first_bar": float(np.mean(np.concatenate([m[:bar_steps] for m in masks]))),
            "after_first_note": float(np.mean(np.concatenate([m[np.argmin(m):] for m in masks if not m.all()]))),
            "opens_silent": float(np.mean([m[0] for m in masks]))}


def corpus_melodies(steps: int, path: Path = CORPUS) -> list[np.ndarray]:
    """The corpus's melodies at least ``steps`` long, each cut to its first ``steps`` steps."""
    return [np.asarray(m[:steps]) for m in load_melodies(path).melodies if len(m) >= steps]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.musical.opening", description=__doc__.split("\n\n")[0])
    parser.add_argument("--melodies", type=int, default=200, metavar="N", help="the box's melodies (default 200)")
    parser.add_argument("--bars", type=int, default=16, metavar="N", help="bars of 4/4 per melody (default 16)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="the sampler's seed (default 0)")
    parser.add_argument("--model", default=SHIPPED_MODEL, metavar="FILE", help="the .tflite (default: the shipped)")
    args = parser.parse_args(argv)
    steps = args.bars * DEFAULT_BAR_STEPS
    rows = {"the box": box_melodies(Path(args.model), args.melodies, steps, 1.0, args.seed, open_on_a_note=True),
            "a file": box_melodies(Path(args.model), args.melodies, steps, 1.0, args.seed),  # generate's opening
            "folk tunes": corpus_melodies(steps)}
    print(f"silent 16th steps in melodies of {args.bars} bars of 4/4 ({steps} steps)")
    for name, melodies in rows.items():
        shares = silence(melodies)
        print(f"  {name:10} {len(melodies):5d} melodies: {shares['overall']:6.1%} overall, "
              f"{shares['first_bar']:6.1%} in the first bar, {shares['after_first_note']:6.1%} from the first note on; "
              f"{shares['opens_silent']:6.1%} open with a silent step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
