"""The melody encoding: one token per 16th-note step.

This module is THE definition of the vocabulary; everything else imports it.
Standard library only, except ``write_midi`` which imports mido lazily.

Tokens:
    0..127   note-on at that MIDI pitch (the previous note, if any, ends here)
    128      NOTE_OFF: the sounding note ends here, silence follows
    129      NO_EVENT: nothing changes (the note holds, or silence continues)

A note is ``Note(pitch, start, end)`` in steps, ``start < end``; it sounds
during steps ``start .. end-1``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from device.core.timegrid import STEPS_PER_QUARTER

ENCODING_VERSION = 1
NUM_PITCHES = 128
NOTE_OFF = 128
NO_EVENT = 129
VOCAB_SIZE = 130
MIDI_PITCH_RANGE = (0, 127)
# The token fed to the model before a melody's first step: every melody is
# treated as preceded by silence, so training prepends it and the device starts with it.
START_TOKEN = NO_EVENT


class Note(NamedTuple):
    """One monophonic note: MIDI pitch 0..127, start and end in steps (end exclusive)."""

    pitch: int
    start: int
    end: int


def is_note_on(token: int) -> bool:
    """True for tokens 0..127."""
    return 0 <= token < NUM_PITCHES


def check_token(token: int) -> int:
    """Return ``token`` if it is in the vocabulary, else raise ValueError naming it."""
    if isinstance(token, bool) or not isinstance(token, int) and not hasattr(token, "__index__"):
        raise ValueError(f"token {token!r} is not an integer")
    value = int(token)
    if not 0 <= value < VOCAB_SIZE:
        raise ValueError(f"token {value} is outside the vocabulary 0..{VOCAB_SIZE - 1}")
    return value


def tokens_to_notes(tokens: Iterable[int]) -> list[Note]:
    """Decode tokens to notes. Total: every sequence of valid tokens decodes.

    A note-on while a note sounds ends the previous note at that step; NOTE_OFF
    with nothing sounding is harmless; a note still sounding at the end ends
    after the last step. Raises ValueError for a token outside 0..129.
    """
    notes: list[Note] = []
    pitch: int | None = None
    start = 0
    step = -1
    for step, raw in enumerate(tokens):
        token = check_token(raw)
        if token == NO_EVENT:
            continue
        if pitch is not None:
            notes.append(Note(pitch, start, step))
            pitch = None
        if token != NOTE_OFF:
            pitch, start = token, step
    if pitch is not None:
        notes.append(Note(pitch, start, step + 1))
    return notes


def notes_to_tokens(notes: Sequence[Note], length: int | None = None) -> list[int]:
    """Encode monophonic notes (sorted, non-overlapping) as tokens.

    A NOTE_OFF is written where a note ends and silence follows (not where the
    next note starts at once, nor after the last step). ``length`` (steps)
    defaults to the end of the last note. Raises ValueError for overlapping,
    unsorted or empty notes, pitches outside 0..127, or notes past ``length``.
    """
    end_of_last = notes[-1].end if notes else 0
    total = end_of_last if length is None else length
    if total < end_of_last:
        raise ValueError(f"length {total} is shorter than the last note's end {end_of_last}")
    tokens = [NO_EVENT] * total
    previous_end = None
    for note in notes:
        pitch, start, end = note
        if not 0 <= pitch < NUM_PITCHES:
            raise ValueError(f"pitch {pitch} is outside 0..127")
        if start >= end or start < 0 or (previous_end is not None and start < previous_end):
            raise ValueError(f"note {note} is empty, negative or overlaps the previous one")
        if previous_end is not None and start > previous_end:
            tokens[previous_end] = NOTE_OFF
        tokens[start] = pitch
        previous_end = end
    if previous_end is not None and previous_end < total:
        tokens[previous_end] = NOTE_OFF
    return tokens


def canonical(tokens: Iterable[int]) -> list[int]:
    """The canonical form of a token sequence: what encode(decode(tokens)) gives.

    Redundant NOTE_OFFs (nothing sounding) become NO_EVENT; a NOTE_OFF on the
    last step of the sequence is kept only if it ends a note (it does).
    """
    tokens = [check_token(t) for t in tokens]
    return notes_to_tokens(tokens_to_notes(tokens), length=len(tokens))


def write_midi(
    tokens: Iterable[int],
    path,
    bpm: float = 120.0,
    ticks_per_beat: int = 480,
    velocity: int = 90,
    channel: int = 0,
    program: int | None = None,
) -> None:
    """Write tokens as a one-track standard MIDI file at ``bpm`` (quarter notes per minute).

    ``channel`` is 0..15 (mido numbering); ``program`` is an optional GM program 0..127.
    """
    midi_file = tokens_to_midi_file(tokens, bpm, ticks_per_beat, velocity, channel, program)
    midi_file.save(path)


def tokens_to_midi_file(
    tokens: Iterable[int],
    bpm: float = 120.0,
    ticks_per_beat: int = 480,
    velocity: int = 90,
    channel: int = 0,
    program: int | None = None,
):
    """Build a ``mido.MidiFile`` (type 0) holding the tokens as notes."""
    import mido  # lazy: the step model needs only numpy of this module (its runtime check has no mido)

    ticks_per_step = ticks_per_beat // STEPS_PER_QUARTER
    if ticks_per_step * STEPS_PER_QUARTER != ticks_per_beat:
        raise ValueError(f"ticks_per_beat {ticks_per_beat} is not a multiple of {STEPS_PER_QUARTER}")
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    if program is not None:
        track.append(mido.Message("program_change", program=program, channel=channel, time=0))
    now = 0
    for note in tokens_to_notes(tokens):
        on_tick, off_tick = note.start * ticks_per_step, note.end * ticks_per_step
        track.append(mido.Message("note_on", note=note.pitch, velocity=velocity, channel=channel, time=on_tick - now))
        track.append(mido.Message("note_off", note=note.pitch, velocity=0, channel=channel, time=off_tick - on_tick))
        now = off_tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi_file = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi_file.tracks.append(track)
    return midi_file
