"""Harmony in the musical evaluation: how much of a melody keeps to the chords of a progression (numpy only).

For a melody played over a progression (a chord per bar of 16 steps, from its first bar; device/core/chords.py):

    chord tones on the beat   share of the notes starting on a beat (every 4th 16th) whose pitch class is a tone
                              of that bar's chord: what the box aims at at the default harmony
    chord tones off the beat  the same for the notes starting between beats
    in key                    share of all notes in the progression's key (its diatonic set)

Each is counted over all the notes of a set of melodies. The model's melodies are played with the chords
(the box's generator told each step's Harmony, at the harmony control's default unless told) and without
them (the plain model: the same figures against the same progression, which it never heard), over the
progressions the harmony's weights and default were chosen on (``TUNED``: the issue's four, then common and
modulating ones) and over ``HELD_OUT``, never played while choosing them: jazz, pop, folk, minor and blues
progressions in other keys. Whether the melodies keep their form: bar repetition
(training/musical/features.py) of each set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.core.chords import Progression, parse_progression
from device.core.encoding import tokens_to_notes
from device.core.timegrid import DEFAULT_BAR_STEPS, STEPS_PER_QUARTER
from device.engine.controlstate import ControlState
from device.engine.declaration import DEFAULTS
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import DEFAULT_TAIL_CUT, Sampler
from training.musical.features import Melody, bar_repetition

TUNED = (  # the issue's four, then those the passing tones' weight and the default were chosen on
    "Am F C G", "D G A D", "Dm7 G7 Cmaj7 A7", "Bb F Gm Eb",
    "Ebm7 Ab7 Dbmaj7:2", "Cm7 F7 Bbmaj7 Ebmaj7 Am7b5 D7 Gm:2", "Bm7b5 E7 Am:2", "E B C#m A", "Ab Fm Db Eb",
    "D A Bm F#m G D G A", "G C G D", "Em D Em D", "A:2 D A E", "Am Dm E7 Am", "Cm Fm G7 Cm", "Am G F E",
    "F7:4 Bb7:2 F7:2 C7 Bb7 F7 C7", "C Caug Am F Csus4 C G6 G7",
    "C Ab E Bb F#m", "C E7 A7 D7 G7 C", "C Eb Ab Bb", "Cmaj7 Ebmaj7 Abmaj7 Dbmaj7", "F#m D A E", "B E F# B",
    "Bmaj7 D7 Gmaj7 Bb7 Ebmaj7 Am7 D7", "C#m A E B", "Gb Db Ebm Cb",
)
HELD_OUT = (  # never played while choosing them
    "Fm7 Bb7 Ebmaj7 Cm7",  # jazz: ii-V-I-vi in Eb
    "Gm7 C7 Fmaj7 Dm7 Em7b5 A7 Dm:2",  # jazz: in F, to D minor
    "Cmaj7 A7 Dm7 G7",  # jazz: I-VI-ii-V
    "G D Em C",  # pop: in G
    "F C Dm Bb",  # pop: in F
    "Db Ab Bbm Gb",  # pop: in Db
    "D G D A",  # folk: in D
    "Am C G Am",  # folk: aeolian
    "E A B7 E",  # folk: in E
    "Dm Gm A7 Dm",  # minor: D minor with its leading tone
    "Em Am B7 Em",  # minor: E minor
    "Bbm Gbmaj7 Db Ab",  # minor: Bb minor
    "A7:4 D7:2 A7:2 E7 D7 A7 E7",  # blues: twelve bars in A
    "C C#dim Dm G7",  # a passing diminished chord
    "Dsus4 D Gsus2 G A6 D",  # sus2, sus4, 6
)


def chord_counts(tokens, progression: Progression, bar_steps: int = DEFAULT_BAR_STEPS) -> np.ndarray:
    """[notes on the beat, of them chord tones, notes off the beat, of them chord tones, notes in key] of a melody
    played over ``progression`` from its first bar."""
    key = progression.key.tones
    counts = np.zeros(5, np.int64)
    for note in tokens_to_notes(list(tokens)):
        tone = note.pitch % 12 in progression.chord_at(note.start // bar_steps).tones
        beat = note.start % bar_steps % STEPS_PER_QUARTER == 0
        counts += [beat, beat and tone, not beat, not beat and tone, note.pitch % 12 in key]
    return counts


def shares(counts: np.ndarray) -> dict:
    """The three shares of summed ``chord_counts`` (NaN where there is no note to count)."""
    on, on_tone, off, off_tone, in_key = (int(c) for c in counts)
    notes = on + off

    def share(part: int, whole: int) -> float:
        return part / whole if whole else float("nan")

    return {"chord_tones_on_beat": share(on_tone, on), "chord_tones_off_beat": share(off_tone, off),
            "in_key": share(in_key, notes), "notes": notes}


def melodies(generator: Generator, count: int, steps: int, controls: ControlState,
             progression: Progression | None) -> list[list[int]]:
    """``count`` melodies of ``steps`` tokens from ``generator``'s primed state, over ``progression`` (None: plain)."""
    played = []
    for _ in range(count):
        generator.reset()
        played.append([generator.next_token(controls, harmony=None if progression is None else
                                            progression.harmony_at(step, generator.recorder.bar_steps))
                       for step in range(steps)])
    return played


def form(played: list[list[int]], bar_steps: int = DEFAULT_BAR_STEPS) -> dict:
    """Bar repetition of melodies: the mean bars repeating an earlier bar, and the share repeating one at all."""
    repeats = np.array([bar_repetition(Melody.of(tokens, bar_steps)) for tokens in played])
    return {"bars_repeated": float(repeats.mean()), "repeat_a_bar": float(np.mean(repeats > 0))}


def harmony_report(model_path: Path, count: int, steps: int, temperature: float = 1.0, seed: int = 1,
                   runtime: str | None = None, tail_cut: float = DEFAULT_TAIL_CUT,
                   harmony: float = DEFAULTS["harmony"], progressions: dict | None = None) -> dict:
    """The model's melodies with and without chords: per progression the shares (``shares``) and form
    (``form``) of ``count`` melodies of ``steps`` steps in 4/4, and the shares over each group of progressions
    (``progressions``: {group: texts}; default TUNED and HELD_OUT)."""
    progressions = progressions or {"tuned": TUNED, "held_out": HELD_OUT}
    controls = ControlState(temperature=temperature, harmony=harmony)
    with StepModel(model_path, runtime=runtime, bar_steps=DEFAULT_BAR_STEPS) as model:
        sampler = Sampler(seed, pitch_range=model.contract.pitch_range, tail_cut=tail_cut)
        generator = Generator(model, sampler)
        plain = melodies(generator, count, steps, controls, None)
        rows, groups = {}, {}
        for group, texts in progressions.items():
            totals = {"with": np.zeros(5, np.int64), "without": np.zeros(5, np.int64)}
            for text in texts:
                progression = parse_progression(text)
                sampler.reseed(seed)
                played = melodies(generator, count, steps, controls, progression)
                counted = {"with": sum(chord_counts(m, progression) for m in played),
                           "without": sum(chord_counts(m, progression) for m in plain)}
                rows[text] = {"group": group, **{name: {**shares(c), **form(played if name == "with" else plain)}
                                                 for name, c in counted.items()}}
                for name, c in counted.items():
                    totals[name] += c
            groups[group] = {name: shares(c) for name, c in totals.items()}
    return {"settings": {"melodies": count, "steps": steps, "harmony": harmony, "temperature": temperature,
                         "seed": seed}, "progressions": rows, "groups": groups}


def format_harmony(report: dict) -> str:
    """The terminal table: per progression and per group, each figure with chords (and without them)."""
    settings = report["settings"]
    lines = [f"Over chords: {settings['melodies']} melodies of {settings['steps']} steps per progression, harmony "
             f"{settings['harmony']:g}, with the chords (and without: the same model not told them).", "",
             "| progression | chord tones on the beat | off the beat | in key | bars repeated | repeat a bar |",
             "|---|---|---|---|---|---|"]

    def pair(row: dict, name: str, form: str) -> str:
        return f"{row['with'][name]:{form}} ({row['without'][name]:{form}})"

    for text, row in report["progressions"].items():
        lines.append(f"| {text} ({row['group']}) | " + " | ".join(
            pair(row, name, form) for name, form in (("chord_tones_on_beat", ".0%"), ("chord_tones_off_beat", ".0%"),
                                                     ("in_key", ".0%"), ("bars_repeated", ".1f"),
                                                     ("repeat_a_bar", ".0%"))) + " |")
    for group, row in report["groups"].items():
        lines.append(f"| all {group} | " + " | ".join(
            pair(row, name, ".0%") for name in ("chord_tones_on_beat", "chord_tones_off_beat", "in_key")) + " | | |")
    return "\n".join(lines)
