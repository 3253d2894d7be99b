"""The box through a real MIDI stack: `melodybox run` in a subprocess plays into rtmidi ports on a
private JACK dummy server, and this test process receives the notes on its own rtmidi input.

The whole seeded melody must arrive exactly. (Messages used to go missing at the end: rtmidi's
JACK output hands them to the next audio cycle, and the box closed its port before then;
MidiOut.close now waits FLUSH_SECONDS, which a synth on JACK needs as much as this test.)
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from device.core.encoding import is_note_on
from device.midi import ports
from tests.jack_server import JackServer, JackUnavailable, wait_until
from tests.recording import ROOT, note_events, shipped_model_path, sounding_notes
from tests.system_packages import requires
from tests.test_box import offline_tokens, reference_events

pytestmark = pytest.mark.jack
STEPS, BPM, SEED = 24, 240, 0  # seed 0: the first step is a note


@pytest.fixture(scope="module")
def jack():
    """A private JACK dummy server (no sound card needed); yields its backend and the environment for the box."""
    try:
        with JackServer(name=f"melodybox-box-{os.getpid()}") as server:
            yield server.backend, {**os.environ, **server.env}
    except JackUnavailable as error:
        pytest.skip(str(error))


def start_box(env, *args):
    command = [sys.executable, "-m", "device", "run", "--model", str(shipped_model_path()), "--bpm", str(BPM),
               "--seed", str(SEED), "--sim", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def drain(port, messages):
    messages.extend(m for m in port.iter_pending() if m.type in ("note_on", "note_off", "control_change"))
    return messages


def test_box_plays_the_seeded_melody_into_a_real_port(jack):
    backend, env = jack
    receiver_name = f"melodybox-receiver-{os.getpid()}"
    with ports.open_virtual_input(receiver_name) as receiver:
        box = start_box(env, "--port", receiver_name, "--steps", str(STEPS))
        _, stderr = box.communicate(timeout=60)
        messages = []
        wait_until(lambda: note_events(drain(receiver, messages)).count(("cc", 123)) >= 2, seconds=5)
    assert box.returncode == 0, stderr
    assert "playing to MIDI output" in stderr and receiver_name in stderr
    tokens = offline_tokens([1.0] * STEPS, seed=SEED)
    expected = reference_events(tokens, silences_after={STEPS - 1}) + [("cc", 123)]
    received = note_events(messages)
    assert received == expected, (received, expected)


def test_sigterm_mid_note_leaves_nothing_sounding(jack):
    backend, env = jack
    port_name = f"melodybox-virtual-{os.getpid()}"
    box = start_box(env, "--virtual", port_name, "--bpm", "20")  # a step is 0.75 s: every note lasts that long
    try:
        assert wait_until(lambda: any(port_name in n for n in backend.get_input_names()) or box.poll() is not None,
                          seconds=20)
        assert box.poll() is None, box.stderr.read()
        name = next(n for n in backend.get_input_names() if port_name in n)
        with ports.open_input(name) as receiver:  # connects this input to the box's virtual output
            messages = []
            assert wait_until(lambda: sounding_notes(drain(receiver, messages)), seconds=20), "no note arrived"
            heard = time.monotonic()
            box.send_signal(signal.SIGTERM)
            # The signal left less than a step after the note started: the note was still sounding.
            assert time.monotonic() - heard < 0.75 - 0.1
            _, stderr = box.communicate(timeout=20)
            wait_until(lambda: ("cc", 123) in note_events(drain(receiver, messages)), seconds=5)
    finally:
        if box.poll() is None:
            box.kill()
            box.wait()
    assert box.returncode == 0, stderr
    assert "stopped after" in stderr and "Traceback" not in stderr
    assert any(m.type == "note_on" and is_note_on(m.note) and m.velocity > 0 for m in messages)
    assert sounding_notes(messages) == set()
    assert note_events(messages)[-1] == ("cc", 123)


@requires("libportaudio2")
def test_without_a_midi_device_the_box_plays_through_its_voice_on_the_sound_card_and_says_so(jack):
    _, env = jack  # JACK's dummy audio is the sound card here
    box = start_box(env, "--steps", "4")
    _, stderr = box.communicate(timeout=60)
    assert box.returncode == 0, stderr
    assert "no MIDI device found: playing through the built-in voice" in stderr


def test_virtual_opens_a_virtual_port_even_where_there_is_a_sound_card(jack):
    _, env = jack
    box = start_box(env, "--steps", "4", "--virtual", "Melody Box")
    _, stderr = box.communicate(timeout=60)
    assert box.returncode == 0, stderr
    assert "playing to a new virtual MIDI output 'Melody Box'" in stderr


def test_ports_lists_the_outputs(jack):
    backend, env = jack
    name = f"melodybox-listed-{os.getpid()}"
    with ports.open_virtual_input(name):
        result = subprocess.run([sys.executable, "-m", "device", "ports"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert any(name in line for line in result.stdout.splitlines())
