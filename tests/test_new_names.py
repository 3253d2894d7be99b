"""Two boxes never take one name: not a recording's file name (a new run never overwrites an older one, even
started in the same second) and not a virtual MIDI port's name; and a box never lists its own virtual output
among the inputs it could listen to."""

import os
import subprocess
import sys
import threading
import time

import mido
import pytest

from device.core.clock import FakeClock
from device.midi import ports
from device.midi.ports import MidiFileOutput
from tests.jack_server import JackServer, JackUnavailable, wait_until
from tests.recording import ROOT
from tests.test_box import offline_tokens
from tests.test_cli import MODEL, NO_MIDI_ENV, error_lines, played_pitches
from tests.test_jack_clock import Lines

NOON = 1_700_000_000.0
BOXES = 4


def test_boxes_started_together_without_midi_or_sound_each_write_their_own_file(tmp_path):
    command = [sys.executable, "-m", "device", "run", "--model", MODEL, "--steps", "32", "--bpm", "400"]
    boxes = [subprocess.Popen([*command, "--seed", str(seed)], cwd=tmp_path, env={**os.environ, **NO_MIDI_ENV},
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for seed in range(BOXES)]
    said = [box.communicate(timeout=120)[1] for box in boxes]
    assert [box.returncode for box in boxes] == [0] * BOXES, said
    names = [next(line for line in stderr.splitlines() if "writing what plays to" in line)
             .split("writing what plays to ")[1].split(";")[0] for stderr in said]
    assert len(set(names)) == BOXES and sorted(p.name for p in tmp_path.glob("melodybox-*.mid")) == sorted(names)
    for seed, name in enumerate(names):
        assert played_pitches(tmp_path / name) == [t for t in offline_tokens([1.0] * 32, seed=seed) if t < 128]


def test_recordings_opened_in_the_same_second_on_many_threads_take_different_names(tmp_path):
    opened = []

    def record():
        opened.append(MidiFileOutput.new(tmp_path, "melodybox", 120, FakeClock(), wall_time=NOON))

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(NOON))
    expected = [f"melodybox-{stamp}.mid"] + [f"melodybox-{stamp}-{n}.mid" for n in range(2, 9)]
    assert sorted(p.path.name for p in opened) == sorted(expected)
    for port in opened:  # each name is a whole MIDI file from the start, then the recording on close
        assert [m.type for m in mido.MidiFile(port.path)] == ["set_tempo", "time_signature", "end_of_track"]
        port.close()
    assert sorted(os.listdir(tmp_path)) == sorted(expected)  # no temp file left


@pytest.fixture(scope="module")
def jack():
    try:
        with JackServer(name=f"melodybox-names-{os.getpid()}") as server:
            yield {**os.environ, **server.env}
    except JackUnavailable as error:
        pytest.skip(str(error))


def listed(kind, name):
    """Another program sees a port called ``name`` among its ``kind`` ports (a virtual output is an input to it)."""
    return any(n.endswith(f":{name}") for n in getattr(mido, f"get_{kind}_names")())


def box(env, *args):
    return subprocess.run([sys.executable, "-m", "device", "run", "--model", MODEL, "--sim", "--bpm", "400", *args],
                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


@pytest.mark.jack
def test_a_virtual_output_name_another_box_has_is_refused_with_a_free_one(jack):
    name = f"Melody Box {os.getpid()}"
    with ports.open_virtual(name):  # the first box
        assert wait_until(lambda: listed("input", name), seconds=10)
        result = box(jack, "--virtual", name, "--steps", "4")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"melodybox: error: a virtual MIDI output called {name!r} is open already (another Melody Box?): give this "
        f"one another name, e.g. --virtual '{name} 2' (`melodybox ports` lists the outputs, `melodybox doctor` "
        "checks the setup)"]


@pytest.mark.jack
def test_the_default_virtual_input_taken_by_another_box_becomes_the_next_free_name(jack):
    with ports.open_virtual_input("Melody Box In"):  # another box following a clock
        assert wait_until(lambda: listed("output", "Melody Box In"), seconds=10)
        follower = subprocess.Popen([sys.executable, "-m", "device", "run", "--model", MODEL, "--sim", "--clock",
                                     "follow", "--virtual", f"out-{os.getpid()}"], cwd=ROOT, env=jack,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
        lines = Lines(follower.stderr)
        try:
            assert lines.wait_for("following MIDI clock"), lines.lines
        finally:
            follower.terminate()
            follower.wait(timeout=20)
    said = "\n".join(lines.lines)
    assert "melodybox: a virtual MIDI input called 'Melody Box In' is open already (another Melody Box?): this " \
           "one is 'Melody Box In 2'" in said
    assert "listening on a new virtual MIDI input 'Melody Box In 2'" in said


@pytest.mark.jack
def test_a_missing_input_lists_the_inputs_but_never_the_boxs_own_virtual_output(jack):
    own, other = f"own-{os.getpid()}", f"drums-{os.getpid()}"
    with ports.open_virtual(other):  # a drum machine's output: an input for the box
        assert wait_until(lambda: listed("input", other), seconds=10)
        result = box(jack, "--virtual", own, "--input", "no such input", "--steps", "4")
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line.startswith("melodybox: error: no MIDI input matches 'no such input'; available: ")
    assert other in line and own not in line
