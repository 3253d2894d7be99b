"""device.midi.polled_input: an rtmidi input read by polling, with arrival times from RtMidi's deltas; and, on a
real JACK server, the reason for it: opening and closing inputs while messages stream in never hangs."""

import os
import subprocess
import sys
import threading

import mido
import pytest

from device.midi.polled_input import PolledInput, arrival_time, recording
from tests.jack_server import JackServer, JackUnavailable, wait_until
from tests.recording import ROOT


class FakeRtMidiIn:
    """python-rtmidi's MidiIn as the reader uses it: messages arrive with ``put`` as (bytes, delta seconds)."""

    def __init__(self):
        self.queue, self.lock = [], threading.Lock()
        self.closed = self.deleted = False

    def put(self, *messages):
        with self.lock:
            self.queue.extend(messages)

    def get_message(self):
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def close_port(self):
        self.closed = True

    def delete(self):
        self.deleted = True


class StepClock:
    """A time source the test moves by hand (seconds)."""

    def __init__(self, start=100.0):
        self.time = start

    def __call__(self):
        return self.time


def test_times_keep_the_spacing_rtmidi_measured_not_when_the_poll_came():
    # a pulse found at once at 10.000; two more, 20 ms apart, found together by a poll at 10.050
    first = arrival_time(10.000, 9.999, None, 0.0)
    second = arrival_time(10.050, 10.010, first, 0.020)
    third = arrival_time(10.050, 10.010, second, 0.020)
    assert (first, second, third) == pytest.approx((10.000, 10.020, 10.040))


def test_a_time_is_never_after_its_poll_nor_before_the_last_empty_poll():
    assert arrival_time(10.050, 10.000, 10.040, 0.030) == pytest.approx(10.050)  # RtMidi's sum runs ahead
    assert arrival_time(11.000, 10.990, 10.000, 0.300) == pytest.approx(10.990)  # a silence polled empty


def test_the_reader_thread_delivers_bytes_with_their_times():
    rt, clock = FakeRtMidiIn(), StepClock()
    got = []
    port = PolledInput(rt, "drums", now=clock)
    rt.put(([0xF8], 0.0), ([0xFA], 0.020))
    port.on_bytes(lambda data, arrived: got.append((data, arrived)))
    assert wait_until(lambda: len(got) == 2, seconds=5)
    port.close()
    assert got == [([0xF8], 100.0), ([0xFA], 100.0)]  # the clock stood still: no time after the poll's


def test_a_callback_gets_parsed_messages_and_bytes_that_are_not_midi_are_dropped():
    rt = FakeRtMidiIn()
    port, got = PolledInput(rt, "keys"), []
    port.callback = got.append
    rt.put(([0x90, 60, 100], 0.0), ([0x90, 200], 0.0), ([0x05], 0.0), ([0x80, 60, 0], 0.01))
    assert wait_until(lambda: len(got) == 2, seconds=5)
    port.close()
    assert got == [mido.Message("note_on", note=60, velocity=100), mido.Message("note_off", note=60, velocity=0)]


def test_recording_keeps_arrival_times_and_messages():
    rt, clock = FakeRtMidiIn(), StepClock(5.0)
    port = PolledInput(rt, "drums", now=clock)
    heard = recording(port)
    rt.put(([0xFA], 0.0))
    assert wait_until(lambda: len(heard) == 1, seconds=5)
    port.close()
    assert heard == [(5.0, mido.Message("start"))]


def test_close_stops_the_reader_and_closes_the_port_once():
    rt = FakeRtMidiIn()
    port = PolledInput(rt, "drums")
    port.on_bytes(lambda data, arrived: None)
    port.close()
    port.close()
    assert rt.closed and rt.deleted and port.closed
    assert not port._thread.is_alive()


def test_without_a_reader_iter_pending_gives_what_arrived():
    rt = FakeRtMidiIn()
    port = PolledInput(rt, "drums")
    rt.put(([0xF8], 0.0), ([0xF4], 0.0), ([0xFC], 0.01))  # 0xF4 is undefined: dropped
    assert [m.type for m in port.iter_pending()] == ["clock", "stop"]
    assert list(port.iter_pending()) == []


# --- on a real JACK server ----------------------------------------------------------------------------------

FLOOD = """
import sys, time, mido
with mido.open_output(sys.argv[1], virtual=True) as out:
    print("ready", flush=True)
    while True:
        out.send(mido.Message("clock"))
        time.sleep(0.0005)
"""

OPEN_AND_CLOSE = """
import sys
from device.midi import ports
name = next(n for n in ports.list_names("input") if sys.argv[1] in n)
for _ in range(int(sys.argv[2])):
    with ports.open_input(name) as port:
        port.on_bytes(lambda data, arrived: None)
        import time; time.sleep(0.02)
print("done", flush=True)
"""


@pytest.mark.jack
def test_inputs_open_and_close_under_a_message_stream_without_hanging():
    """Through mido (rtmidi's callback) this hung within 5 to 15 rounds: JACK cancelled its thread inside Python."""
    try:
        server = JackServer(name=f"melodybox-polled-{os.getpid()}", period=64).__enter__()
    except JackUnavailable as error:
        pytest.skip(str(error))
    env = {**os.environ, **server.env}
    name = f"flood-{os.getpid()}"
    flood = subprocess.Popen([sys.executable, "-c", FLOOD, name], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert flood.stdout.readline().strip() == "ready"
        done = subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, name, "100"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-500:]
    finally:
        flood.kill()
        flood.wait()
        server.__exit__(None, None, None)
