"""The generator: a step model plus a sampler, one token per call. No I/O and no time here.

A primer melody is read from MIDI by ``device.midireader.primer_from_midi`` (also importable from here,
with ``PrimerError``, for the CLI and the runner).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from device import encoding
from device.controlstate import ControlState
from device.midireader import PrimerError, primer_from_midi  # noqa: F401 - re-exported for cli.py and runner.py
from device.sampling import Sampler


class Generator:
    """Steps ``model`` (a device.model.StepModel or anything with step/reset/get_state/set_state).

    On construction it feeds START_TOKEN then ``primer`` (tokens 0..129) to warm
    the state, and keeps that primed state so ``reset()`` can return to it exactly.
    """

    def __init__(self, model, sampler: Sampler, primer: Sequence[int] = ()):
        self.model = model
        self.sampler = sampler
        self.primer = [encoding.check_token(t) for t in primer]
        model.reset()
        logits = model.step(encoding.START_TOKEN)
        for token in self.primer:
            logits = model.step(token)
        self._primed_state = model.get_state()
        self._primed_logits = np.array(logits, copy=True)
        self._logits = self._primed_logits.copy()

    @property
    def logits(self) -> np.ndarray:
        """A copy of the logits the next token will be sampled from (float32, [130])."""
        return self._logits.copy()

    def next_token(self, controls: ControlState) -> int:
        """Sample the next token under ``controls`` and feed it back into the model."""
        token = self.sampler.sample(self._logits, controls)
        self._logits = self.model.step(token)
        return token

    def reset(self) -> None:
        """Return to the primed state exactly (the sampler's random stream is not rewound)."""
        self.model.set_state(self._primed_state)
        self._logits = self._primed_logits.copy()
