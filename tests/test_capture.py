"""Capture: the last N bars as a valid MIDI file, atomically, written off the loop's thread."""

import os
import subprocess
import sys
import threading
import time

import mido
import pytest

from device.core import files as files_module
from device.core.clock import FakeClock
from device.core.encoding import NO_EVENT
from device.core.files import write_new
from device.engine.controlstate import ControlState, FixedControls
from device.midi.midi_out import MidiOut
from device.play import capture as capture_module
from device.play.capture import TICKS_PER_PULSE, Capture, midi_file, time_signature
from device.play.loop import Loop
from device.transport.internal import InternalTransport
from tests.recording import ROOT, RecordingOutput

BAR = 16 * 6  # pulses in a 4/4 bar
NOON = 1_700_000_000.0  # a fixed wall-clock time for file names


def inline(job):
    job()


def notes_of(path):
    """[(start tick, end tick, pitch, velocity)] of a one-track MIDI file."""
    now, sounding, notes = 0, {}, []
    for message in mido.MidiFile(path).tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding[message.note] = (now, message.velocity)
        elif message.type in ("note_on", "note_off"):
            start, velocity = sounding.pop(message.note)
            notes.append((start, now, message.note, velocity))
    return notes


def played(capture, notes):
    """Feed (start pulse, end pulse, pitch, velocity) notes to the capture as MidiOut would."""
    events = sorted([(s, 1, p, v) for s, _, p, v in notes] + [(e, 0, p, 0) for _, e, p, _ in notes])
    for pulse, _, pitch, velocity in events:
        capture.record(pulse, pitch, velocity)


def test_time_signatures():
    assert [time_signature(n) for n in (16, 12, 6, 5)] == [(4, 4), (3, 4), (3, 8), (5, 16)]


def test_a_capture_holds_exactly_the_last_n_bars_up_to_the_bar_line_after_the_request(tmp_path):
    capture = Capture(tmp_path, bars=2, bpm=120, bar_steps=16, writer=inline, wall_clock=lambda: NOON)
    played(capture, [(0, 6, 60, 100), (96, 102, 62, 90), (150, 200, 64, 80), (290, 300, 65, 70)])
    capture.tick(250)
    capture.request()
    capture.tick(287)
    assert capture.written == []  # not before the bar line
    capture.tick(288)  # bar 3's end: bars 2 and 3 (pulses 96..288)
    [path] = capture.written
    assert notes_of(path) == [(0, 6 * TICKS_PER_PULSE, 62, 90), (54 * TICKS_PER_PULSE, 104 * TICKS_PER_PULSE, 64, 80)]
    assert mido.MidiFile(path).length == pytest.approx(2 * 16 * 0.125)  # exactly 2 bars at 120 bpm
    assert path.name == time.strftime("capture-%Y%m%d-%H%M%S.mid", time.localtime(NOON))


def test_notes_across_the_first_and_last_bar_lines_are_cut_there(tmp_path):
    capture = Capture(tmp_path, bars=1, bpm=120, bar_steps=16, writer=inline)
    played(capture, [(90, 100, 60, 100)])
    capture.record(180, 67, 50)  # still sounding at the bar line
    capture.request()
    capture.tick(BAR * 2)
    assert notes_of(capture.written[0]) == [(0, 4 * TICKS_PER_PULSE, 60, 100),
                                           (84 * TICKS_PER_PULSE, 96 * TICKS_PER_PULSE, 67, 50)]


def test_a_capture_before_n_bars_were_played_starts_with_silence(tmp_path):
    capture = Capture(tmp_path, bars=4, bpm=90, bar_steps=12, writer=inline)
    played(capture, [(0, 6, 60, 100)])
    capture.request()
    capture.tick(72)  # the first bar line of 3/4
    [path] = capture.written
    assert notes_of(path) == [(3 * 72 * TICKS_PER_PULSE, (3 * 72 + 6) * TICKS_PER_PULSE, 60, 100)]
    assert mido.MidiFile(path).length == pytest.approx(4 * 12 * 60 / 90 / 4)


def test_two_captures_in_one_second_never_overwrite(tmp_path):
    capture = Capture(tmp_path, bars=1, bpm=120, bar_steps=16, writer=inline, wall_clock=lambda: NOON)
    for bar in (1, 2):
        capture.request()
        capture.tick(bar * BAR)
    first, second = capture.written
    assert second.name == first.name.replace(".mid", "-2.mid")


def test_a_write_that_fails_midway_leaves_no_file_and_says_why(tmp_path, monkeypatch):
    said = []
    capture = Capture(tmp_path / "captures", bars=1, bpm=120, bar_steps=16, writer=inline, say=said.append)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "fsync", disk_full)
    capture.request()
    capture.tick(BAR)
    assert os.listdir(tmp_path / "captures") == []  # neither the capture nor its temp file
    assert said == [f"capture failed: {tmp_path / 'captures'}: No space left on device"]


def test_a_new_file_never_takes_an_existing_name_and_leaves_no_temp_file(tmp_path):
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(NOON))
    taken = tmp_path / f"capture-{stamp}.mid"
    taken.write_bytes(b"old")
    assert write_new(tmp_path, "capture", b"new", NOON) == tmp_path / f"capture-{stamp}-2.mid"
    assert sorted(os.listdir(tmp_path)) == [f"capture-{stamp}-2.mid", f"capture-{stamp}.mid"]
    assert taken.read_bytes() == b"old"


def test_midi_file_of_no_notes_is_the_bars_of_silence():
    file = midi_file([], 0, 2 * BAR, 120, 16, 0)
    assert [m.type for m in file.tracks[0]] == ["track_name", "set_tempo", "time_signature", "end_of_track"]
    assert file.length == pytest.approx(4.0)


class Scripted:
    """A generator playing a rising line, one note a step."""

    def __init__(self):
        self.count = 0

    def next_token(self, state, step=None):
        self.count += 1
        return 48 + self.count % 24 if self.count % 4 else NO_EVENT

    def reset(self):
        pass


class CaptureAt(FixedControls):
    def __init__(self, at):
        super().__init__(ControlState(gate=0.5, accent=1.0))
        self.at = at

    def read(self):
        state = super().read()
        return state if self.reads - 1 != self.at else ControlState(gate=0.5, accent=1.0, capture=True)


def test_the_loop_keeps_its_deadlines_while_a_capture_is_written(tmp_path, monkeypatch):
    """The write blocks (a slow SD card) until the loop has played 3 more bars on time."""
    release, loop_thread, writer_threads = threading.Event(), threading.get_ident(), []
    real_write = capture_module.write_new

    def slow_write(*args):
        writer_threads.append(threading.get_ident())
        assert release.wait(10), "the loop never finished its bars"  # bounded: a deadlock fails, not hangs
        return real_write(*args)

    monkeypatch.setattr(capture_module, "write_new", slow_write)
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    capture = Capture(tmp_path, bars=2, bpm=120, bar_steps=16)
    midi_out = MidiOut(port, clock=clock, recorder=capture.record)
    reports = []
    loop = Loop(Scripted(), midi_out, CaptureAt(40), InternalTransport(clock, 120), on_step=reports.append,
                capture=capture)
    loop.run(48 + 48)  # the request at step 40: bars 2-3 written at step 48's bar line; then 3 more bars
    assert capture.written == []
    release.set()
    capture.close()
    assert writer_threads and writer_threads[0] != loop_thread
    assert max(report.lateness for report in reports) == 0.0
    [path] = capture.written
    notes = notes_of(path)
    sent = [(round(t / 0.125 * 6), m) for t, m in zip(port.times, port.messages, strict=True) if m.type == "note_on"]
    expected = [((pulse - BAR) * TICKS_PER_PULSE, m.note, m.velocity) for pulse, m in sent if BAR <= pulse < 3 * BAR]
    assert [(start, pitch, velocity) for start, _, pitch, velocity in notes] == expected
    lengths = {(end - start) // TICKS_PER_PULSE for start, end, _, _ in notes}
    assert lengths == {4, 6 + 4}  # the gate as played: 4 pulses of a note's last 16th
    assert mido.MidiFile(path).length == pytest.approx(2 * 16 * 0.125)


def test_a_process_killed_mid_write_leaves_only_a_temp_file_which_the_next_capture_removes(tmp_path):
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from device.core import files\n"
        "def killed(fd):\n"
        "    os.kill(os.getpid(), 9)\n"
        "files.os.fsync = killed\n"
        "files.write_new(Path(sys.argv[1]), 'capture', b'MThd' * 1000, 0.0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, check=False)
    assert result.returncode == -9
    [left] = os.listdir(tmp_path)
    assert left.startswith(".capture-") and left.endswith(".tmp")  # never a partial capture-*.mid
    capture = Capture(tmp_path, bars=1, bpm=120, bar_steps=16, writer=inline, wall_clock=lambda: NOON)
    capture.request()
    capture.tick(BAR)
    assert os.listdir(tmp_path) == [capture.written[0].name]


def test_when_the_song_position_goes_back_the_capture_holds_only_the_new_timeline(tmp_path):
    capture = Capture(tmp_path, bars=1, bpm=120, bar_steps=16, writer=inline)
    played(capture, [(300, 306, 70, 100)])  # before a drum machine's new Start
    capture.tick(310)
    capture.request()
    capture.tick(0)  # Start: pulse 0 again
    played(capture, [(6, 12, 60, 90)])
    capture.tick(BAR)
    assert notes_of(capture.written[0]) == [(6 * TICKS_PER_PULSE, 12 * TICKS_PER_PULSE, 60, 90)]
