"""One MIDI file -> monophonic melodies as token arrays (the per-file step of ``prepare``).

Time: ticks map to 16th-note steps through ``ticks_per_beat`` (step = round(4 * tick / tpb));
tempo changes do not move the grid. Which line is the melody: a part (track, channel) whose
track or instrument name says melody/vocal/voice/lead/solo/tune, otherwise the non-drum part
with the highest mean pitch among those with enough notes. That line is reduced to one note
at a time (see ``monophonic``), split at long silences, cut into bounded pieces and encoded
with ``device.encoding.notes_to_tokens``.

Every file gives a ``FileResult``: kept with melodies, or skipped with one reason of
``REASONS``. Work per file is bounded in bytes, steps and seconds; nothing raises.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mido.midifiles.meta import KeySignatureError, meta_charset
from mido.midifiles.midifiles import read_file_header, read_track

from device.encoding import Note, notes_to_tokens

REASONS = (
    "not_midi", "corrupt", "no_notes", "drums_only", "too_short", "unsupported_timing", "too_large", "timeout", "error",
)
DRUM_CHANNEL = 9  # MIDI channel 10
MELODY_NAME = re.compile(r"melod|vocal|voice|lead|solo|\btune", re.IGNORECASE)
# What mido raises on damaged files (see NOTES-midi.md).
PARSE_ERRORS = (OSError, EOFError, KeySignatureError, ValueError, IndexError, KeyError, struct.error)


@dataclass(frozen=True)
class Settings:
    """How melodies are cut out of files. Steps are 16th notes."""

    min_steps: int = 16  # melodies (and pieces) shorter than this are dropped
    max_steps: int = 512  # longer melodies are cut into pieces of at most this many steps
    split_silence: int = 32  # a silence of at least this many steps splits a melody (2 bars of 4/4)
    all_voices: bool = False  # every non-drum part becomes melodies, not only the melody line
    min_part_notes: int = 8  # a part needs this many notes to be chosen by mean pitch
    max_bytes: int = 2_000_000  # larger files are skipped (too_large); bounds parse time and memory
    max_file_steps: int = 1_000_000  # a track ends at a note event later than this (about 35 h at 120 bpm)
    max_seconds: float = 10.0  # worker-side time limit per file (timeout)


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file; ``melodies`` are int16 token arrays."""

    file: str
    status: str  # "kept" (at least one melody) or "skipped"
    melodies: list[np.ndarray] = field(default_factory=list)
    reason: str | None = None  # one of REASONS when skipped
    message: str | None = None
    parts: list[str] = field(default_factory=list)  # the parts melodies came from, "track:channel name"

    @property
    def steps(self) -> int:
        return int(sum(len(m) for m in self.melodies))

    def report(self) -> dict:
        """One JSON-able report line."""
        line = {"file": self.file, "status": self.status, "melodies": len(self.melodies), "steps": self.steps}
        if self.reason is not None:
            line["reason"] = self.reason
        if self.message:
            line["message"] = self.message
        if self.parts:
            line["parts"] = self.parts
        return line


class Skip(Exception):
    """A file is skipped for ``reason`` (one of REASONS)."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason
        self.message = message


@dataclass
class Part:
    """The notes of one (track, channel) in steps, and the names seen for it."""

    track: int
    channel: int
    names: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.track}:{self.channel}" + (f" {self.names[0]}" if self.names else "")

    @property
    def mean_pitch(self) -> float:
        return sum(n.pitch for n in self.notes) / len(self.notes)


def convert_file(path: str | Path, settings: Settings = Settings(), clock: Callable[[], float] = time.monotonic):
    """Read one file and convert it; never raises for bad input."""
    path = Path(path)
    try:
        info = path.stat()
        size = info.st_size
        if not stat.S_ISREG(info.st_mode):
            return FileResult(str(path), "skipped", reason="error", message="not a regular file")
        if size > settings.max_bytes:
            return FileResult(str(path), "skipped", reason="too_large", message=f"{size} bytes")
        data = path.read_bytes()
    except OSError as error:
        return FileResult(str(path), "skipped", reason="error", message=f"cannot read: {error}")
    return convert_bytes(data, str(path), settings, clock)


def convert_bytes(data: bytes, name: str, settings: Settings = Settings(), clock=time.monotonic) -> FileResult:
    """Convert the bytes of one MIDI file; never raises for bad input."""
    deadline = clock() + settings.max_seconds
    try:
        if len(data) > settings.max_bytes:
            raise Skip("too_large", f"{len(data)} bytes")
        parts = read_parts(data, settings, lambda: _check_deadline(clock, deadline, settings))
        chosen = choose_parts(parts, settings)
        melodies = []
        for part in chosen:
            melodies += melodies_from_notes(part.notes, settings)
        if not melodies:
            raise Skip("too_short", f"no melody of at least {settings.min_steps} steps")
        return FileResult(name, "kept", melodies, parts=[p.label for p in chosen])
    except Skip as skip:
        return FileResult(name, "skipped", reason=skip.reason, message=skip.message or None)
    except PARSE_ERRORS as error:
        detail = str(error) or "unexpected end of data"
        return FileResult(name, "skipped", reason="corrupt", message=f"{type(error).__name__}: {detail}")
    except Exception as error:  # noqa: BLE001 - reported per file, the run goes on
        return FileResult(name, "skipped", reason="error", message=f"{type(error).__name__}: {error}")


def _check_deadline(clock, deadline: float, settings: Settings) -> None:
    if clock() > deadline:
        raise Skip("timeout", f"took longer than {settings.max_seconds} s")


def _midi_start(data: bytes) -> int:
    """Offset of the MThd chunk (0, or inside a RIFF RMID wrapper); Skip(not_midi) otherwise."""
    if data[:4] == b"MThd":
        return 0
    if data[:4] == b"RIFF" and data[8:12] == b"RMID" and b"MThd" in data[12:64]:
        return data.index(b"MThd", 12)
    raise Skip("not_midi", f"starts with {data[:8]!r}")


def read_parts(data: bytes, settings: Settings, check_time: Callable[[], None]) -> list[Part]:
    """Parse with mido (clip=True: data bytes > 127 are clipped) into parts with notes in steps."""
    infile = io.BytesIO(data)
    infile.seek(_midi_start(data))
    with meta_charset("latin1"):
        _, num_tracks, ticks_per_beat = read_file_header(infile)
        if ticks_per_beat < 0:
            raise Skip("unsupported_timing", "SMPTE time division")
        if ticks_per_beat == 0:
            raise Skip("corrupt", "ticks_per_beat is 0")
        parts: dict[tuple[int, int], Part] = {}
        for index in range(num_tracks):
            check_time()
            _skip_alien_chunks(infile, data)
            if infile.tell() >= len(data):
                break  # fewer tracks than the header says: keep what was read
            track = read_track(infile, clip=True)
            check_time()
            _collect_track(index, track, ticks_per_beat, settings.max_file_steps, parts)
    return [parts[key] for key in sorted(parts)]


def _skip_alien_chunks(infile: io.BytesIO, data: bytes) -> None:
    """Step over chunks with another 4-letter name (e.g. XF karaoke's XFIH), as the MIDI spec asks."""
    at = infile.tell()
    while data[at : at + 4] != b"MTrk" and data[at : at + 4].isalpha() and at + 8 <= len(data):
        at += 8 + struct.unpack(">I", data[at + 4 : at + 8])[0]
    infile.seek(at)


def _collect_track(index: int, track, ticks_per_beat: int, max_steps: int, parts: dict) -> None:
    """Add the notes of one mido track to ``parts`` (keyed by (track, channel))."""
    four, half = 4, ticks_per_beat // 2
    names: dict[int | None, list[str]] = {}  # channel (from a channel_prefix meta) or None -> names
    prefix = None
    sounding: dict[tuple[int, int], int] = {}  # (channel, pitch) -> onset step
    found: dict[int, list[Note]] = {}
    tick = step = 0
    for msg in track:
        tick += msg.time
        kind = msg.type
        if kind == "note_on" or kind == "note_off":
            if (four * tick + half) // ticks_per_beat > max_steps:
                end = step  # a wild time stamp: the track ends at its last plausible event
                break
            step = (four * tick + half) // ticks_per_beat
            key = (msg.channel, msg.note)
            onset = sounding.pop(key, None)
            if onset is not None:
                found.setdefault(msg.channel, []).append(Note(msg.note, onset, max(step, onset + 1)))
            if kind == "note_on" and msg.velocity > 0:
                sounding[key] = step
        elif kind == "track_name" or kind == "instrument_name":
            names.setdefault(prefix, []).append(str(msg.name).strip())
        elif kind == "channel_prefix":
            prefix = msg.channel
    else:
        end = min((four * tick + half) // ticks_per_beat, max_steps)
    for (channel, pitch), onset in sounding.items():
        found.setdefault(channel, []).append(Note(pitch, onset, max(end, onset + 1)))
    for channel, notes in found.items():
        part = parts.setdefault((index, channel), Part(index, channel))
        part.names += [n for n in names.get(None, []) + names.get(channel, []) if n]
        part.notes += notes


def choose_parts(parts: list[Part], settings: Settings) -> list[Part]:
    """The melody part (or every non-drum part with ``all_voices``); Skip when there is none."""
    if not any(p.notes for p in parts):
        raise Skip("no_notes")
    tonal = [p for p in parts if p.channel != DRUM_CHANNEL and p.notes]
    if not tonal:
        raise Skip("drums_only")
    if settings.all_voices:
        return tonal
    named = [p for p in tonal if any(MELODY_NAME.search(n) for n in p.names)]
    pool = named or tonal
    enough = [p for p in pool if len(p.notes) >= settings.min_part_notes] or pool
    return [max(enough, key=lambda p: (p.mean_pitch, -p.track, -p.channel))]


def monophonic(notes: list[Note]) -> list[Note]:
    """Reduce a polyphonic line to one note at a time (the top line, legato overlaps cut).

    Onsets in the same step keep the highest pitch. A note still sounding when the next
    onset comes ends there, unless the new note is lower and ends no later than it: then the
    new note is an inner voice hidden under the sounding one (skyline). Notes are in steps
    and at least one step long.
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


def melodies_from_notes(notes: list[Note], settings: Settings) -> list[np.ndarray]:
    """Monophonic line -> token arrays: split at long silences, cut to max, drop short ones."""
    pieces: list[np.ndarray] = []
    for phrase in _split_at_silence(monophonic(notes), settings.split_silence):
        for piece in _cut(phrase, settings.max_steps):
            origin = piece[0].start
            shifted = [Note(n.pitch, n.start - origin, n.end - origin) for n in piece]
            if shifted[-1].end >= settings.min_steps:
                pieces.append(np.asarray(notes_to_tokens(shifted), dtype=np.int16))
    return pieces


def _split_at_silence(notes: list[Note], silence: int) -> list[list[Note]]:
    phrases: list[list[Note]] = []
    for note in notes:
        if phrases and note.start - phrases[-1][-1].end < silence:
            phrases[-1].append(note)
        else:
            phrases.append([note])
    return phrases


def _cut(notes: list[Note], max_steps: int) -> list[list[Note]]:
    """Pieces of at most ``max_steps`` steps, cut before a note (a note longer than that is shortened)."""
    pieces: list[list[Note]] = []
    origin = None
    for note in notes:
        if origin is None or (note.end - origin > max_steps and note.start > origin):
            origin = note.start
            pieces.append([])
        pieces[-1].append(Note(note.pitch, note.start, min(note.end, origin + max_steps)))
    return pieces
