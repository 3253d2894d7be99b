"""The chords a player holds on the MIDI input (``--harmony follow``), and the key of what was heard.

The listener reads note messages (and the sustain pedal, CC 64) from the input on every tick of the transport,
on one channel or all (``channel`` None). The chord is the set of pitches sounding now, held or sustained by
the pedal: its tones are their pitch classes (device/core/chords.py names it for people). When every key is
up, the last chord stays: a chord played short still holds until the next one. A chord heard at a tick is
the harmony of every step asked for from then on; the loop asks again just before a step plays, so a change
takes effect by the next step.

The key is the diatonic set holding the most of what was heard over the last ``key_bars`` bars of the
transport, each pitch class weighted by how long it sounded (in pulses; a note shorter than a pulse counts
one); of equally good keys, the key before stays, else the one whose tonic or relative minor is the chord's
root. Before anything is heard there is no chord and no key, and the melody goes its own way.

While the transport is stopped, chords are still heard (the pulse stands still); when it jumps back (a new
Start, a Song Position), the notes heard before are forgotten for the key, and those still held start again.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from device.core.chords import Chord, Harmony, Key, best_key, chord_of
from device.core.timegrid import PULSES_PER_STEP

KEY_BARS = 4  # the key is heard over this many bars
SUSTAIN = 64  # the sustain pedal's CC number; down at values of 64 and more
NOTES_KEPT = 512  # notes remembered for the key at most (a flood cannot grow memory)


class Heard:
    """One note heard: ``pitch``, ``start`` and ``end`` in transport pulses (end None: still sounding)."""

    __slots__ = ("pitch", "start", "end")

    def __init__(self, pitch: int, start: int):
        self.pitch, self.start, self.end = pitch, start, None


class ChordListener:
    """A harmony source hearing ``source`` (anything with ``drain() -> list[InputEvent]``, e.g. a MidiIn or a
    reader of a shared input). ``bar_steps``: 16th steps per bar; ``channel``: 0..15 (mido numbering) or None
    for all. ``chord`` and ``key``: what is heard now (None: nothing yet); ``changes``: chords heard so far."""

    def __init__(self, source, bar_steps: int, channel: int | None = None, key_bars: int = KEY_BARS):
        self.source, self.bar_steps, self.channel = source, int(bar_steps), channel
        self.window = key_bars * self.bar_steps * PULSES_PER_STEP  # pulses the key is heard over
        self.chord: Chord | None = None
        self.key: Key | None = None
        self.changes = 0
        self._held: dict[tuple[int, int], Heard] = {}  # (channel, pitch) -> the note, key down
        self._sustained: dict[tuple[int, int], Heard] = {}  # key up, held by the pedal
        self._pedal: set[int] = set()  # channels whose pedal is down
        self._notes: deque[Heard] = deque(maxlen=NOTES_KEPT)
        self._pulse = 0
        self._key_step: int | None = None  # the step the key was last worked out for

    def hear(self, tick: Any) -> None:
        """Every tick of the transport (``pulse``, ``running``): take what arrived and update the chord."""
        if tick.pulse < self._pulse:  # a new timeline: what was heard before has no place on it
            self._notes = deque((n for n in self._notes if n.end is None), maxlen=NOTES_KEPT)
            for note in self._notes:
                note.start = tick.pulse
        self._pulse = tick.pulse
        changed = False
        for event in self.source.drain():
            message = event.message
            if self.channel is not None and getattr(message, "channel", None) != self.channel:
                continue
            changed |= self._take(message)
        if changed:
            chord = chord_of(note.pitch for note in self._sounding())
            if chord is not None and chord != self.chord:
                self.chord, self.changes = chord, self.changes + 1

    def at(self, step: int) -> Harmony:
        """The chord heard now, the key of the last bars, and where ``step`` lies in its bar."""
        if step != self._key_step:
            self._key_step = step
            self.key = best_key(self._weights(), self.chord.root if self.chord else None, self.key) or self.key
        return Harmony(self.chord, self.key, step % self.bar_steps)

    def _take(self, message) -> bool:
        """One message: True if the notes sounding changed."""
        kind = message.type
        if kind == "note_on" and message.velocity > 0:
            where = (message.channel, message.note)
            self._end(self._sustained.pop(where, None))
            self._end(self._held.get(where))
            self._held[where] = Heard(message.note, self._pulse)
            self._notes.append(self._held[where])
            return True
        if kind in ("note_on", "note_off"):
            note = self._held.pop((message.channel, message.note), None)
            if note is not None and message.channel in self._pedal:
                self._sustained[(message.channel, message.note)] = note
            else:
                self._end(note)
            return note is not None
        if kind == "control_change" and message.control == SUSTAIN:
            if message.value >= 64:
                self._pedal.add(message.channel)
                return False
            self._pedal.discard(message.channel)
            released = [where for where in self._sustained if where[0] == message.channel]
            for where in released:
                self._end(self._sustained.pop(where))
            return bool(released)
        return False

    def _end(self, note: Heard | None) -> None:
        if note is not None and note.end is None:
            note.end = self._pulse

    def _sounding(self) -> list[Heard]:
        return [*self._held.values(), *self._sustained.values()]

    def _weights(self) -> list[float]:
        """Pulses each pitch class sounded over the last ``window`` pulses (at least one per note)."""
        since = self._pulse - self.window
        weights = [0.0] * 12
        for note in self._notes:
            end = self._pulse if note.end is None else note.end
            if end >= since:
                weights[note.pitch % 12] += max(1, end - max(note.start, since))
        return weights
