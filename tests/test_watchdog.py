"""The systemd watchdog, with a real datagram socket standing in for systemd's NOTIFY_SOCKET.

The box says READY=1 once it plays and WATCHDOG=1 from its loop at least every half of
WATCHDOG_USEC; a loop that hangs stops the pings, which is how systemd knows to restart it.
"""

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from device.assembly import Parts, assemble
from device.engine.controlstate import FixedControls
from device.runner import Systemd
from device.settings import Config
from tests.recording import ROOT, RecordingOutput, assert_no_stuck_notes, shipped_model_path

WATCHDOG_USEC = 100_000  # 0.1 s: pings at least every 0.05 s


@pytest.fixture
def systemd_socket(tmp_path):
    """A datagram socket where systemd's would be; yields (path, receive) with receive(timeout) -> [datagrams]."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)

    def receive(until):
        """Every datagram that arrives before time.monotonic() reaches ``until``: [(arrival, text)]."""
        got = []
        while (left := until - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                got.append((time.monotonic(), sock.recv(4096).decode()))
            except TimeoutError:
                break
        return got

    yield path, receive
    sock.close()


def test_the_real_box_says_ready_once_then_pings_the_watchdog_and_says_stopping(systemd_socket, tmp_path):
    path, receive = systemd_socket
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    env.pop("WATCHDOG_PID", None)
    command = [sys.executable, "-m", "device", "run", "--model", str(shipped_model_path()), "--midi-file",
               str(tmp_path / "out.mid"), "--steps", "48", "--bpm", "240", "--seed", "1"]
    box = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    got = receive(time.monotonic() + 30)
    assert box.wait(timeout=30) == 0, box.stderr.read().decode()
    texts = [text for _, text in got]
    assert texts[0].startswith("READY=1")
    assert texts.count("WATCHDOG=1") >= 10  # 48 steps at 240 bpm = 3 s, pings every >= 0.05 s
    assert texts[-1] == "STOPPING=1"
    span = got[-1][0] - got[0][0]  # from READY to STOPPING, as received
    assert texts.count("WATCHDOG=1") <= span / 0.05 + 3  # rate-limited to half of WATCHDOG_USEC, not one per tick


class HangingControls(FixedControls):
    """Controls whose read() blocks once ``hang`` is set, like an SPI read that never returns."""

    def __init__(self):
        super().__init__()
        self.hang = threading.Event()
        self.release = threading.Event()
        self.hung = threading.Event()

    def read(self):
        if self.hang.is_set():
            self.hung.set()
            self.release.wait(timeout=10)
        return super().read()


def test_a_hung_loop_stops_the_pings(systemd_socket):
    path, receive = systemd_socket
    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(shipped_model_path())),
                                 tempo=dataclasses.replace(config.tempo, bpm=300))
    controls = HangingControls()
    port = RecordingOutput()
    systemd = Systemd({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    with systemd, assemble(config, 1, Parts(output=port, controls=controls), on_step=systemd.watch()) as box:
        box.loop.on_tick = systemd.tick
        player = threading.Thread(target=box.run)
        player.start()
        try:
            alive = receive(time.monotonic() + 1.0)
            controls.hang.set()
            assert controls.hung.wait(timeout=5)
            receive(time.monotonic() + 0.1)  # a ping already on its way
            hung = receive(time.monotonic() + 1.0)
        finally:
            box.loop.stop()
            controls.release.set()
            player.join(timeout=10)
    assert alive[0][1].startswith("READY=1")
    assert sum(text == "WATCHDOG=1" for _, text in alive) >= 5
    assert hung == []  # one second, ten watchdog intervals: systemd would restart the box
    assert_no_stuck_notes(port.messages)
