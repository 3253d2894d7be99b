"""The generator: a step model plus a sampler, one token per call, with déjà-vu. No I/O and no time here.

Déjà-vu (``ControlState.deja_vu`` p, ``loop_bars`` L): the generator records every step it plays
with the model's state before it, its logits and its random draw (device/engine/dejavu.py). Once L bars
are recorded, each step replays, with probability p, the step one loop ago: the model returns to
the state recorded there and the recorded draw chooses again. Otherwise the step draws anew from
the model's current state, which after a replay is the replayed one: the mutation is the model's
choice, not a random note. So at p = 1 the melody repeats exactly with a period of L bars after the
first loop; at p = 0 nothing is replayed and the generator is the plain model + sampler, draw for
draw; turning p back to 0 continues from wherever the loop was.

The opening (``open_on_a_note``, the live box's): without a primer, a melody's first token (after
construction, a power-on, and after each reset) is a note-on, chosen among the note-ons as the model weighs
them: the box is heard from its first step. The training melodies start on a bar line, and more than half of
them open with the rests of a pickup, which the model learned; played live with nothing before it (no primer,
no bar heard) such a rest is only silence. A melody written to a file (``melodybox generate``) and the
evaluations keep the model's own opening, pickup included, as real tunes have it. A primer says how the
melody goes on, the opening's rests included.

Harmony (a device.core.chords.Harmony per step, from whoever knows the chords: a progression, a chord
listener) is handed to the sampler with the step's token. A chord heard after a token was chosen can still
change it before it plays: ``revise`` chooses the last token again with its own draw under the new harmony
(no inference before the note), and the model hears the new token before its next inference.

A primer melody is read from MIDI by ``device.core.midireader.primer_from_midi`` (also importable from here,
with ``PrimerError``, for the CLI and the runner).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from device.core import encoding
from device.core.chords import Harmony
from device.core.midireader import PrimerError, primer_from_midi  # noqa: F401 - re-exported for cli.py and runner.py
from device.core.timegrid import DEFAULT_BAR_STEPS
from device.engine.controlstate import ControlState
from device.engine.dejavu import Recorder, Take
from device.engine.sampling import Sampler


class Generator:
    """Steps ``model`` (a device.engine.model.StepModel or anything with step/reset/get_state/set_state).

    On construction it feeds START_TOKEN then ``primer`` (tokens 0..129) to warm
    the state, and keeps that primed state so ``reset()`` can return to it exactly.
    ``bar_steps``: steps per bar for the déjà-vu loop (default: the model's, else 16).
    ``open_on_a_note``: a melody's first token without a primer is a note-on (the live box; see the module
    docstring). ``opening``: the next token is such a first one; set again by ``reset`` (and by a caller that
    starts the melody anew, e.g. at a Start).
    """

    def __init__(self, model, sampler: Sampler, primer: Sequence[int] = (), bar_steps: int | None = None,
                 open_on_a_note: bool = False):
        self.model = model
        self.open_on_a_note = open_on_a_note
        self.sampler = sampler
        self.primer = [encoding.check_token(t) for t in primer]
        self.recorder = Recorder(bar_steps or getattr(model, "bar_steps", DEFAULT_BAR_STEPS))
        model.reset()
        # the primer ends on a bar line, so the box's first step (transport step 0) starts a bar for the model
        bar_steps = getattr(model, "bar_steps", None)
        if bar_steps is None:
            logits = model.step(encoding.START_TOKEN)
        else:
            logits = model.step(encoding.START_TOKEN, -len(self.primer) % bar_steps)
        for token in self.primer:
            logits = model.step(token)
        self._primed_state = model.get_state()
        self._primed_logits = np.array(logits, copy=True)
        self._primed_sounding = sounding_after(self.primer, False)
        self.reset()

    @property
    def logits(self) -> np.ndarray:
        """A copy of the logits the next token will be sampled from (float32, [130])."""
        self._settle()
        return self._logits.copy()

    @property
    def sounding(self) -> bool:
        """Whether a note sounds after the tokens played so far (the primer's included)."""
        return self._sounding

    def next_token(self, controls: ControlState, step: int | None = None, harmony: Harmony | None = None) -> int:
        """Choose the next token under ``controls`` (déjà-vu included) and feed it back into the model.

        ``step``: the transport step the token will play on, so that a model with bar-position inputs
        hears the transport's bar (after a Song Position jump, a reset or a pause); None counts on.
        ``harmony``: the chord, key and bar step of that step (None: no chords)."""
        self._settle()
        loop_steps = self.recorder.loop_steps(controls.loop_bars)
        source = self.recorder.one_loop_ago(loop_steps) if controls.deja_vu > 0 else None
        replay = source is not None and self.sampler.replay(controls.deja_vu)
        if replay:
            self.model.set_state(source.state)
            self._logits = source.logits
        draw = source.draw if replay else None
        if draw is None and controls.temperature > 0:
            draw = self.sampler.draw()
        notes_only = source.notes_only if replay else self.opening  # a replayed opening note is a note again
        self.opening = False
        token = self.sampler.choose(self._logits, controls, draw or 0.0, self._sounding, notes_only, harmony)
        self.recorder.record(Take(self.model.get_state(), self._logits, draw, token, notes_only))
        self._last = (controls, step, self._sounding, harmony)
        self._feed(token, step)
        self._sounding = sounding_after([token], self._sounding)
        return token

    def revise(self, harmony: Harmony | None) -> int | None:
        """The last token chosen again under ``harmony`` (a chord heard since), with the controls and the draw
        that chose it: the same token if the harmony wants it too. Costs no inference now: the model hears
        a changed token before its next step. Returns the token to play; None if no token was chosen since
        the last reset or priming (nothing to revise)."""
        take = self.recorder.last
        if self._last is None or take is None:
            return None
        controls, step, sounding, chosen_under = self._last
        if harmony == chosen_under:
            return take.token
        token = self.sampler.choose(take.logits, controls, take.draw or 0.0, sounding, take.notes_only, harmony)
        self._last = (controls, step, sounding, harmony)
        if token != take.token:
            self.recorder.replace_last(Take(take.state, take.logits, take.draw, token, take.notes_only))
            self.model.set_state(take.state)
            self._refeed = (token, step)
            self._sounding = sounding_after([token], sounding)
        return token

    def _feed(self, token: int, step: int | None) -> None:
        bar_steps = getattr(self.model, "bar_steps", None)
        if step is None or bar_steps is None:
            self._logits = self.model.step(token)
        else:
            self._logits = self.model.step(token, step % bar_steps)

    def _settle(self) -> None:
        """Feed the model a token that ``revise`` changed (before any other inference)."""
        if self._refeed is not None:
            refeed, self._refeed = self._refeed, None
            self._feed(*refeed)

    def prime(self, tokens: Sequence[int], bar_step: int | None = None) -> None:
        """Feed ``tokens`` (0..129) the box did not choose, e.g. a player's call, as if they had been played:
        the model hears them from its current state; nothing is sampled or recorded for deja-vu.
        ``bar_step``: where the first token's step lies in its bar (None: counting on)."""
        self._settle()
        self._last = None
        for i, token in enumerate(encoding.check_token(t) for t in tokens):
            if i == 0 and bar_step is not None:
                self._logits = self.model.step(token, bar_step)
            else:
                self._logits = self.model.step(token)
        self._sounding = sounding_after(tokens, self._sounding)
        self.opening = self.opening and not tokens  # what was heard leads into the next token

    def reset(self) -> None:
        """Return to the primed state exactly and forget the loop (the sampler's random streams are not rewound)."""
        self.model.set_state(self._primed_state)
        self._logits = self._primed_logits.copy()
        self._sounding = self._primed_sounding
        self.opening = self.open_on_a_note and not self.primer
        self.recorder.clear()
        self._last = None  # what chose the last token: (controls, step, sounding before, harmony)
        self._refeed: tuple[int, int | None] | None = None  # a revised token the model has not heard yet


def sounding_after(tokens: Sequence[int], sounding: bool) -> bool:
    """Whether a note sounds after ``tokens``, given whether one sounded before them."""
    for token in tokens:
        if token != encoding.NO_EVENT:
            sounding = encoding.is_note_on(token)
    return sounding
