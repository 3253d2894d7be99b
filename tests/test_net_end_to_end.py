"""`melodybox run --web 127.0.0.1:P --web-token T --osc 127.0.0.1:Q --osc-send 127.0.0.1:R --midi-file F` as a
process of its own, driven through HTTP and OSC both ways, with hostile traffic on both ports, then SIGTERM: it
ends cleanly and the MIDI file it wrote holds no note left sounding. The tests run in order on one box; the last
one stops it."""

import os
import random
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from tests.net_helpers import CHROMEDRIVER, NO_CHROMIUM, chromium_missing, free_port, http_request, wait_for
from tests.recording import sounding_notes

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "end-to-end-secret"
pytestmark = pytest.mark.slow


class Running:
    """The box's process and its ports; ``call`` speaks HTTP to it."""

    def __init__(self, folder: Path):
        self.web, self.osc = free_port(), free_port(socket.SOCK_DGRAM)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.midi_file = folder / "played.mid"
        self.stderr = open(folder / "stderr.txt", "w+")  # noqa: SIM115 - read at the end, closed by close()
        command = [sys.executable, "-m", "device", "run", "--web", f"127.0.0.1:{self.web}", "--web-token", TOKEN,
                   "--osc", f"127.0.0.1:{self.osc}", "--osc-send", f"127.0.0.1:{self.listener.getsockname()[1]}",
                   "--midi-file", str(self.midi_file), "--bpm", "240", "--seed", "1"]
        self.process = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self.stderr, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_for(lambda: self.process.poll() is not None or self.answers(), seconds=30)
        assert self.process.poll() is None, self.said()

    def answers(self) -> bool:
        try:
            return self.call("GET", "/api/state")[0] == 200
        except OSError:
            return False

    def call(self, method, path, body=None, token=TOKEN, headers=None):
        status, _, reply = http_request(self.web, method, path, body, token, headers)
        return status, reply

    def state(self) -> dict:
        return self.call("GET", "/api/state", token=None)[1]

    def said(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.listener.close()
        self.stderr.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    running = Running(tmp_path_factory.mktemp("end-to-end"))
    yield running
    running.close()


def test_it_plays_and_shows_its_state_and_page(box):
    first = box.state()["step"]
    wait_for(lambda: box.state()["step"] >= first + 4)
    assert box.state()["state"] == "playing"
    status, page = box.call("GET", "/", token=None)
    assert (status, page[:15]) == (200, b"<!doctype html>")


def test_changes_need_the_token(box):
    assert box.call("POST", "/api/controls", {"density": 0.3}, token=None)[0] == 401
    assert box.call("POST", "/api/controls", {"density": 0.3}, token="wrong")[0] == 401
    assert box.call("GET", "/api/config")[0] == 409  # started without --config


def test_every_listed_control_is_set_by_its_name(box):
    _, declaration = box.call("GET", "/api/controls", token=None)
    for control in declaration["controls"]:
        if control["kind"] == "choice":
            value = control["options"][-1]
        elif control["kind"] == "table":
            value = control["values"][len(control["values"]) // 3]
        else:
            value = control["min"] + (control["max"] - control["min"]) // 3 if control["step"] == 1 else \
                control["min"] + (control["max"] - control["min"]) / 3
        status, reply = box.call("POST", "/api/controls", {control["name"]: value})
        assert status == 200, reply
        wait_for(lambda name=control["name"], value=value: box.state()["controls"][name] == value)


@pytest.mark.parametrize(("values", "reason"), [({"nope": 1}, "unknown control 'nope'"),
                                                ({"gate": "loud"}, "gate: must be a number"),
                                                ({"gate": 1.5}, "gate: must be 0..1")])
def test_wrong_values_are_refused_with_the_reason(box, values, reason):
    status, reply = box.call("POST", "/api/controls", values)
    assert status == 400
    assert reply["error"].startswith(reason)


def test_osc_in_sets_a_control(box):
    SimpleUDPClient("127.0.0.1", box.osc).send_message("/melodybox/density", 0.75)
    wait_for(lambda: box.state()["controls"]["density"] == 0.75)


def test_osc_out_sends_the_notes_and_steps(box):
    heard = [OscMessage(box.listener.recvfrom(65536)[0]) for _ in range(40)]
    steps = [m.params[0] for m in heard if m.address == "/melodybox/step"]
    assert steps == list(range(steps[0], steps[0] + len(steps)))
    assert {m.address for m in heard} <= {"/melodybox/step", "/melodybox/note"}
    assert all(0 <= m.params[0] <= 127 and 0 <= m.params[1] <= 127 for m in heard if m.address == "/melodybox/note")


def hostile_http(box, rng) -> list[int]:
    """One hostile request; the status it got (0: the connection was dropped, as it may be for garbage)."""
    kind = rng.randrange(6)
    try:
        if kind == 0:
            return [box.call("POST", "/api/controls", b'{"temperature": 0.1', headers={"Content-Length": "19"})[0]]
        if kind == 1:
            return [box.call("POST", "/api/controls", {"temperature": 0.1}, token="guess")[0]]
        if kind == 2:
            return [box.call("GET", "/api/captures/..%2F..%2F..%2Fetc%2Fpasswd", token=None)[0]]
        if kind == 3:
            return [box.call("POST", "/api/reset", token=None)[0]]
        if kind == 4:
            with socket.create_connection(("127.0.0.1", box.web), timeout=10) as raw:
                raw.sendall(rng.randbytes(rng.randint(1, 300)) + b"\r\n\r\n")
                raw.recv(1024)
            return [0]
        return [box.call("PUT", "/api/config", b"[web]\nlisten = 1\n", token=None)[0]]
    except OSError:
        return [0]


def test_hostile_traffic_on_both_ports_changes_nothing_and_stops_nothing(box):
    before = box.state()
    rng = random.Random(5)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(2000):
            sender.sendto(rng.randbytes(rng.randint(0, 400)), ("127.0.0.1", box.osc))
            if i % 200 == 199:
                time.sleep(0.01)
    big = b'{"temperature": 0.1, "x": "' + b"y" * (8 * 1024 * 1024) + b'"}'
    assert box.call("POST", "/api/controls", big)[0] == 413
    assert box.call("POST", "/api/controls", b"{broken")[0] == 400
    with ThreadPoolExecutor(16) as pool:  # a flood: 400 hostile requests, 16 at a time
        statuses = [s for got in pool.map(lambda seed: hostile_http(box, random.Random(seed)), range(400)) for s in got]
    assert set(statuses) <= {0, 400, 401, 404, 431, 505}
    after = wait_for(lambda: (lambda s: s["step"] >= before["step"] + 8 and s)(box.state()))
    assert after["controls"] == before["controls"]
    assert after["state"] == "playing"


@pytest.mark.skipif(chromium_missing(), reason=NO_CHROMIUM)
def test_the_page_lives_in_chromium_with_no_console_error(box):
    from tests.test_net_page import chrome, console_trouble

    driver = chrome(Path("/tmp"))
    try:
        driver.get(f"http://127.0.0.1:{box.web}/#token={TOKEN}")
        roll = driver.find_element("id", "roll")
        first = wait_for(lambda: int(roll.get_attribute("data-step")) >= 0 and int(roll.get_attribute("data-step")))
        wait_for(lambda: int(roll.get_attribute("data-step")) >= first + 8)
        driver.find_element("id", "reset").click()
        wait_for(lambda: driver.find_element("id", "message").text == "reset pressed")
        assert console_trouble(driver) == []
    finally:
        driver.quit()
    assert CHROMEDRIVER.exists()


def test_sigterm_ends_it_cleanly_and_the_midi_file_holds_no_stuck_note(box):
    box.process.send_signal(signal.SIGTERM)
    assert box.process.wait(timeout=15) == 0
    said = box.said()
    assert said.rstrip().splitlines()[-1].endswith("all notes off"), said
    assert "Traceback" not in said
    messages = [m for m in mido.MidiFile(box.midi_file).tracks[0] if not m.is_meta]
    assert sum(m.type == "note_on" and m.velocity > 0 for m in messages) > 5
    assert sounding_notes(messages) == set()
