"""Capture: the last bars the box played, written as a MIDI file while it plays on.

MidiOut tells ``Capture.record`` every note-on and note-off it plays, stamped with the
transport's pulse (24 per quarter). A capture request (a button, a long press, a CC, the
``c`` key) is answered at the next bar line: the ``bars`` bars ending there, so the bar
being heard when the button was pressed is in the file, completed. A note sounding across
the first bar line starts there; one still sounding at the end ends there. The file is
exactly ``bars`` bars long (leading silence if the box has not played that long yet).

The write runs on a writer thread, never on the loop's, through device.core.files.write_new: a crash
or a full disk leaves either the whole file or none (never a partial ``capture-*.mid``; the temp file
of a process killed mid-write goes at the next capture). Names are ``capture-YYYYmmdd-HHMMSS.mid``
(``-2``, ``-3``... within one second), taken atomically: a capture never overwrites a file, not even
another box's capture in the same folder in the same second.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import mido

from device.core.files import write_new
from device.core.timegrid import PULSES_PER_QUARTER, PULSES_PER_STEP, time_signature
from device.engine.dynamics import PulseNote

TICKS_PER_PULSE = 20  # MIDI file ticks per transport pulse: 480 per quarter, what DAWs expect


def midi_file(notes: list[PulseNote], start: int, end: int, bpm: float, bar_steps: int, channel: int,
              name: str = "Melody Box capture") -> mido.MidiFile:
    """The notes between pulses ``start`` and ``end`` as a one-track MIDI file exactly that long, in the metre of
    ``bar_steps`` and at ``bpm``; ``name``: the track's name."""
    events = []  # (pulse, order, message): note-offs before note-ons at the same pulse
    for note in notes:
        note_end = end if note.end is None else min(note.end, end)
        note_start = max(note.start, start)
        if note_start >= end or note_end <= start:
            continue
        events.append((note_start, 1, mido.Message("note_on", channel=channel, note=note.pitch,
                                                   velocity=note.velocity)))
        events.append((max(note_end, note_start), 0, mido.Message("note_off", channel=channel, note=note.pitch)))
    events.sort(key=lambda event: (event[0], event[1]))
    numerator, denominator = time_signature(bar_steps)
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name=name, time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
    ])
    now = start
    for pulse, _, message in events:
        track.append(message.copy(time=(pulse - now) * TICKS_PER_PULSE))
        now = pulse
    track.append(mido.MetaMessage("end_of_track", time=(end - now) * TICKS_PER_PULSE))
    result = mido.MidiFile(type=0, ticks_per_beat=PULSES_PER_QUARTER * TICKS_PER_PULSE)
    result.tracks.append(track)
    return result


class ThreadWriter:
    """Runs jobs one after another on its own daemon thread; ``close`` waits for those queued (bounded)."""

    def __init__(self):
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="melodybox-capture", daemon=True)
        self._thread.start()

    def __call__(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def close(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)


class Capture:
    """Keeps the last ``bars`` bars of notes and writes them to ``folder`` on request.

    ``bpm`` and ``bar_steps`` (16ths per bar) go into the file; ``channel`` (0..15) is the notes'.
    ``writer`` runs a write job off the loop's thread (default: a ThreadWriter; tests may run jobs
    inline). ``wall_clock`` gives the time for file names. ``say`` gets one line per capture written
    or failed (from the writer's thread). ``written``: the files written; ``failures``: the errors.
    """

    def __init__(self, folder: str | Path, bars: int, bpm: float, bar_steps: int, channel: int = 0,
                 writer: Callable[[Callable[[], None]], None] | None = None,
                 wall_clock: Callable[[], float] = time.time, say: Callable[[str], None] = lambda line: None):
        self.folder = Path(folder)
        self.bars, self.bpm, self.bar_steps, self.channel = bars, bpm, bar_steps, channel
        self.bar_pulses = bar_steps * PULSES_PER_STEP
        self._writer = writer if writer is not None else ThreadWriter()
        self._wall_clock, self._say = wall_clock, say
        self._notes: deque[PulseNote] = deque(maxlen=bars * bar_steps + 2)  # at most one note starts per step
        self._requested_at: int | None = None
        self._pulse = 0
        self.written: list[Path] = []
        self.failures: list[str] = []

    def record(self, pulse: int, pitch: int, velocity: int) -> None:
        """MidiOut's recorder: a note-on (velocity > 0) or the note-off (velocity 0) of the sounding note."""
        if velocity > 0:
            self._notes.append(PulseNote(pitch, velocity, pulse))
        elif self._notes and self._notes[-1].end is None and self._notes[-1].pitch == pitch:
            self._notes[-1].end = pulse

    def request(self) -> None:
        """Capture at the next bar line (a second request before then is the same capture)."""
        if self._requested_at is None:
            self._requested_at = self._pulse

    @property
    def notes(self) -> list[PulseNote]:
        """A copy of the notes kept (the last ``bars`` bars' worth at most), oldest first."""
        return [PulseNote(n.pitch, n.velocity, n.start, n.end) for n in self._notes]

    @property
    def pending(self) -> bool:
        """A capture waits for its bar line."""
        return self._requested_at is not None

    def tick(self, pulse: int) -> None:
        """The transport's pulse (the loop calls this on every tick, before the step's note):
        at a bar line after a request, hand the last bars to the writer."""
        if pulse < self._pulse:  # the song position went back (a new Start, SPP): a new timeline
            self._notes.clear()
            if self._requested_at is not None:
                self._requested_at = pulse  # written at the next bar line of the new timeline
        self._pulse = pulse
        if self._requested_at is None or pulse % self.bar_pulses or pulse <= self._requested_at:
            return
        self._requested_at = None
        start = pulse - self.bars * self.bar_pulses
        notes = self.notes  # the writer gets its own copy
        wall_time = self._wall_clock()
        self._writer(lambda: self._write(notes, start, pulse, wall_time))

    def _write(self, notes: list[PulseNote], start: int, end: int, wall_time: float) -> None:
        """The writer's job: build the file and write it atomically; a failure is said, never raised."""
        try:
            buffer = io.BytesIO()
            midi_file(notes, start, end, self.bpm, self.bar_steps, self.channel).save(file=buffer)
            self.folder.mkdir(parents=True, exist_ok=True)
            path = write_new(self.folder, "capture", buffer.getvalue(), wall_time)
        except (OSError, ValueError) as error:  # a full or read-only disk, a missing mount; never the writer's end
            self.failures.append(str(error))
            self._say(f"capture failed: {self.folder}: {getattr(error, 'strerror', None) or error}")
            return
        self.written.append(path)
        bars = "bar" if self.bars == 1 else "bars"
        self._say(f"captured the last {self.bars} {bars} to {path}")

    def close(self) -> None:
        """Let a write in progress finish (a capture still waiting for its bar line is dropped)."""
        close = getattr(self._writer, "close", None)
        if close is not None:
            close()


def open_capture(config, midi_out, say: Callable[[str], None]) -> Capture:
    """The box's Capture from ``config`` ([capture], tempo, music.bar_steps, midi.channel), hearing ``midi_out``."""
    capture = Capture(config.capture.folder, config.capture.bars, config.tempo.bpm, config.music.bar_steps,
                      channel=config.midi.channel - 1, say=say)
    midi_out.recorder = capture.record
    return capture
