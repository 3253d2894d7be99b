"""One MIDI file -> monophonic melodies as token arrays, with their metre (the per-file step of ``prepare``).

Time: ticks map to 16th-note steps with the device's reader rules (``device.core.midireader``: round half up,
note ends, skyline); tempo changes do not move the grid. Bars come from the time signatures
(``training.data.metre``). Which line is the melody (``choose_parts``): a part (track, channel) whose track or
instrument name says melody/vocal/voice/lead/solo/tune; otherwise, leaving out parts named for pedals and
ornaments (pedal, trill, ornament), the part with the highest mean pitch among those that look like a
melody line (enough notes, at least 5 distinct pitches, a typical note density). That line is reduced to
one note at a time, split at long silences, cut on bar lines (and where the metre changes) into bounded
pieces that start on a bar line (a pickup keeps its silence back to the bar line), and encoded with
``device.core.encoding.notes_to_tokens``.

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

from device.core.encoding import Note, notes_to_tokens
from device.core.midireader import DRUM_CHANNEL, MAX_FILE_STEPS, skyline, track_notes
from training.data.metre import FOUR_FOUR, BarGrid, cut_on_bars, metre_names

REASONS = (
    "not_midi", "corrupt", "no_notes", "drums_only", "too_short", "unsupported_timing", "too_large", "timeout", "error",
    "out_of_range",  # prepare --transpose-into: every melody spans more than the range
)
MELODY_NAME = re.compile(r"melod|vocal|voice|lead|solo|\btune", re.IGNORECASE)
NOT_MELODY_NAME = re.compile(r"pedal|\bped\b|sustain|trill|triller|ornament", re.IGNORECASE)
MIN_DISTINCT_PITCHES = 5  # fewer is a drone, an ostinato or a trill, not the tune
DENSITY_SHARE = 1 / 8  # a part with under this share of the densest part's onset rate is sparse decoration
MAX_ONSET_RATE = 0.9  # onsets on more steps than this (its whole length through) is a trill or tremolo
KEEP_EVENTS = ("track_name", "instrument_name", "channel_prefix", "time_signature")
# What mido raises on damaged files (seen on public collections of broken MIDI files).
PARSE_ERRORS = (OSError, EOFError, KeySignatureError, ValueError, IndexError, KeyError, struct.error)


@dataclass(frozen=True)
class Settings:
    """How melodies are cut out of files. Steps are 16th notes."""

    min_steps: int = 16  # melodies (and pieces) shorter than this are dropped
    max_steps: int = 512  # longer melodies are cut on bar lines into pieces of at most this many steps
    split_silence: int = 32  # a silence of at least this many steps splits a melody (2 bars of 4/4)
    all_voices: bool = False  # every non-drum part becomes melodies, not only the melody line
    min_part_notes: int = 8  # a part needs this many notes to be chosen by mean pitch
    max_bytes: int = 2_000_000  # larger files are skipped (too_large); bounds parse time and memory
    max_file_steps: int = MAX_FILE_STEPS  # a track ends at a note event later than this (about 35 h at 120 bpm)
    max_seconds: float = 10.0  # worker-side time limit per file (timeout)


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file; ``melodies`` are int16 token arrays, each with its metre.

    ``bar_steps[i]`` is the number of steps in a bar of melody i, ``bar_offset[i]`` the step of the bar its
    first token falls on (0: it starts on a bar line).
    """

    file: str
    status: str  # "kept" (at least one melody) or "skipped"
    melodies: list[np.ndarray] = field(default_factory=list)
    bar_steps: list[int] = field(default_factory=list)
    bar_offset: list[int] = field(default_factory=list)
    reason: str | None = None  # one of REASONS when skipped
    message: str | None = None
    parts: list[str] = field(default_factory=list)  # the parts melodies came from, "track:channel name"
    metres: list[str] = field(default_factory=list)  # the file's time signatures as read (metre.metre_names)
    transposed: list[str] = field(default_factory=list)  # melodies moved by octaves or left out (octaves.into_range)

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
        if self.metres:
            line["metres"] = self.metres
        if self.transposed:
            line["transposed"] = self.transposed
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

    @property
    def distinct_pitches(self) -> int:
        return len({n.pitch for n in self.notes})

    @property
    def onset_rate(self) -> float:
        """Steps with an onset per step, from the first onset to the last note's end (0..1)."""
        span = max(n.end for n in self.notes) - min(n.start for n in self.notes)
        return len({n.start for n in self.notes}) / max(span, 1)


@dataclass(frozen=True)
class Melody:
    """One piece of a melody line: int16 tokens, steps per bar, and the bar step its first token is on."""

    tokens: np.ndarray
    bar_steps: int
    bar_offset: int


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
        parts, signatures = read_parts(data, settings, lambda: _check_deadline(clock, deadline, settings))
        chosen = choose_parts(parts, settings)
        grid = BarGrid.from_signatures(signatures)
        melodies = []
        for part in chosen:
            melodies += melodies_from_notes(part.notes, settings, grid)
        if not melodies:
            raise Skip("too_short", f"no melody of at least {settings.min_steps} steps")
        return result_of(name, melodies, parts=[p.label for p in chosen], metres=metre_names(signatures))
    except Skip as skip:
        return FileResult(name, "skipped", reason=skip.reason, message=skip.message or None)
    except PARSE_ERRORS as error:
        detail = str(error) or "unexpected end of data"
        return FileResult(name, "skipped", reason="corrupt", message=f"{type(error).__name__}: {detail}")
    except Exception as error:  # noqa: BLE001 - reported per file, the run goes on
        return FileResult(name, "skipped", reason="error", message=f"{type(error).__name__}: {error}")


def result_of(name: str, melodies: list[Melody], **fields) -> FileResult:
    """A kept FileResult holding ``melodies``."""
    return FileResult(name, "kept", [m.tokens for m in melodies], [m.bar_steps for m in melodies],
                      [m.bar_offset for m in melodies], **fields)


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


def read_parts(data: bytes, settings: Settings, check_time: Callable[[], None]) -> tuple[list[Part], list]:
    """Parse with mido (clip=True: data bytes > 127 are clipped) into parts with notes in steps, and the file's
    time signatures (from any track) as ``(step, numerator, denominator)``."""
    infile = io.BytesIO(data)
    infile.seek(_midi_start(data))
    with meta_charset("latin1"):
        _, num_tracks, ticks_per_beat = read_file_header(infile)
        if ticks_per_beat < 0:
            raise Skip("unsupported_timing", "SMPTE time division")
        if ticks_per_beat == 0:
            raise Skip("corrupt", "ticks_per_beat is 0")
        parts: dict[tuple[int, int], Part] = {}
        signatures: list[tuple[int, int, int]] = []
        for index in range(num_tracks):
            check_time()
            _skip_alien_chunks(infile, data)
            if infile.tell() >= len(data):
                break  # fewer tracks than the header says: keep what was read
            track = read_track(infile, clip=True)
            check_time()
            _collect_track(index, track, ticks_per_beat, settings.max_file_steps, parts, signatures)
    return [parts[key] for key in sorted(parts)], signatures


def _skip_alien_chunks(infile: io.BytesIO, data: bytes) -> None:
    """Step over chunks with another 4-letter name (e.g. XF karaoke's XFIH), as the MIDI spec asks."""
    at = infile.tell()
    while data[at : at + 4] != b"MTrk" and data[at : at + 4].isalpha() and at + 8 <= len(data):
        at += 8 + struct.unpack(">I", data[at + 4 : at + 8])[0]
    infile.seek(at)


def _collect_track(index: int, track, ticks_per_beat: int, max_steps: int, parts: dict, signatures: list) -> None:
    """Add the notes of one mido track to ``parts`` (keyed by (track, channel)) and its time signatures."""
    found, events = track_notes(track, ticks_per_beat, KEEP_EVENTS, max_steps)
    names: dict[int | None, list[str]] = {}  # channel (from a channel_prefix meta) or None -> names
    prefix = None
    for step, msg in events:
        if msg.type == "channel_prefix":
            prefix = msg.channel
        elif msg.type == "time_signature":
            signatures.append((step, msg.numerator, msg.denominator))
        else:
            names.setdefault(prefix, []).append(str(msg.name).strip())
    for channel, notes in found.items():
        part = parts.setdefault((index, channel), Part(index, channel))
        part.names += [n for n in names.get(None, []) + names.get(channel, []) if n]
        part.notes += notes


def choose_parts(parts: list[Part], settings: Settings) -> list[Part]:
    """The melody part (or every non-drum part with ``all_voices``); Skip when there is none.

    A part named as the melody wins. Otherwise parts named for pedals or ornaments are left out, and of the
    parts with enough notes, the highest (mean pitch) of those that look like a melody line: at least
    MIN_DISTINCT_PITCHES pitches and an onset rate of at least DENSITY_SHARE of the densest part's, at most
    MAX_ONSET_RATE. Each filter is skipped when it would leave nothing.
    """
    if not any(p.notes for p in parts):
        raise Skip("no_notes")
    tonal = [p for p in parts if p.channel != DRUM_CHANNEL and p.notes]
    if not tonal:
        raise Skip("drums_only")
    if settings.all_voices:
        return tonal
    named = [p for p in tonal if any(MELODY_NAME.search(n) for n in p.names)]
    pool = named or [p for p in tonal if not any(NOT_MELODY_NAME.search(n) for n in p.names)] or tonal
    pool = [p for p in pool if len(p.notes) >= settings.min_part_notes] or pool
    if not named:
        densest = max(p.onset_rate for p in pool)
        lines = [p for p in pool if p.distinct_pitches >= MIN_DISTINCT_PITCHES
                 and DENSITY_SHARE * densest <= p.onset_rate <= MAX_ONSET_RATE]
        pool = lines or pool
    return [max(pool, key=lambda p: (p.mean_pitch, -p.track, -p.channel))]


def melodies_from_notes(notes: list[Note], settings: Settings, grid: BarGrid = FOUR_FOUR) -> list[Melody]:
    """Notes of one line -> melodies: skyline, split at long silences, cut on bar lines to at most
    ``max_steps``, pieces shorter than ``min_steps`` dropped. Each piece starts on the bar line before its
    first note (so a pickup keeps its leading silence) and ends with its last note."""
    pieces: list[Melody] = []
    floor = 0
    for phrase in _split_at_silence(skyline(notes), settings.split_silence):
        for origin, piece in cut_on_bars(phrase, grid, settings.max_steps, floor):
            shifted = [Note(n.pitch, n.start - origin, n.end - origin) for n in piece]
            if shifted[-1].end >= settings.min_steps:
                bar_steps, bar_offset = grid.position(origin)
                pieces.append(Melody(np.asarray(notes_to_tokens(shifted), dtype=np.int16), bar_steps, bar_offset))
        floor = phrase[-1].end
    return pieces


def _split_at_silence(notes: list[Note], silence: int) -> list[list[Note]]:
    phrases: list[list[Note]] = []
    for note in notes:
        if phrases and note.start - phrases[-1][-1].end < silence:
            phrases[-1].append(note)
        else:
            phrases.append([note])
    return phrases
