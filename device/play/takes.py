"""The player's takes (``--record-input DIR``): what is played on the MIDI input, kept as MIDI files, one per take.

A take starts at the first note-on heard while the transport runs and ends when no key has been down for
``end_bars`` bars (or when the transport stops or jumps back, or the box closes: keys still down end there).
It keeps every channel message of the input as it came (notes, pedal, bends; on their own channels), each
placed on the transport's grid where it arrived between pulses, so a take lines up with the box's bars in
every clock mode. The file runs from the bar line at or before the take's first note to the bar line at or
after its last event, with the tempo the transport had at the take's start and the time signature of the
box's bar: ``melodybox-train prepare DIR`` reads it as it is (docs/training.md).

Each take is written once it has ended, on a writer thread, never the loop's, through device.core.files.write_new
(temp file, fsync, a name taken atomically, fsync of the folder), so a power cut or a kill loses at most the take
being played and never leaves a half-written ``take-*.mid``. Names are ``take-YYYYmmdd-HHMMSS.mid`` (``-2``...
within a second).
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mido

from device.core.files import write_new
from device.core.timegrid import PULSES_PER_QUARTER, PULSES_PER_STEP, time_signature
from device.play.capture import TICKS_PER_PULSE, ThreadWriter

END_BARS = 2  # a take ends after this many bars without a key down


def take_file(events: list[tuple[float, Any]], start: int, end: int, bpm: float, bar_steps: int) -> mido.MidiFile:
    """``events`` ((position in pulses, channel message), in order) between pulses ``start`` and ``end`` as a
    one-track MIDI file exactly that long, at ``bpm`` in the metre of ``bar_steps``."""
    numerator, denominator = time_signature(bar_steps)
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Melody Box input take", time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
    ])
    now = 0
    for position, message in events:
        tick = min(max(round((position - start) * TICKS_PER_PULSE), now), (end - start) * TICKS_PER_PULSE)
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=(end - start) * TICKS_PER_PULSE - now))
    result = mido.MidiFile(type=0, ticks_per_beat=PULSES_PER_QUARTER * TICKS_PER_PULSE)
    result.tracks.append(track)
    return result


class TakeRecorder:
    """Hears ``source`` (anything with ``drain() -> list[InputEvent]``) on every tick and writes each take to
    ``folder``. ``bar_steps``: 16ths per bar; ``bpm``: the transport's tempo now (its ``bpm``, read at a take's
    start and to place messages between pulses); ``end_bars``: bars without a key down that end a take.
    ``writer`` runs a write job off the loop's thread (default: a ThreadWriter); ``say`` gets one line per take
    written or failed. ``written``: the files written; ``failures``: the errors."""

    def __init__(self, source, folder: str | Path, bar_steps: int, bpm: Callable[[], float], end_bars: int = END_BARS,
                 writer: Callable[[Callable[[], None]], None] | None = None,
                 wall_clock: Callable[[], float] = time.time, say: Callable[[str], None] = lambda line: None):
        self.source, self.folder, self.bar_steps, self._bpm = source, Path(folder), int(bar_steps), bpm
        self.bar_pulses = self.bar_steps * PULSES_PER_STEP
        self.end_pulses = end_bars * self.bar_pulses
        self._writer = writer if writer is not None else ThreadWriter()
        self._wall_clock, self._say = wall_clock, say
        self._events: list[tuple[float, Any]] = []  # the take being played: (position in pulses, message)
        self._down: set[tuple[int, int]] = set()  # (channel, note) of the keys down
        self._tempo = 120.0  # the transport's tempo at the take's start
        self._last = 0.0  # position of the take's last event
        self._pulse: int | None = None  # the last running tick's pulse
        self.written: list[Path] = []
        self.failures: list[str] = []

    def hear(self, tick: Any) -> None:
        """Every tick of the transport (``pulse``, ``running``, ``due``): take what arrived."""
        jumped = self._pulse is not None and tick.pulse < self._pulse
        if self._events and (jumped or not tick.running):
            self._finish(self._pulse)  # the take ends where the grid it was played on ends
        events = self.source.drain()
        if not tick.running:
            self._pulse = None
            return
        self._pulse = tick.pulse
        pulse_seconds = 60.0 / self._bpm() / PULSES_PER_QUARTER
        for event in events:
            message = event.message
            if getattr(message, "channel", None) is None:
                continue
            position = max(0.0, tick.pulse + (event.time - tick.due) / pulse_seconds)
            if self._events and not self._down and position >= self._last + self.end_pulses:
                self._finish(None)  # the silence before this message ended the take
            self._add(position, message)
        if self._events and not self._down and tick.pulse >= self._last + self.end_pulses:
            self._finish(tick.pulse)

    def _add(self, position: float, message) -> None:
        key = (message.channel, getattr(message, "note", -1))
        if message.type == "note_on" and message.velocity > 0:
            if not self._events:
                self._tempo = float(self._bpm())
            self._down.add(key)
        elif message.type in ("note_on", "note_off"):
            if key not in self._down:
                return  # the end of a key pressed before the take began
            self._down.discard(key)
        elif not self._events:
            return  # a pedal or a bend before the first note: not part of a take
        position = max(position, self._last if self._events else position)
        self._events.append((position, message))
        self._last = position

    def _finish(self, pulse: int | None) -> None:
        """End the take at ``pulse`` (keys still down end there) and hand it to the writer."""
        events, self._events = self._events, []
        if self._down:  # keys still down end here
            at = max(self._last, float(pulse if pulse is not None else self._last))
            events += [(at, mido.Message("note_off", channel=c, note=n)) for c, n in sorted(self._down)]
            self._down.clear()
        first = next(position for position, message in events if message.type == "note_on")
        start = int(first // self.bar_pulses) * self.bar_pulses
        end = max(start + self.bar_pulses, math.ceil(events[-1][0] / self.bar_pulses) * self.bar_pulses)
        tempo, wall_time = self._tempo, self._wall_clock()
        self._writer(lambda: self._write(events, start, end, tempo, wall_time))

    def _write(self, events, start: int, end: int, bpm: float, wall_time: float) -> None:
        """The writer's job: build the file and write it atomically; a failure is said, never raised."""
        try:
            buffer = io.BytesIO()
            take_file(events, start, end, bpm, self.bar_steps).save(file=buffer)
            self.folder.mkdir(parents=True, exist_ok=True)
            path = write_new(self.folder, "take", buffer.getvalue(), wall_time)
        except (OSError, ValueError) as error:  # a full or read-only disk, a missing mount; never the writer's end
            self.failures.append(str(error))
            self._say(f"input take not written: {self.folder}: {getattr(error, 'strerror', None) or error}")
            return
        self.written.append(path)
        bars = (end - start) // self.bar_pulses
        self._say(f"kept your take ({bars} bar{'s' if bars != 1 else ''}) in {path}")

    def close(self) -> None:
        """End the take being played where the transport is now, and let the writes finish (bounded). Idempotent."""
        if self._events:
            self._finish(self._pulse)
        close = getattr(self._writer, "close", None)
        if close is not None:
            close()


def open_takes(config, midi_in, bpm: Callable[[], float], say: Callable[[str], None]) -> TakeRecorder | None:
    """The box's input recorder from ``config`` (capture.input_folder, capture.take_end_bars, music.bar_steps),
    hearing ``midi_in`` (a reader of the MIDI input); None without a folder. The folder is made now, so a
    folder that cannot be is said before anything plays (OSError naming it)."""
    folder = config.capture.input_folder
    if not folder or midi_in is None:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"--record-input {folder}: cannot make that folder ({error.strerror or error})") from None
    say(f"keeping what you play on {midi_in.name!r} in {folder}, a MIDI file per take")
    return TakeRecorder(midi_in, folder, config.music.bar_steps, bpm, config.capture.take_end_bars, say=say)
