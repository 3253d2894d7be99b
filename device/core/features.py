"""The model's inputs beyond the last token, computed here once for training and for the box (numpy only).

As in Magenta's lookback RNN, the model gets, with each token it is fed, where the step it is about to
predict lies in the bar and what was played one, two, four and eight bars before that step (folk tunes
repeat whole phrases, so the note to predict is often one of those; how often in the folk corpus:
models/README.md). Training
computes the features of whole melodies at once (``melody_features``); the box computes them step by step
from its own history (``FeatureTracker``). Both follow the rules below; a test checks that they agree token
for token.

Steps and bars: the model is fed the token of step p and predicts step p+1. A bar has ``bar_steps`` steps
(16 in 4/4); ``bar_step`` (0..bar_steps-1) is a step's position in its bar, 0 on the bar line. The
features fed with the token of step p describe the predicted step p+1:

    lookback      int32   [4]  tokens of steps p+1-k*bar_steps for k = 1, 2, 4, 8; NONE (130) before the melody
    bar_position  float32 [5]  bar_step of p+1 as 5 binary digits, least significant first, -1/+1 (bars <= 32 steps)
    repeats       float32 [4]  1.0 where the token of step p equals the token k = 1, 2, 4, 8 bars before it, else 0.0

START_TOKEN, fed first, occupies no step: its features describe the melody's first step (no lookback,
no repeats), and the first melody token is fed at that same bar step.
"""

from __future__ import annotations

import numpy as np

from device.core import encoding
from device.core.timegrid import DEFAULT_BAR_STEPS

NONE = encoding.VOCAB_SIZE  # lookback before the melody began (the lookback vocabulary is tokens + NONE)
LOOKBACK_VOCAB = encoding.VOCAB_SIZE + 1
LOOKBACK_BARS = (1, 2, 4, 8)
POSITION_BITS = 5
MAX_BAR_STEPS = 2 ** POSITION_BITS

_BARS_LISTED = ", ".join(map(str, LOOKBACK_BARS))  # "1, 2, 4, 8"
_BARS_SAID = _BARS_LISTED.rpartition(", ")[0] + f" and {LOOKBACK_BARS[-1]}"  # "1, 2, 4 and 8"

# Every input a step model may have: name -> (shape per step, dtype, what it holds). The contract names these.
INPUTS = {
    "token": ((1,), "int32", "the token of the step fed (0..129), START_TOKEN first"),
    "lookback": ((len(LOOKBACK_BARS),), "int32", f"tokens {_BARS_SAID} bars before the predicted step; 130 = none"),
    "bar_position": ((POSITION_BITS,), "float32", "bar step of the predicted step, 5 binary digits (LSB first), -1/+1"),
    "repeats": ((len(LOOKBACK_BARS),), "float32",
                f"1.0 where the fed token equals the token {_BARS_LISTED} bars before it"),
}
FEATURES = ("lookback", "bar_position", "repeats")  # the inputs beyond the token, in this order


def check_bar_steps(bar_steps: int) -> int:
    """``bar_steps`` as int if it is 1..MAX_BAR_STEPS, else ValueError."""
    if not 1 <= int(bar_steps) <= MAX_BAR_STEPS:
        raise ValueError(f"bar_steps {bar_steps} is outside 1..{MAX_BAR_STEPS}")
    return int(bar_steps)


def position_code(bar_steps: np.ndarray | int) -> np.ndarray:
    """Bar steps (any shape, 0..31) -> float32 [..., POSITION_BITS] of -1/+1 binary digits, least significant first."""
    bits = (np.asarray(bar_steps, np.int64)[..., None] >> np.arange(POSITION_BITS)) & 1
    return (bits * 2 - 1).astype(np.float32)


def melody_features(melody: np.ndarray, bar_steps: int = DEFAULT_BAR_STEPS, bar_offset: int = 0) -> dict:
    """Features for the model inputs ``[START] + melody[:-1]``: one row per predicted step 0..n-1.

    ``bar_offset``: bar step of the melody's first step. Returns {name: array [n, ...]} for FEATURES.
    """
    bar_steps = check_bar_steps(bar_steps)
    melody = np.asarray(melody, np.int32)
    n, depth = len(melody), bar_steps * max(LOOKBACK_BARS)
    padded = np.concatenate([np.full(depth, NONE, np.int32), melody])
    steps = np.arange(n)
    lookback = np.stack([padded[depth + steps - k * bar_steps] for k in LOOKBACK_BARS], axis=1)
    fed = np.concatenate([[NONE], melody[:-1]]) if n else melody  # NONE stands for START: it repeats nothing
    repeats = np.stack([(steps >= 1) & (steps - 1 - k * bar_steps >= 0)
                        & (fed == padded[np.maximum(depth + steps - 1 - k * bar_steps, 0)])
                        for k in LOOKBACK_BARS], axis=1)
    return {"lookback": lookback.astype(np.int32),
            "bar_position": position_code((bar_offset + steps) % bar_steps),
            "repeats": repeats.astype(np.float32)}


class FeatureTracker:
    """The box's side of ``melody_features``: the features of each fed token, from a history of the tokens fed.

    Its state (``get_state``/``set_state``) is two int32 arrays: the last 8*bar_steps+1 tokens (NONE where
    nothing was fed), and [bar step of the next token, tokens fed since reset (at most 2)].
    """

    def __init__(self, bar_steps: int = DEFAULT_BAR_STEPS):
        self.bar_steps = check_bar_steps(bar_steps)
        self.reset()

    def reset(self) -> None:
        """Forget the history; the next token is the melody's START_TOKEN, at bar step 0 unless told."""
        self._history = np.full(self.bar_steps * max(LOOKBACK_BARS) + 1, NONE, np.int32)
        self._counters = np.zeros(2, np.int32)

    def features(self, token: int, bar_step: int | None = None) -> dict:
        """Record ``token`` (fed at ``bar_step``, 0..bar_steps-1; None: one step after the last) and return its
        features: {name: array [1, ...]} for FEATURES (the shapes the step model takes)."""
        if bar_step is None:
            bar_step = int(self._counters[0])
        elif not 0 <= bar_step < self.bar_steps:
            raise ValueError(f"bar_step {bar_step} is outside 0..{self.bar_steps - 1}")
        history, first = self._history, self._counters[1] == 0
        if first:  # START_TOKEN: occupies no step, predicts the melody's first step at bar_step
            predicted = bar_step
        else:
            history[:-1], history[-1] = history[1:].copy(), token
            predicted = (bar_step + 1) % self.bar_steps
        top = len(history) - 1  # index of the step just fed
        lookback = [history[top + 1 - k * self.bar_steps] for k in LOOKBACK_BARS]
        repeats = [0.0 if first else float(history[top - k * self.bar_steps] == token) for k in LOOKBACK_BARS]
        self._counters[:] = predicted, min(2, int(self._counters[1]) + 1)
        return {"lookback": np.array([lookback], np.int32),
                "bar_position": position_code(predicted)[None],
                "repeats": np.array([repeats], np.float32)}

    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        """A copy of the history and the counters."""
        return self._history.copy(), self._counters.copy()

    def set_state(self, state) -> None:
        """Restore a state from get_state(); ValueError for the wrong shapes."""
        history, counters = (np.asarray(a, np.int32) for a in state)
        if history.shape != self._history.shape or counters.shape != (2,):
            raise ValueError(f"feature state shapes {list(history.shape)}, {list(counters.shape)} differ from "
                             f"{list(self._history.shape)}, [2] (bar_steps {self.bar_steps})")
        self._history, self._counters = history.copy(), counters.copy()
