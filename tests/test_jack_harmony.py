"""The player's input through a real MIDI stack: `melodybox run --harmony follow` (and `--record-input`) in a
subprocess on a private JACK dummy server (period 64), and this process as the keyboard player on its own rtmidi
ports, holding chords and hearing the box.

- On the box's own clock: the chords change every 0.6 s through nine keys; each note the box plays is judged
  against the chord held when it arrived (a note within 30 ms of a change could have been chosen either way:
  not judged). At the default harmony, chord tones on the beat and the key's between: mostly chord tones.
- Following a clock sent from here: the chords change on the clock's bar lines, on the clock's port or on a
  port of their own (two ports into the box's virtual input); the box's steps are the clock's, so its notes on
  the beat are judged against their bar's chord.
- Takes (--record-input): a take ends after two bars without a key down and is written whole; a box stopped by
  SIGTERM mid-take writes that take complete, with the key still down ended; a box killed outright (a power cut)
  loses only the take being played, and no file in the folder is ever partial.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import mido
import numpy as np
import pytest

from device.core.chords import parse_chord
from device.midi.polled_input import recording
from device.midi.ports import open_virtual_input
from tests.jack_server import JackServer, JackUnavailable, once_more_if_midi_was_lost, wait_until
from tests.recording import ROOT, shipped_model_path
from tests.test_jack_clock import Lines

pytestmark = pytest.mark.jack
SEED = 1
BPM = 240
PULSE = 60 / BPM / 24  # seconds
SLACK = 0.03  # seconds: a note this soon after a chord change may have been chosen before the box heard it


@pytest.fixture(scope="module")
def jack():
    try:
        with JackServer(name=f"melodybox-harmony-{os.getpid()}", period=64) as server:
            yield server, {**os.environ, **server.env}
    except JackUnavailable as error:
        pytest.skip(str(error))


def box(env, *flags):
    command = [sys.executable, "-m", "device", "run", "--model", str(shipped_model_path()), "--seed", str(SEED),
               "--sim", "--bpm", str(BPM), "--harmony", "follow", *flags]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    return child, Lines(child.stderr)


def pitches_of(name: str) -> list[int]:
    """A chord as a keyboard player holds it: its tones from middle C up."""
    return sorted(60 + (tone - 60) % 12 for tone in parse_chord(name).tones)


def change(port, before: str | None, after: str) -> None:
    for pitch in pitches_of(before) if before else ():
        port.send(mido.Message("note_off", note=pitch, channel=1))
    for pitch in pitches_of(after):
        port.send(mido.Message("note_on", note=pitch, velocity=80, channel=1))


def note_ons(heard):
    return [(t, m.note) for t, m in list(heard) if m.type == "note_on" and m.velocity > 0]


def close_then_stop(ports, child) -> None:
    """Close this process's ports, then stop the box. The other way round, JACK (2 1.9.21, synchronous) holds
    the next close of a port here for 5 to 10 s after the box has gone."""
    for port in ports:
        port.close()
    if child.poll() is None:
        child.terminate()
    child.wait(timeout=20)


def test_on_its_own_clock_the_box_plays_mostly_tones_of_the_chord_held_at_that_moment(jack):
    _, env = jack
    chords = ["C", "Am", "F", "G7", "E", "Dm7", "Bb", "Eb", "Ab"]
    tag = f"harmony-own-{os.getpid()}"
    notes_in, keys = open_virtual_input(f"{tag}-notes"), mido.open_output(f"{tag}-keys", virtual=True)
    heard = recording(notes_in)
    child, lines = box(env, "--input", f"{tag}-keys", "--port", f"{tag}-notes", "--harmony-channel", "2")
    try:
        assert lines.wait_for("following the chords you hold"), lines.lines
        assert wait_until(lambda: note_ons(heard), 20), lines.lines  # the box plays: now the chords
        changes, before = [], None
        for name in chords:
            change(keys, before, name)
            changes.append((time.monotonic(), name))
            before = name
            time.sleep(0.6)
    finally:
        close_then_stop([keys, notes_in], child)
    judged = []
    for arrived, pitch in note_ons(heard):
        held = [name for at, name in changes if at <= arrived - SLACK]
        if held and not any(arrived - SLACK < at <= arrived for at, _ in changes):
            judged.append(pitch % 12 in parse_chord(held[-1]).tones)
    assert "Traceback" not in "\n".join(lines.lines), lines.lines
    assert len(judged) >= 25, (len(judged), lines.lines)
    assert np.mean(judged) >= 0.6, (np.mean(judged), len(judged))


def play_clock_and_chords(clock_port, chord_port, chords, bars):
    """Start, then MIDI clock at BPM for ``bars`` bars and two steps more, the chords changing two pulses before each
    bar line; returns the sending thread and a function giving the pulses sent so far (0 before the first)."""
    sent = [0]

    def run():
        change(chord_port, None, chords[0])
        clock_port.send(mido.Message("start"))
        start = time.perf_counter()
        for pulse in range(bars * 96 + 12):
            if pulse % 96 == 94 and (pulse + 2) // 96 < bars:
                bar = (pulse + 2) // 96
                change(chord_port, chords[bar - 1], chords[bar])
            while time.perf_counter() < start + pulse * PULSE:
                time.sleep(0.0005)
            clock_port.send(mido.Message("clock"))
            sent[0] = pulse + 1
        clock_port.send(mido.Message("stop"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, lambda: sent[0]


@once_more_if_midi_was_lost
def test_following_a_clock_with_chords_on_its_port_the_beats_notes_are_tones_of_their_bars_chord(jack, attempt):
    follow_chords(jack, attempt, two_ports=False)


@once_more_if_midi_was_lost
def test_following_a_clock_with_chords_on_a_port_of_their_own_the_beats_notes_are_tones_of_the_chord(jack, attempt):
    follow_chords(jack, attempt, two_ports=True)


def follow_chords(jack, attempt, two_ports):
    """The box follows a clock sent from here; the chords change on its bar lines, on the clock's port or on one of
    their own (both into the box's virtual input): its notes on the beat are tones of their bar's chord."""
    server, env = jack
    chords, bars = ["C", "Ab", "E", "F#m"], 4
    tag = f"harmony-follow-{int(two_ports)}-{attempt}-{os.getpid()}"
    notes_in = open_virtual_input(f"{tag}-notes")
    heard, counted, ports = recording(notes_in), [], []
    if two_ports:  # the drum machine and the keyboard, each on its own port, into the box's virtual input
        child, lines = box(env, "--clock", "follow", "--virtual-input", f"{tag}-in", "--port", f"{tag}-notes")
    else:
        ports = [mido.open_output(f"{tag}-keys", virtual=True)] * 2
        child, lines = box(env, "--clock", "follow", "--input", f"{tag}-keys", "--port", f"{tag}-notes")
    try:
        assert lines.wait_for("following MIDI clock"), lines.lines
        if two_ports:
            name = next(n for n in server.backend.get_output_names() if f"{tag}-in" in n)
            ports = [server.backend.open_output(name), server.backend.open_output(name)]
        time.sleep(0.3)  # JACK connects the ports on its next cycles
        thread, pulses = play_clock_and_chords(ports[0], ports[1], chords, bars)
        while thread.is_alive():
            for _, pitch in note_ons(heard)[len(counted):]:
                counted.append((pulses(), pitch))
            time.sleep(0.001)
        time.sleep(0.1)
    finally:
        close_then_stop([*set(ports), notes_in], child)
    on_beat = [(count - 1) // 6 for count, _ in counted]
    judged = [pitch % 12 in parse_chord(chords[step // 16]).tones for step, (_, pitch) in zip(on_beat, counted,
                                                                                              strict=True)
              if step % 4 == 0 and step < bars * 16]
    assert "Traceback" not in "\n".join(lines.lines), lines.lines
    assert len(judged) >= 10, (counted, lines.lines)
    assert np.mean(judged) >= 0.8, (np.mean(judged), counted)


# --- takes ----------------------------------------------------------------------------------------------------

def start_box(env, keys: str, folder):
    command = [sys.executable, "-m", "device", "run", "--model", str(shipped_model_path()), "--sim", "--bpm", "240",
               "--record-input", str(folder), "--input", keys, "--midi-file", str(folder.parent / "box.mid")]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    lines = Lines(child.stderr)
    if not lines.wait_for("keeping what you play"):
        child.kill()
        raise AssertionError(lines.lines)
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
    _, env = jack
    folder, keys = tmp_path / "takes", mido.open_output(f"takes-keys-{os.getpid()}", virtual=True)
    child = None
    try:
        child, lines = start_box(env, keys.name, folder)
        play(keys, [60, 62, 64])
        assert lines.wait_for("kept your take", 10), lines.lines  # two bars (2 s at 240 bpm) without a key down
        (first,) = folder.glob("take-*.mid")
        assert notes_in(first) == [("note_on", 60), ("note_off", 60), ("note_on", 62), ("note_off", 62),
                                   ("note_on", 64), ("note_off", 64)]
        play(keys, [67, 65], hold_last=True)
        child.send_signal(signal.SIGTERM)  # mid-take, a key down
        assert child.wait(timeout=20) == 0, lines.lines
        second = sorted(set(folder.glob("take-*.mid")) - {first})
        assert len(second) == 1 and notes_in(second[0]) == [("note_on", 67), ("note_off", 67), ("note_on", 65),
                                                            ("note_off", 65)]

        child, lines = start_box(env, keys.name, folder)
        play(keys, [72, 74], hold_last=True)
        time.sleep(0.1)
    finally:
        keys.close()  # before the kill: JACK holds the next close after a client killed with its ports open
        if child is not None:
            child.send_signal(signal.SIGKILL)  # a power cut mid-take: that take is lost, the others stay whole
            child.wait(timeout=20)
    assert sorted(folder.glob("take-*.mid")) == sorted([first, *second])
    assert [p.name for p in folder.iterdir() if not p.name.startswith("take-")] == []
    assert notes_in(first)[0] == ("note_on", 60) and notes_in(second[0])[0] == ("note_on", 67)
