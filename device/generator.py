"""The generator: a step model plus a sampler, one token per call.

No I/O and no time here, except ``primer_from_midi`` which reads a primer melody.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from device import encoding
from device.sampling import Sampler


class PrimerError(ValueError):
    """A primer MIDI file cannot be read; the message names the file."""


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

    def next_token(self, temperature: float) -> int:
        """Sample the next token (temperature >= 0, 0 = greedy) and feed it back into the model."""
        token = self.sampler.sample(self._logits, temperature)
        self._logits = self.model.step(token)
        return token

    def reset(self) -> None:
        """Return to the primed state exactly (the sampler's random stream is not rewound)."""
        self.model.set_state(self._primed_state)
        self._logits = self._primed_logits.copy()


def primer_from_midi(path: str | Path, max_steps: int) -> list[int]:
    """Read a monophonic melody from a MIDI file as at most ``max_steps`` tokens.

    Times are read in ticks and rounded to the nearest 16th step (tempo does not
    matter). All tracks and channels are merged; where notes overlap, the later
    onset ends the earlier note, and of notes starting on the same step the
    highest wins. The melody ends with a NOTE_OFF after its last note, because the box
    does not play the primer and starts silent. Raises PrimerError naming the file if it cannot be read.
    """
    import mido  # lazily: the generator itself needs no MIDI
    from mido.midifiles.meta import KeySignatureError

    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    try:
        midi_file = mido.MidiFile(str(path), clip=True)
    except (OSError, EOFError, ValueError, IndexError, KeyError, KeySignatureError) as error:
        raise PrimerError(f"{path}: not a readable MIDI file ({type(error).__name__}: {error})") from None
    if midi_file.ticks_per_beat <= 0:
        raise PrimerError(f"{path}: SMPTE time division is not supported")
    ticks_per_step = midi_file.ticks_per_beat / encoding.STEPS_PER_QUARTER
    notes = _notes_in_steps(mido.merge_tracks(midi_file.tracks), ticks_per_step)
    melody = _monophonic(notes)
    length = melody[-1].end + 1 if melody else 0  # end on a NOTE_OFF: the box starts silent
    return encoding.notes_to_tokens(melody, length=length)[:max_steps]


def _notes_in_steps(messages, ticks_per_step: float) -> list[encoding.Note]:
    """(pitch, channel) note-on/off pairs as notes in steps; empty notes get one step."""
    tick, started, notes = 0, {}, []
    for message in messages:
        tick += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        key = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            started.setdefault(key, tick)
        elif key in started:
            start = round(started.pop(key) / ticks_per_step)
            end = max(start + 1, round(tick / ticks_per_step))
            notes.append(encoding.Note(message.note, start, end))
    return notes


def _monophonic(notes: list[encoding.Note]) -> list[encoding.Note]:
    """Highest note per onset step; a later onset cuts the note before it."""
    by_start: dict[int, encoding.Note] = {}
    for note in notes:
        if note.start not in by_start or note.pitch > by_start[note.start].pitch:
            by_start[note.start] = note
    ordered = [by_start[s] for s in sorted(by_start)]
    result = []
    for note, following in zip(ordered, ordered[1:] + [None], strict=True):
        end = note.end if following is None else min(note.end, following.start)
        result.append(encoding.Note(note.pitch, note.start, end))
    return result
