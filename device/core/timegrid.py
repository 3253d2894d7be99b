"""The time grid: 16th-note steps, MIDI clock pulses and bars, and how long they last at a tempo.

One token per 16th-note step; MIDI clock has 24 pulses per quarter note, so a step is 6 pulses.
A bar is ``bar_steps`` steps (16 for 4/4, 12 for 3/4 or 6/8); the box and the trainer default to 4/4.
Every module that counts steps, pulses or bars takes these from here.
"""

from __future__ import annotations

import math

STEPS_PER_QUARTER = 4  # 16th-note steps per quarter note (the beat)
PULSES_PER_QUARTER = 24  # MIDI clock
PULSES_PER_STEP = PULSES_PER_QUARTER // STEPS_PER_QUARTER  # 6: a 16th note
DEFAULT_BAR_STEPS = 4 * STEPS_PER_QUARTER  # 16: a 4/4 bar


def step_seconds(bpm: float) -> float:
    """Seconds per 16th-note step at ``bpm`` quarter notes per minute (> 0)."""
    if not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"bpm must be a positive number, got {bpm}")
    return 60.0 / bpm / STEPS_PER_QUARTER


def pulse_seconds(bpm: float) -> float:
    """Seconds per MIDI clock pulse at ``bpm`` quarter notes per minute (> 0)."""
    return step_seconds(bpm) / PULSES_PER_STEP


def time_signature(bar_steps: int) -> tuple[int, int]:
    """(numerator, denominator) of a bar of ``bar_steps`` 16ths: 16 -> 4/4, 12 -> 3/4, 6 -> 3/8, 5 -> 5/16."""
    for denominator, steps in ((4, 4), (8, 2)):
        if bar_steps % steps == 0:
            return bar_steps // steps, denominator
    return bar_steps, 16
