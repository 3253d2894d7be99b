"""SIGINT and SIGTERM at any moment of `melodybox run`: the box stops, quietly, with nothing sounding.

Each run is the real command in a child process writing to a MIDI file; the signal is sent at
several moments from the first instant the box's own code runs (before numpy, mido or the model
load) to well into playing. Whatever the moment: exit status 0, no traceback, and no note left
sounding in what was written. (Before that instant the interpreter itself is starting, and the
signal's default action applies: SIGTERM ends it silently.)
"""

import os
import signal
import subprocess
import sys
import time

import mido
import pytest

from tests.recording import ROOT, shipped_model_path, sounding_notes

NO_MIDI_ENV = {"MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK", "JACK_DEFAULT_SERVER": "melodybox-none",
               "JACK_NO_START_SERVER": "1"}


def start_box(tmp_path, ignore_sigint=False):
    """The real box, headless, playing 100,000 steps (hours) into a MIDI file: it ends only if a signal stops it."""
    command = [sys.executable, "-m", "device", "run", "--model", str(shipped_model_path()), "--midi-file",
               str(tmp_path / "out.mid"), "--steps", "100000", "--bpm", "400", "--seed", "1"]

    def inherit_ignored_sigint():  # what a non-interactive shell does to a background job
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, **NO_MIDI_ENV), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=inherit_ignored_sigint if ignore_sigint else None)


def handles_sigterm(pid):
    """True once the process catches SIGTERM: the box's own handler is in place (Python itself never catches it)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def stop_after(box, signum, seconds):
    """Send ``signum`` ``seconds`` after the box's first instant of its own code (its handler in place)."""
    deadline = time.monotonic() + 30
    while not handles_sigterm(box.pid) and time.monotonic() < deadline:
        time.sleep(0.0005)
    time.sleep(seconds)
    box.send_signal(signum)
    try:
        _, stderr = box.communicate(timeout=30)  # not ignored: it ends
    finally:
        if box.poll() is None:  # ignored: the test fails, and leaves no box playing for hours
            box.kill()
            box.wait()
    return box.returncode, stderr, signum


def assert_clean(returncode, stderr, signum, tmp_path):
    assert returncode == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    out = tmp_path / "out.mid"
    if out.exists():  # written only if the box got as far as opening its output
        assert sounding_notes(mido.MidiFile(out)) == set()


@pytest.mark.parametrize("seconds", [0.0, 0.01, 0.05, 0.15, 0.5])
def test_sigint_at_any_moment_stops_the_box_quietly(tmp_path, seconds):
    assert_clean(*stop_after(start_box(tmp_path), signal.SIGINT, seconds), tmp_path)


@pytest.mark.parametrize("seconds", [0.0, 0.05, 0.5])
def test_sigterm_at_any_moment_stops_the_box_quietly(tmp_path, seconds):
    assert_clean(*stop_after(start_box(tmp_path), signal.SIGTERM, seconds), tmp_path)


def test_sigint_stops_a_box_started_in_the_background_with_sigint_ignored(tmp_path):
    assert_clean(*stop_after(start_box(tmp_path, ignore_sigint=True), signal.SIGINT, 0.15), tmp_path)


def test_sigterm_before_the_interpreter_has_started_ends_it_silently(tmp_path):
    box = start_box(tmp_path)
    box.send_signal(signal.SIGTERM)
    _, stderr = box.communicate(timeout=30)
    assert box.returncode in (0, -signal.SIGTERM) and "Traceback" not in stderr, stderr


def test_a_box_that_got_to_play_says_so_and_leaves_the_file_silent(tmp_path):
    box = start_box(tmp_path)
    said = []
    while not any("writing what plays to" in line for line in said):  # the box is about to play
        said.append(box.stderr.readline())
        assert said[-1], "the box ended before it played"
    returncode, stderr, signum = stop_after(box, signal.SIGINT, 0.5)
    assert returncode == 0, stderr
    assert_clean(returncode, stderr, signum, tmp_path)
    assert "stopped after" in stderr and "all notes off" in stderr
    assert mido.MidiFile(tmp_path / "out.mid").length > 0
