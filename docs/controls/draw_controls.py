"""Draw docs/controls/*.png, one piano roll per musical control: the same seed with the control at 0, 1/2
and 1, as `melodybox generate` plays it with the shipped model. Gate and accent change how the notes
are played, not which: their pictures show one melody's first bars as played (device.engine.dynamics.articulate),
in transport pulses, each note shaded by its velocity. With --measure, also print the measured effect
of each control over many seeds (the figures in docs/controls.md):

    .venv/bin/python docs/controls/draw_controls.py             # writes the six pictures
    .venv/bin/python docs/controls/draw_controls.py --measure   # and prints the measurements
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from device.assembly import open_generator  # noqa: E402
from device.core.encoding import is_note_on, tokens_to_notes  # noqa: E402
from device.core.scales import in_scale  # noqa: E402
from device.core.timegrid import PULSES_PER_STEP  # noqa: E402
from device.engine.controlstate import ControlState  # noqa: E402
from device.engine.dynamics import Dynamics, articulate  # noqa: E402
from device.render.pianoroll import (  # noqa: E402
    pitch_span,
    png_bytes,
    pulse_roll_image,
    roll_image,
    stack,
    velocity_legend,
)
from device.settings import Config, ModelConfig  # noqa: E402

BARS, BAR = 8, 16
SEED = 7
REGISTER = ControlState().register_width  # "off": every pitch
REGISTERS = [(60, 12), (76, 6)]  # (centre, width) in the register picture
C_MAJOR = in_scale(0, "major")
# Each picture: a control, its three settings (title, ControlState fields) and the flags that play them.
PICTURES = {
    "scale": [(f"scale C:major, strictness {s}", {"scale": "major", "strictness": s}) for s in (0, 0.5, 1)],
    "dejavu": [(f"deja-vu {p}, loop 2 bars", {"deja_vu": p, "loop_bars": 2}) for p in (0, 0.5, 1)],
    "density": [(f"density {d}", {"density": d}) for d in (0, 0.5, 1)],
    "register": [("register off (all pitches)", {})] + [
        (f"register {c}:{w} (centre:width)", {"register_centre": c, "register_width": w}) for c, w in REGISTERS],
}
# Articulation: one melody (the same seed, every other control off) played at each setting, in pulses.
ARTICULATION_BARS = 4  # fewer bars, two pixels a pulse: a gated end is seen within its 16th
PLAYED = {
    "gate": [("gate 1 (legato, the default)", {"gate": 1.0}), ("gate 0.5", {"gate": 0.5}),
             ("gate 0.1 (staccato)", {"gate": 0.1})],
    "accent": [(f"accent {a}, humanise 0", {"accent": a}) for a in (0, 0.5, 1)]
    + [("accent 1, humanise 1", {"accent": 1, "humanise": 1})],
}


def play(settings: dict, seed: int = SEED, steps: int = BARS * BAR) -> list[int]:
    """What `melodybox generate --seed SEED` plays with these control settings (temperature 1)."""
    config = dataclasses.replace(Config(), model=ModelConfig(path=str(ROOT / "models" / "default.tflite")))
    model, generator = open_generator(config, seed, open_on_a_note=False)  # as generate writes it
    with model:
        controls = ControlState(**settings)
        return [generator.next_token(controls) for _ in range(steps)]


def draw(name: str, out: Path) -> None:
    """One picture: the three settings of a control, one above the other, on one pitch scale."""
    takes = [(title, play(settings)) for title, settings in PICTURES[name]]
    span = pitch_span([note for _, tokens in takes for note in tokens_to_notes(tokens)])
    marked = (lambda pitch: not C_MAJOR[pitch]) if name == "scale" else None  # out-of-scale notes in orange
    rolls = [roll_image(tokens, step_px=5, pitch_px=5, title=title, pitches=span, marked=marked)
             for title, tokens in takes]
    out.write_bytes(png_bytes(stack(rolls, gap=10)))
    print(f"wrote {out.relative_to(ROOT)}")


def draw_played(name: str, out: Path) -> None:
    """One picture of articulation: the same tokens played at each setting of PLAYED[name], as
    `melodybox generate --seed SEED` writes them to its MIDI file, one roll each, under a velocity legend."""
    tokens = play({}, steps=ARTICULATION_BARS * BAR)
    velocity = Config().midi.velocity
    takes = [(title, articulate(tokens, ControlState(**settings), Dynamics(velocity, SEED, BAR)))
             for title, settings in PLAYED[name]]
    span = pitch_span([note for _, notes in takes for note in notes])
    rolls = [pulse_roll_image(notes, len(tokens) * PULSES_PER_STEP, pulse_px=2, pitch_px=6, title=title,
                              pitches=span, bar_steps=BAR) for title, notes in takes]
    out.write_bytes(png_bytes(stack([velocity_legend(), *rolls], gap=10)))
    print(f"wrote {out.relative_to(ROOT)}")


def silent_share(tokens: list[int]) -> float:
    """The share of steps during which no note sounds."""
    covered = sum(note.end - note.start for note in tokens_to_notes(tokens))
    return 1 - covered / len(tokens)


def measure(seeds: int = 10, steps: int = 256) -> None:
    """Print, as markdown rows, each control's measured effect, averaged over ``seeds`` seeds."""
    def over_seeds(settings, metric):
        return np.mean([metric(play(settings, seed, steps)) for seed in range(seeds)])

    for s in (0, 0.25, 0.5, 0.75, 1):
        share = over_seeds({"scale": "major", "strictness": s},
                           lambda t: np.mean([not C_MAJOR[p] for p in t if is_note_on(p)]))
        print(f"| strictness {s} | {100 * share:.1f} % of notes outside C major |")
    for s in (0, 1):
        notes = over_seeds({"scale": "major", "strictness": s}, lambda t: len(tokens_to_notes(t)) / (len(t) / BAR))
        silent = over_seeds({"scale": "major", "strictness": s}, silent_share)
        print(f"| strictness {s} | {notes:.2f} notes per bar, {100 * silent:.1f} % of steps silent |")
    for p in (0, 0.25, 0.5, 0.75, 0.9, 1):
        rate = over_seeds({"deja_vu": p, "loop_bars": 2},
                          lambda t: np.mean([t[i] == t[i - 2 * BAR] for i in range(2 * BAR, len(t))]))
        print(f"| deja-vu {p} | {100 * rate:.1f} % of steps repeat the step 2 bars before |")
    for d in (0, 0.25, 0.5, 0.75, 1):
        notes = over_seeds({"density": d}, lambda t: len(tokens_to_notes(t)) / (len(t) / BAR))
        print(f"| density {d} | {notes:.2f} notes per bar |")
    for w in (REGISTER, 24, 12, 6, 0):
        distance = over_seeds({"register_centre": 72, "register_width": w},
                              lambda t: np.mean([abs(p - 72) for p in t if is_note_on(p)]))
        print(f"| register 72:{w} | notes {distance:.2f} semitones from 72 on average |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="also print the measured effect of each control")
    args = parser.parse_args()
    for name in PICTURES:
        draw(name, Path(__file__).with_name(f"{name}.png"))
    for name in PLAYED:
        draw_played(name, Path(__file__).with_name(f"{name}.png"))
    if args.measure:
        measure()


if __name__ == "__main__":
    main()
