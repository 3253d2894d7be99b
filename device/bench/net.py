"""Note timing with the network on: the box with its page, API and OSC open, with and without 200 requests a
second on the API, each against a perfect reference run at the same time, in the same conditions.

- the box: assembled as `melodybox run` assembles it (the real loop on the monotonic clock, the shipped model),
  its network opened by device/remote.py (the web API on 127.0.0.1, OSC in), playing to a port that stamps
  each message as it is sent. Lateness of a note-on = its stamp minus its step's deadline.
- the reference: a process of its own that sleeps to each step's absolute deadline and stamps its waking,
  nothing else, running beside the box for the same seconds: the floor this machine gives any timer then.
- the load (``200 requests/s``): a process of its own sending requests on a fixed schedule, one in five
  each of: GET /api/state, GET /api/controls, GET /api/models, POST /api/controls (a temperature, with the
  token) and POST /api/controls without the token (refused, 401), on new connections, from 4 threads.

Run as ``python -m device.bench.net ROLE ...``, this module is one of those processes.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido

from device.assembly import Parts, assemble
from device.bench.clock import _quantiles_ms
from device.core.clock import MonotonicClock
from device.core.timegrid import PULSES_PER_STEP, step_seconds
from device.engine.controlstate import FixedControls
from device.remote import open_remote
from device.settings import Config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-token"
RATE = 200.0  # requests a second under load
LOAD_THREADS = 4
REQUESTS = (("GET", "/api/state", None, False), ("GET", "/api/controls", None, False),
            ("GET", "/api/models", None, False), ("POST", "/api/controls", "temperature", True),
            ("POST", "/api/controls", "temperature", False))


def role_reference(seconds: float, bpm: float) -> None:
    """The perfect player: wakes at each step's absolute deadline; prints [lateness in seconds, ...]."""
    clock, step = MonotonicClock(), step_seconds(bpm)
    print("ready", flush=True)
    sys.stdin.readline()
    start = clock.now() + 0.05
    late = []
    for i in range(int(seconds / step)):
        clock.sleep_until(start + i * step)
        late.append(clock.now() - (start + i * step))
    print(json.dumps(late), flush=True)


def role_load(port: int, seconds: float, rate: float) -> None:
    """``rate`` requests a second to the API on 127.0.0.1:``port`` for ``seconds``; prints {status: count}."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    start = time.monotonic() + 0.05
    every = LOAD_THREADS / rate

    def send(thread: int) -> None:
        clock = MonotonicClock()
        for i in range(int(seconds / every)):
            clock.sleep_until(start + (i + thread / LOAD_THREADS) * every)
            method, path, control, token = REQUESTS[(i * LOAD_THREADS + thread) % len(REQUESTS)]
            body = json.dumps({control: 0.8 + (i % 5) / 10}) if control else None
            headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request(method, path, body=body, headers=headers)
                status = str(connection.getresponse().status)
                connection.close()
            except OSError as error:
                status = type(error).__name__
            with lock:
                counts[status] = counts.get(status, 0) + 1

    threads = [threading.Thread(target=send, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(counts), flush=True)


ROLES = {"reference": role_reference, "load": role_load}


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "device.bench.net", *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class _Stamping(mido.ports.BaseOutput):
    """Records (monotonic seconds, message) at the moment each message is sent."""

    def _open(self, **kwargs):
        self.stamps: list[tuple[float, mido.Message]] = []

    def _send(self, message):
        self.stamps.append((time.monotonic(), message))


def timing(model_path: Path, seconds: float, loaded: bool, bpm: float = 120.0) -> dict:
    """The box with its network on for ``seconds`` (``loaded``: 200 requests a second on its API) and the
    reference beside it: lateness quantiles (ms) of each, and what the load got."""
    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model_path)),
                                 tempo=dataclasses.replace(config.tempo, bpm=bpm),
                                 web=dataclasses.replace(config.web, listen="127.0.0.1:0", token=TOKEN),
                                 osc=dataclasses.replace(config.osc, listen="127.0.0.1:0"))
    port, deadline_of_stamp, transports = _Stamping(), [], []

    def mark(report):  # messages sent so far belong to this step: its deadline as the transport had it then
        deadline = transports[0].deadline(report.step * PULSES_PER_STEP)  # (a stall re-anchors the later ones)
        deadline_of_stamp.extend([deadline] * (len(port.stamps) - len(deadline_of_stamp)))

    steps = int(seconds / step_seconds(bpm))
    with assemble(config, seed=1, parts=Parts(output=port, controls=FixedControls()), on_step=mark) as box, \
            open_remote(config, None, box, 1, lambda line: None) as remote:
        transports.append(box.transport)
        reference = _spawn("reference", str(seconds), str(bpm))
        load = _spawn("load", str(remote.web_port), str(seconds), str(RATE)) if loaded else None
        if reference.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the reference did not start: {reference.stderr.read()[-300:]}")
        reference.stdin.write("go\n")
        reference.stdin.flush()
        box.run(steps)
        reanchors = box.transport.reanchors
        reference_late = json.loads(reference.stdout.readline())
        counts = json.loads(load.stdout.readline()) if load else {}
        for process in (reference, load):
            if process is not None:
                process.wait(timeout=30)
    late = [stamp - deadline for (stamp, message), deadline in zip(port.stamps, deadline_of_stamp, strict=False)
            if message.type == "note_on"]
    return {"load": f"{RATE:g} requests/s" if loaded else "idle", "bpm": bpm, "seconds": seconds,
            "reanchors": reanchors, "requests": counts, "request_rate": round(sum(counts.values()) / seconds, 1),
            **{f"box_late_ms_{k}": v for k, v in _quantiles_ms(late).items()},
            **{f"reference_late_ms_{k}": v for k, v in _quantiles_ms(reference_late).items()}}


def run(model_path: Path, seconds: float) -> list[dict]:
    """Idle, then under load: one line each; the rows for the JSON report."""
    rows = []
    for loaded in (False, True):
        row = timing(model_path, seconds, loaded)
        rows.append(row)
        print(f"network {row['load']:<16} ({row['request_rate']:g} requests/s answered {row['requests']}): "
              f"box {row['box_late_ms_n']} notes late p50 {row['box_late_ms_p50']:.3f} ms  p99 "
              f"{row['box_late_ms_p99']:.3f} ms  max {row['box_late_ms_max']:.3f} ms; reference p50 "
              f"{row['reference_late_ms_p50']:.3f} ms  p99 {row['reference_late_ms_p99']:.3f} ms  max "
              f"{row['reference_late_ms_max']:.3f} ms; p99 difference "
              f"{row['box_late_ms_p99'] - row['reference_late_ms_p99']:+.3f} ms; box re-anchored {row['reanchors']}",
              flush=True)
    return rows


def _role_args(role: str, args: list[str]) -> list:
    if role == "load":
        return [int(args[0]), float(args[1]), float(args[2])]
    return [float(arg) for arg in args]


if __name__ == "__main__":
    ROLES[sys.argv[1]](*_role_args(sys.argv[1], sys.argv[2:]))
