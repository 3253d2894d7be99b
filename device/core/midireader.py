"""MIDI -> the 16th-step token grid, with one set of rules for files, live input and ``prepare``.

The rules (``training/data/midi_melody.py`` uses these same functions):

- **Grid.** A time in MIDI ticks maps to the nearest 16th step, halves rounding up:
  ``step = (4 * tick + ticks_per_beat // 2) // ticks_per_beat``. Tempo does not move the grid. A live
  position in steps (a float) snaps the same way: ``floor(position + 0.5)``.
- **Note ends.** A note (per channel and pitch) ends at its note-off (or note-on with velocity 0), or at
  a new note-on of the same pitch and channel; a note shorter than a step keeps one step; a note never
  released ends where its track ends.
- **Skyline.** Several voices become one line: the top note (``skyline``).

No tensorflow, no training code, and mido only inside ``primer_from_midi``: ``LiveReader`` reads the
``type``, ``channel``, ``note`` and ``velocity`` of whatever message objects it is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import mido
from mido.midifiles.meta import KeySignatureError

from device.core.encoding import Note, notes_to_tokens
from device.core.timegrid import STEPS_PER_QUARTER

DRUM_CHANNEL = 9  # MIDI channel 10: unpitched, never part of a melody
MAX_FILE_STEPS = 1_000_000  # a track ends at a note event later than this (about 35 h at 120 bpm): wild time stamps


class PrimerError(ValueError):
    """A primer MIDI file cannot be read; the message names the file."""


def tick_to_step(tick: int, ticks_per_beat: int) -> int:
    """The nearest 16th step of a time in ticks (halves round up); ``ticks_per_beat`` > 0."""
    return (STEPS_PER_QUARTER * tick + ticks_per_beat // 2) // ticks_per_beat


def snap(position: float) -> int:
    """The nearest 16th step of a position in steps (halves round up, as ``tick_to_step``)."""
    return math.floor(position + 0.5)


class NotePairer:
    """Pairs note-ons with their ends into ``Note``s (steps), per channel.

    ``on``/``off`` must come in time order. ``notes`` holds the finished notes of each channel.
    """

    def __init__(self) -> None:
        self.sounding: dict[tuple[int, int], int] = {}  # (channel, pitch) -> onset step
        self.notes: dict[int, list[Note]] = {}

    def on(self, channel: int, pitch: int, step: int) -> None:
        """A note-on (velocity > 0) at ``step``: ends a sounding note of the same pitch and channel there."""
        self.off(channel, pitch, step)
        self.sounding[(channel, pitch)] = step

    def off(self, channel: int, pitch: int, step: int) -> None:
        """A note-off (or note-on with velocity 0) at ``step``; harmless when that note is not sounding."""
        onset = self.sounding.pop((channel, pitch), None)
        if onset is not None:
            self.notes.setdefault(channel, []).append(Note(pitch, onset, max(step, onset + 1)))

    def held(self, until: int) -> dict[int, list[Note]]:
        """The notes still sounding, as if released at step ``until`` (each keeps at least one step)."""
        held: dict[int, list[Note]] = {}
        for (channel, pitch), onset in self.sounding.items():
            held.setdefault(channel, []).append(Note(pitch, onset, max(until, onset + 1)))
        return held

    def close(self, end: int) -> dict[int, list[Note]]:
        """Release every sounding note at step ``end``; return all notes per channel."""
        for channel, notes in self.held(end).items():
            self.notes.setdefault(channel, []).extend(notes)
        self.sounding.clear()
        return self.notes


def track_notes(messages: Iterable, ticks_per_beat: int, keep: tuple[str, ...] = (),
                max_steps: int = MAX_FILE_STEPS) -> tuple[dict[int, list[Note]], list[tuple[int, object]]]:
    """The notes of one MIDI track (mido messages with delta ``time`` in ticks), per channel, in steps.

    Also returns ``(step, message)`` for each message whose type is in ``keep`` (e.g. ``time_signature``),
    in order. A note event later than ``max_steps`` ends the track at its last plausible event.
    """
    pairer, kept = NotePairer(), []
    half = ticks_per_beat // 2
    tick = step = 0
    for msg in messages:
        tick += msg.time
        kind = msg.type
        if kind == "note_on" or kind == "note_off":
            at = (STEPS_PER_QUARTER * tick + half) // ticks_per_beat
            if at > max_steps:
                return pairer.close(step), kept
            step = at
            if kind == "note_on" and msg.velocity > 0:
                pairer.on(msg.channel, msg.note, step)
            else:
                pairer.off(msg.channel, msg.note, step)
        elif kind in keep:
            kept.append(((STEPS_PER_QUARTER * tick + half) // ticks_per_beat, msg))
    return pairer.close(min((STEPS_PER_QUARTER * tick + half) // ticks_per_beat, max_steps)), kept


def skyline(notes: Iterable[Note]) -> list[Note]:
    """Reduce notes to one at a time: the top line, legato overlaps cut (sorted, non-overlapping result).

    Onsets in the same step keep the highest pitch. A note still sounding when the next onset comes ends
    there, unless the new note is lower and ends no later than it: then the new note is an inner voice
    hidden under the sounding one. Notes are in steps and at least one step long.
    """
    result: list[Note] = []
    current: Note | None = None
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch, -n.end)):
        if current is None:
            current = note
        elif note.start == current.start:
            continue  # same-step onset, lower (or equal) pitch
        elif note.start >= current.end:
            result.append(current)
            current = note
        elif note.pitch >= current.pitch or note.end > current.end:
            result.append(Note(current.pitch, current.start, note.start))
            current = note
    if current is not None:
        result.append(current)
    return result


def primer_from_midi(path: str | Path, max_steps: int) -> list[int]:
    """Read the melody of a MIDI file as at most ``max_steps`` tokens, from step 0 of the file.

    Every track and channel except drums (channel 10) is read with the rules above and reduced to its
    skyline. The melody ends with a NOTE_OFF after its last note, because the box does not play the
    primer and starts silent. Raises PrimerError naming the file if it cannot be read.
    """

    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    try:
        midi_file = mido.MidiFile(str(path), clip=True)
    except (OSError, EOFError, ValueError, IndexError, KeyError, KeySignatureError) as error:
        raise PrimerError(f"{path}: not a readable MIDI file ({type(error).__name__}: {error})") from None
    if midi_file.ticks_per_beat <= 0:
        raise PrimerError(f"{path}: SMPTE time division is not supported")
    notes: list[Note] = []
    for track in midi_file.tracks:
        by_channel, _ = track_notes(track, midi_file.ticks_per_beat)
        notes += [n for channel, found in by_channel.items() if channel != DRUM_CHANNEL for n in found]
    melody = skyline(notes)
    length = melody[-1].end + 1 if melody else 0  # end on a NOTE_OFF: the box starts silent
    return notes_to_tokens(melody, length=length)[:max_steps]


class LiveReader:
    """Notes arriving live -> the same token grid as a file (e.g. a player's call, for call and response).

    Feed it ``(position, message)`` in time order, where ``position`` is the time the message arrived in
    16th steps on the box's grid (a float: 12.4 is 40 % into step 12). Note-ons snap to the nearest step,
    as do their ends (see the module rules); every channel is read (filter before feeding if needed).
    Steps are absolute positions on that grid; ``tokens`` cuts out any stretch of them.
    """

    def __init__(self) -> None:
        self.clear()

    def feed(self, position: float, message) -> None:
        """One message at ``position`` (steps); anything but note-on/note-off is ignored."""
        kind = getattr(message, "type", None)
        if kind != "note_on" and kind != "note_off":
            return
        step = snap(position)
        self._latest = max(self._latest, step)
        if kind == "note_on" and message.velocity > 0:
            self._pairer.on(message.channel, message.note, step)
        else:
            self._pairer.off(message.channel, message.note, step)

    def clear(self) -> None:
        """Forget every note (a new call starts)."""
        self._pairer = NotePairer()
        self._latest = 0  # the latest snapped position fed (steps)

    @property
    def sounding(self) -> bool:
        """True while a key is held."""
        return bool(self._pairer.sounding)

    def notes(self, now: float | None = None) -> list[Note]:
        """The line so far (skyline), in absolute steps; a held note lasts until ``now`` (default: the
        latest position fed), at least one step."""
        until = self._latest if now is None else max(snap(now), self._latest)
        held = self._pairer.held(until)
        return skyline([n for found in (*self._pairer.notes.values(), *held.values()) for n in found])

    def first_step(self) -> int | None:
        """The step of the first note-on, or None before any."""
        line = self.notes()
        return line[0].start if line else None

    def silence(self, now: float) -> int | None:
        """Whole steps from the end of the last note to ``now`` (snapped); 0 while a note is held, None before
        any note."""
        if self._pairer.sounding:
            return 0
        line = self.notes()
        return max(0, snap(now) - line[-1].end) if line else None

    def tokens(self, start: int | None = None, end: int | None = None) -> list[int]:
        """Tokens for steps ``start`` .. ``end - 1`` (default: the first note-on to the end of the last note).

        A note that starts before ``start`` is left out (its tail is silence); one sounding at ``end`` is cut
        there. A NOTE_OFF marks a note's end inside the stretch, as in a prepared melody.
        """
        line = self.notes(end)
        if not line:
            return [] if start is None or end is None else notes_to_tokens([], length=max(0, end - start))
        start = line[0].start if start is None else start
        end = line[-1].end if end is None else end
        inside = [Note(n.pitch, n.start - start, min(n.end, end) - start) for n in line if start <= n.start < end]
        return notes_to_tokens(inside, length=max(0, end - start))
