"""--record-input through a real MIDI stack: `melodybox run --record-input DIR` in a subprocess on a private JACK dummy
server, and this process as the player on its own rtmidi port. A take ends after two bars without a key down and
is written whole; a box stopped by SIGTERM mid-take writes that take complete, with the key still down ended; a
box killed outright (a power cut) loses only the take being played, and no file in the folder is ever partial.
"""

import os
import signal
import subprocess
import sys
import time

import mido
import pytest

from tests.jack_server import JackServer, JackUnavailable
from tests.recording import ROOT, shipped_model_path
from tests.test_jack_clock import Lines

pytestmark = pytest.mark.jack


@pytest.fixture(scope="module")
def jack():
    try:
        with JackServer(name=f"melodybox-takes-{os.getpid()}", period=64) as server:
            yield {**os.environ, **server.env}
    except JackUnavailable as error:
        pytest.skip(str(error))


def start_box(env, keys: str, folder):
    command = [sys.executable, "-m", "device", "run", "--model", str(shipped_model_path()), "--sim", "--bpm", "240",
               "--record-input", str(folder), "--input", keys, "--midi-file", str(folder.parent / "box.mid")]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    lines = Lines(child.stderr)
    assert lines.wait_for("keeping what you play"), lines.lines
    time.sleep(0.3)  # JACK connects the box's input on its next cycles
    return child, lines


def play(port, pitches, hold_last=False):
    """Each pitch for a tenth of a second; the last one left down with ``hold_last``."""
    for index, pitch in enumerate(pitches):
        port.send(mido.Message("note_on", note=pitch, velocity=90))
        time.sleep(0.1)
        if not (hold_last and index == len(pitches) - 1):
            port.send(mido.Message("note_off", note=pitch))


def notes_in(path):
    """(type, note) of every note message in a MIDI file, which must read whole."""
    return [(m.type, m.note) for m in mido.MidiFile(path) if m.type in ("note_on", "note_off")]


def test_takes_are_written_whole_and_a_stop_mid_take_writes_it_complete_a_kill_loses_only_it(jack, tmp_path):
    folder, keys = tmp_path / "takes", mido.open_output(f"takes-keys-{os.getpid()}", virtual=True)
    try:
        child, lines = start_box(jack, keys.name, folder)
        play(keys, [60, 62, 64])
        assert lines.wait_for("kept your take", 10), lines.lines  # two bars (2 s at 240 bpm) without a key down
        (first,) = folder.glob("take-*.mid")
        assert notes_in(first) == [("note_on", 60), ("note_off", 60), ("note_on", 62), ("note_off", 62),
                                   ("note_on", 64), ("note_off", 64)]
        time.sleep(1.1)  # a new second: the next take's name differs by its time, not by a number
        play(keys, [67, 65], hold_last=True)
        child.send_signal(signal.SIGTERM)  # mid-take, a key down
        assert child.wait(timeout=20) == 0, lines.lines
        second = sorted(set(folder.glob("take-*.mid")) - {first})
        assert len(second) == 1 and notes_in(second[0]) == [("note_on", 67), ("note_off", 67), ("note_on", 65),
                                                            ("note_off", 65)]

        child, lines = start_box(jack, keys.name, folder)
        play(keys, [72, 74], hold_last=True)
        time.sleep(0.1)
    finally:
        keys.close()  # before the kill: JACK holds the next close after a client killed with its ports open
        child.send_signal(signal.SIGKILL)  # a power cut mid-take: that take is lost, the others stay whole
        child.wait(timeout=20)
    assert sorted(folder.glob("take-*.mid")) == sorted([first, *second])
    assert [p.name for p in folder.iterdir() if not p.name.startswith("take-")] == []
    assert notes_in(first)[0] == ("note_on", 60) and notes_in(second[0])[0] == ("note_on", 67)
