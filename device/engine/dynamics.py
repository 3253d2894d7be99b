"""Articulation: when each step plays (its onset), how loud a note starts (accents, humanise) and when it ends
within its last 16th (gate). The loop and ``melodybox generate`` both time and shape notes here.

Onset: a step's token plays on the step's first pulse of the transport (24 per quarter, 6 per 16th),
plus ``onset_pulses``: swing delays every second 16th. The loop and ``articulate`` take a step's length
as the pulses from its onset to the next step's.

Velocity: at ``accent`` 0 every note has the configured velocity (midi.velocity), exactly.
Above 0, a note's velocity follows where it starts in the bar: the bar's first 16th is the
strongest, then the other quarter beats, then the 8th off-beats, and the 16ths in between
are the weakest; at accent 1 they lie ``ACCENT_RANGE`` velocity units apart, centred on the
configured velocity. ``humanise`` adds a random offset of up to +-``HUMANISE_RANGE`` units
(times the knob), drawn from its own seeded generator, so the melody itself never changes.

Gate: the box learns that a note ends only one step ahead (it computes each token one step
before it plays), so the gate acts on a note's last 16th: ``gate`` 1 is legato (the note
sounds until the next note or rest starts, as without a gate), lower values end it earlier
within that 16th, down to one pulse of the transport at 0.
The note-off always goes out on a later pulse than its note-on and before the next note-on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from device.core.encoding import NO_EVENT, is_note_on
from device.core.timegrid import DEFAULT_BAR_STEPS, PULSES_PER_STEP, STEPS_PER_QUARTER
from device.engine.controlstate import ControlState

ACCENT_RANGE = 40  # velocity units from the weakest 16th to the bar's first 16th at accent 1
HUMANISE_RANGE = 12  # velocity units: at humanise 1 a note moves by up to +- this much


@dataclass
class PulseNote:
    """One note as played: ``start`` and ``end`` in transport pulses (end None: still sounding)."""

    pitch: int
    velocity: int
    start: int
    end: int | None = None


def onset_pulses(step: int, state: ControlState) -> int:
    """Pulses after step ``step``'s first pulse at which its token plays under ``state`` (0 .. 3).

    Swing, as on an MPC: every second 16th (an odd step) plays up to half a 16th late, ``swing`` 0 straight ..
    1 three pulses late (MPC 75 %); on the transport's own pulses, so the steps in between 0, 1/3, 2/3 and
    all of it (58 %, 67 % the triplet feel, 75 %) round to the nearest pulse, and a followed clock stays the grid."""
    if step % 2 == 0:
        return 0
    return int(state.swing * (PULSES_PER_STEP // 2) + 0.5)


def onset(step: int, state: ControlState) -> int:
    """The transport pulse on which step ``step``'s token plays under ``state``."""
    return step * PULSES_PER_STEP + onset_pulses(step, state)


def beat_weight(position: int) -> float:
    """How strong a 16th ``position`` in the bar (0 = its first) is: 1 bar start, 2/3 quarter beat,
    1/3 8th off-beat, 0 the 16ths between."""
    if position == 0:
        return 1.0
    if position % STEPS_PER_QUARTER == 0:
        return 2 / 3
    return 1 / 3 if position % 2 == 0 else 0.0


def gate_pulses(gate: float, length: int = PULSES_PER_STEP) -> int:
    """Pulses of a note's last 16th, ``length`` pulses long, that sound at ``gate`` (0..1): 1 at 0 .. ``length``
    (legato) at 1."""
    gate = min(1.0, max(0.0, gate))
    return 1 + int(gate * (length - 1) + 0.5)


class Dynamics:
    """Velocities for note-ons. ``velocity``: the configured one (1..127); ``seed``: humanise's random
    generator (None: not reproducible); ``bar_steps``: 16ths per bar (the accent pattern repeats per bar)."""

    def __init__(self, velocity: int = 100, seed: int | None = None, bar_steps: int = DEFAULT_BAR_STEPS):
        if not 1 <= velocity <= 127:
            raise ValueError(f"velocity must be 1..127, got {velocity}")
        self.base = velocity
        self.bar_steps = bar_steps
        self._random = random.Random(seed)

    def velocity(self, step: int, state: ControlState) -> int:
        """The velocity (1..127) of a note starting at transport step ``step`` under ``state``."""
        value = self.base + state.accent * ACCENT_RANGE * (beat_weight(step % self.bar_steps) - 0.5)
        if state.humanise > 0:
            value += self._random.uniform(-1.0, 1.0) * state.humanise * HUMANISE_RANGE
        return max(1, min(127, round(value)))


def articulate(tokens, state: ControlState, dynamics: Dynamics) -> list[PulseNote]:
    """The notes the box plays for ``tokens`` (one a step from step 0) under a fixed ``state``, in transport
    pulses: the loop's onsets, velocities and gates, for offline files (``melodybox generate``). A note still
    sounding after the last token ends with it."""
    notes: list[PulseNote] = []
    previous = 0  # the previous step's onset: the start of a note's last 16th
    for step, token in enumerate(tokens):
        start = onset(step, state)
        if token != NO_EVENT and notes and notes[-1].end is None:
            notes[-1].end = previous + gate_pulses(state.gate, start - previous)
        if is_note_on(token):
            notes.append(PulseNote(token, dynamics.velocity(step, state), start))
        previous = start
    if notes and notes[-1].end is None:
        notes[-1].end = len(tokens) * PULSES_PER_STEP
    return notes
