"""The box on the network, for the tests: assembled as `melodybox run` assembles it, its network opened by
device/remote.py on real sockets (port 0: a free one), and stepped by the test on a fake clock, or played
on the real clock on a thread of its own (for the browser).

``NetBox.request`` speaks HTTP to its port with http.client; ``while_stepping`` runs a request that waits
for the loop (a capture, a model switch) on a thread while the test steps the loop.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from device.assembly import Parts, assemble
from device.core.clock import FakeClock, MonotonicClock
from device.engine.controlstate import FixedControls
from device.remote import open_remote
from device.settings import Config
from tests.recording import RecordingOutput, shipped_model_path
from tests.system_packages import why_missing

TOKEN = "test-token-0123456789"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# The skip reason names what is missing and the command (tests/system_packages.py, as for JACK and PortAudio).
NO_CHROMIUM = why_missing("chromium") or why_missing("chromium-driver") or ""


def chromium_missing() -> bool:
    return bool(NO_CHROMIUM)


def models_folder(folder: Path) -> Path:
    """A models folder with the shipped models linked in (uploads land here, not in the repository)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in shipped_model_path().parent.glob("default*"):
        if path.suffix in (".tflite", ".json"):
            (folder / path.name).symlink_to(path)
    return folder


def net_config(tmp_path: Path, web: bool = True, osc_listen: str = "", osc_send: str = "", bpm: float = 120.0,
               model: str = "default") -> Config:
    """The default config on ``tmp_path``: models and captures there, the page on 127.0.0.1:0 with TOKEN."""
    config = Config()
    folder = models_folder(tmp_path / "models")
    return dataclasses.replace(
        config, model=dataclasses.replace(config.model, path=str(folder / f"{model}.tflite")),
        tempo=dataclasses.replace(config.tempo, bpm=bpm),
        capture=dataclasses.replace(config.capture, folder=str(tmp_path / "captures"), bars=1),
        web=dataclasses.replace(config.web, listen="127.0.0.1:0" if web else "", token=TOKEN),
        osc=dataclasses.replace(config.osc, listen=osc_listen, send=osc_send))


class NetBox:
    """The assembled box with its network; ``real_time``: the monotonic clock (else a fake one the test steps)."""

    def __init__(self, config: Config, config_path: str | None = None, real_time: bool = False,
                 environ: dict | None = None):
        self.clock = MonotonicClock() if real_time else FakeClock()
        self.port = RecordingOutput(clock=self.clock)
        self.said: list[str] = []
        self.box = assemble(config, seed=7, parts=Parts(clock=self.clock, output=self.port, controls=FixedControls()),
                            say=self.said.append)
        self.remote = open_remote(config, config_path, self.box, 7, self.said.append,
                                  environ=environ if environ is not None else {"XDG_STATE_HOME": "/nonexistent"})
        self.loop = self.box.loop
        self._thread: threading.Thread | None = None

    @property
    def web_port(self) -> int:
        return self.remote.web_port

    def step(self, steps: int = 1) -> None:
        """Play ``steps`` more steps (fake clock: at once), tick by tick as ``Loop.run`` does, without its final
        silence (the box plays on between the test's requests)."""
        target = self.loop.steps_done + steps
        while self.loop.steps_done < target:
            self.loop.tick(self.loop.transport.next_tick())

    def request(self, method: str, path: str, body=None, token: str | None = TOKEN, headers: dict | None = None,
                timeout: float = 10.0):
        """(status, headers, body as JSON or bytes) of one HTTP request to the box's port."""
        return http_request(self.web_port, method, path, body, token, headers, timeout)

    def while_stepping(self, call, limit: int = 400):
        """``call()`` on a thread while the loop steps (at most ``limit`` steps, a moment each); its result."""
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(call)
            for _ in range(limit):
                if future.done():
                    break
                self.step()
                time.sleep(0.002)
            return future.result(timeout=30)

    def play(self) -> None:
        """Play on the loop's own thread until close (real time)."""
        self._thread = threading.Thread(target=self.loop.run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.loop.stop()
            self._thread.join(10)
        self.remote.close()
        self.box.close()  # silent: MidiOut.close ends the note


def http_request(port: int, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None,
                 timeout: float = 10.0):
    """(status, headers, body as JSON or bytes) of one HTTP request to 127.0.0.1:``port``; ``token``: sent as the
    bearer token (None: none); a dict or list ``body`` is sent as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = dict(headers or {})
    if token is not None:
        sent.setdefault("Authorization", f"Bearer {token}")
    if isinstance(body, dict | list):
        body = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=sent)
        reply = connection.getresponse()
        data = reply.read()
    finally:
        connection.close()
    kind = reply.getheader("Content-Type", "")
    return reply.status, dict(reply.getheaders()), json.loads(data) if kind.startswith("application/json") else data

def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 now (TCP or UDP)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, seconds: float = 10.0, every: float = 0.02):
    """Poll ``condition()`` until it returns something true (returned) or ``seconds`` pass (AssertionError)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not within {seconds} s: {getattr(condition, '__name__', condition)}")


def copy_model(source: Path, folder: Path, name: str) -> Path:
    """The shipped model and its contract copied into ``folder`` as ``name``.tflite/.json (to upload or break)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.tflite"
    shutil.copy(source, target)
    shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))
    os.chmod(target, 0o644)
    return target
