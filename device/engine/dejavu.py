"""Déjà-vu: the last bars the generator played, recorded step by step so that they can be replayed.

As in Marbles' déjà-vu (a loop of random draws replayed with a probability), each step is recorded
with what chose it: the model's state before the step, the logits, the uniform draw and the token.
The generator (device/engine/generator.py) asks for the take one loop ago and decides, with the knob's
probability, to replay its draw or to draw anew; this module only remembers. numpy only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from device.core.timegrid import DEFAULT_BAR_STEPS

LOOP_BARS = (1, 2, 4, 8)  # the loop lengths a musician can choose, in bars


@dataclass(frozen=True)
class Take:
    """One recorded step. ``state``: the model's get_state() before the step; ``logits``: what the token
    was chosen from; ``draw``: the uniform draw 0..1 that chose it (None: chosen greedily, no draw);
    ``notes_only``: it was chosen among the note-ons only (a melody's opening note), as a replay is too."""

    state: tuple[np.ndarray, ...]
    logits: np.ndarray
    draw: float | None
    token: int
    notes_only: bool = False


def check_loop_bars(loop_bars: int) -> int:
    """``loop_bars`` if it is one of LOOP_BARS, else ValueError."""
    if loop_bars not in LOOP_BARS:
        raise ValueError(f"loop_bars must be one of {', '.join(map(str, LOOP_BARS))}, got {loop_bars!r}")
    return int(loop_bars)


class Recorder:
    """The last ``max(LOOP_BARS) * bar_steps`` takes, oldest first, so every loop length is at hand."""

    def __init__(self, bar_steps: int = DEFAULT_BAR_STEPS):
        self.bar_steps = int(bar_steps)
        self._takes: deque[Take] = deque(maxlen=max(LOOP_BARS) * self.bar_steps)

    def loop_steps(self, loop_bars: int) -> int:
        """The loop's length in steps."""
        return check_loop_bars(loop_bars) * self.bar_steps

    def record(self, take: Take) -> None:
        self._takes.append(take)

    def replace_last(self, take: Take) -> None:
        """Put ``take`` in place of the last one recorded (its token was chosen again: Generator.revise)."""
        self._takes[-1] = take

    @property
    def last(self) -> Take | None:
        """The take recorded last; None when there is none."""
        return self._takes[-1] if self._takes else None

    def clear(self) -> None:
        """Forget everything (after a reset the loop starts anew)."""
        self._takes.clear()

    def one_loop_ago(self, loop_steps: int) -> Take | None:
        """The take ``loop_steps`` steps before the step about to be played; None until that many were recorded."""
        if not 0 < loop_steps <= len(self._takes):
            return None
        return self._takes[-loop_steps]

    def __len__(self) -> int:
        return len(self._takes)
