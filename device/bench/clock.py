"""Clock benchmarks: follow-mode note timing and lead-mode pulse jitter, each against a perfect reference.

Every party is its own process on the current mido backend (JACK in `make bench`), and all
share the monotonic clock, so times compare directly:

- follow: a drum machine sends MIDI clock on ideal deadlines (± a uniform jitter) into a
  follower that plays to a receiver here. Each note message's deviation is its arrival minus
  the ideal time of the pulse sent last before it (a note whose last pulse is not a step pulse
  is counted apart: a pulse lost on the way makes a follower's count slip). The followers: the
  box (``melodybox run --clock follow``, dejittered, and the same box playing each pulse on
  arrival) and the reference, a process that sends a note the moment each step pulse reaches
  it, its input read as the box reads its own (device/midi/polled_input.py).
- lead: the box (``melodybox run --clock lead``) and the reference, a process sending pulses on
  ideal absolute deadlines, both into a receiver here; the jitter of a pulse is its distance
  from the least-squares line through all arrivals, pulses numbered by their time.

Run as ``python -m device.bench.clock ROLE ...``, this module is one of those processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np

from device.assembly import Parts, assemble
from device.core.clock import FakeClock, MonotonicClock
from device.core.timegrid import step_seconds
from device.engine.controlstate import FixedControls
from device.midi.midi_in import InputEvent
from device.midi.polled_input import recording
from device.midi.ports import open_input, open_output, open_virtual_input
from device.settings import ClockConfig, Config
from device.transport.follow import FollowTransport

ROOT = Path(__file__).resolve().parents[2]
JITTERS = (0.0, 0.001, 0.002)  # seconds of uniform pulse jitter at the drum machine


def _quantiles_ms(values) -> dict:
    """p1 / p50 / p99 / max in ms of ``values`` in seconds, and their number (NaN for none: nothing arrived)."""
    array = np.asarray(values, dtype=float) * 1000.0
    if array.size == 0:
        return {"p1": float("nan"), "p50": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0}
    return {"p1": float(np.percentile(array, 1)), "p50": float(np.percentile(array, 50)),
            "p99": float(np.percentile(array, 99)), "max": float(array.max()), "n": int(array.size)}


# --- the processes -------------------------------------------------------------------------------------------


def role_drum(port_name: str, seconds: float, bpm: float, jitter: float) -> None:
    """Drum machine: Start, then pulses on ideal deadlines ± ``jitter``; prints [[ideal, sent], ...] of the pulses."""
    clock, rng, pulse = MonotonicClock(), random.Random(11), 60.0 / bpm / 24
    with mido.open_output(port_name, virtual=True) as port:
        print("ready", flush=True)
        sys.stdin.readline()
        start = clock.now() + 0.2
        clock.sleep_until(start - pulse / 2)
        port.send(mido.Message("start"))
        sent = []
        for i in range(int(seconds / pulse)):
            ideal = start + i * pulse
            clock.sleep_until(ideal + rng.uniform(-jitter, jitter))
            port.send(mido.Message("clock"))
            sent.append((ideal, clock.now()))
        port.send(mido.Message("stop"))
        time.sleep(0.1)
    print(json.dumps(sent), flush=True)


def role_reference_follower(input_name: str, output_name: str) -> None:
    """The perfect follower: a note the moment each step pulse (every 6th) reaches its input's reader."""
    output = open_output(output_name)
    state = {"pulse": -1, "running": False}

    def on_message(message):
        if message.type == "start":
            state.update(pulse=-1, running=True)
        elif message.type == "clock" and state["running"]:
            state["pulse"] += 1
            if state["pulse"] % 6 == 0:
                output.send(mido.Message("note_on", note=60 + (state["pulse"] // 6) % 12, velocity=100))

    with open_input(input_name) as port:
        port.callback = on_message
        print("ready", flush=True)
        sys.stdin.readline()
    output.close()


def role_box_follower(input_name: str, output_name: str, model: str, dejitter: bool) -> None:
    """The box following ``input_name`` (``dejitter`` False: each pulse on arrival), until stdin closes."""
    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=model),
                                 midi=dataclasses.replace(config.midi, input=input_name, port=output_name),
                                 clock=ClockConfig(mode="follow"))
    clock = MonotonicClock()
    with assemble(config, seed=1, parts=Parts(clock=clock, controls=FixedControls(1.5))) as box:
        box.loop.transport = FollowTransport(box.midi_in, clock, dejitter=dejitter)
        threading.Thread(target=lambda: (sys.stdin.readline(), box.loop.stop()), daemon=True).start()
        print("ready", flush=True)
        box.run()


def role_reference_leader(output_name: str, seconds: float, bpm: float) -> None:
    """The perfect leader: Start, then a pulse on each ideal absolute deadline."""
    clock, pulse = MonotonicClock(), 60.0 / bpm / 24
    with open_output(output_name) as port:
        start = clock.now() + 0.05
        port.send(mido.Message("start"))
        for i in range(int(seconds / pulse)):
            clock.sleep_until(start + i * pulse)
            port.send(mido.Message("clock"))
        port.send(mido.Message("stop"))
        time.sleep(0.1)


ROLES = {"drum": role_drum, "reference-follower": role_reference_follower, "box-follower": role_box_follower,
         "reference-leader": role_reference_leader}


# --- the measurements ----------------------------------------------------------------------------------------


def _spawn(*args: str, stdin=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "device.bench.clock", *args], cwd=ROOT, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ready(process: subprocess.Popen) -> None:
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        raise RuntimeError(f"a benchmark process did not start: {process.stderr.read().strip()[-300:]}")


def _receiver(name: str):
    """A virtual input here that stamps each message with the monotonic clock on arrival."""
    port = open_virtual_input(name)
    return port, recording(port)


def follow_deviation(follower: str, jitter: float, seconds: float, bpm: float = 120.0, model: str = "") -> dict:
    """Deviation (ms) of ``follower``'s notes ("reference", "box" or "box-on-arrival") from the ideal time of the
    pulse sent last before each, and the number of notes whose last pulse was not a step pulse."""
    tag = f"mb-bench-{os.getpid()}-{follower}-{int(jitter * 1e6)}"
    port, stamps = _receiver(f"{tag}-recv")
    with port:
        drum = _spawn("drum", f"{tag}-drum", str(seconds), str(bpm), str(jitter))
        _ready(drum)
        if follower == "reference":
            peer = _spawn("reference-follower", f"{tag}-drum", f"{tag}-recv")
        else:
            peer = _spawn("box-follower", f"{tag}-drum", f"{tag}-recv", model, str(int(follower == "box")))
        try:
            _ready(peer)
            drum.stdin.write("go\n")
            drum.stdin.flush()
            sent = json.loads(drum.stdout.readline())
            drum.wait(timeout=30)
            time.sleep(0.2)
        finally:
            peer.stdin.close()
            peer.wait(timeout=30)
    sent_times = np.array([at for _, at in sent])
    deviations, off_step = [], 0
    for arrival, message in stamps:
        if message.type not in ("note_on", "note_off"):
            continue
        index = int(np.searchsorted(sent_times, arrival, side="right")) - 1
        if index >= 0:
            deviations.append(arrival - sent[index][0])
            off_step += index % 6 != 0
    # Each note against the pulse sent last before it: the follower's timing, whatever the count. A note whose
    # last pulse is not a step pulse came a pulse or more late, or from a count that slipped (JACK, in its
    # default asynchronous mode, drops a pulse for a client late for a cycle, the follower's or the
    # reference's): counted apart, in off_step_notes.
    return {"follower": follower, "jitter_ms": jitter * 1000, "bpm": bpm, "seconds": seconds,
            "off_step_notes": off_step,
            **{f"dev_ms_{key}": value for key, value in _quantiles_ms(deviations).items()}}


class _PulseSource:
    """Pulses at given times for the follower on a fake clock (the follow algorithm alone, no ports)."""

    def __init__(self, clock, times):
        self.clock = clock
        self.events = [InputEvent(times[0] - 0.001, mido.Message("start"))]
        self.events += [InputEvent(t, mido.Message("clock")) for t in times]

    def wait_clock(self, deadline):
        if self.events and self.events[0].time <= deadline:
            event = self.events.pop(0)
            self.clock.sleep_until(event.time)
            return event
        self.clock.sleep_until(deadline)
        return None


def follow_algorithm(jitter: float, dejitter: bool, pulses: int = 24000, bpm: float = 120.0) -> dict:
    """The follower alone on a fake clock: each step tick's time minus its pulse's ideal time (ms), pulses
    arriving on the ideal grid ± ``jitter`` (uniform), after the first bar. No ports, no load: deterministic."""
    rng, seconds = random.Random(5), 60.0 / bpm / 24
    times = [1.0 + i * seconds + rng.uniform(-jitter, jitter) for i in range(pulses)]
    clock = FakeClock()
    transport = FollowTransport(_PulseSource(clock, times), clock, dejitter=dejitter)
    deviations = []
    for _ in range(pulses):
        tick = transport.next_tick()
        if tick.on_step and tick.pulse >= 96:
            deviations.append(clock.now() - (1.0 + tick.pulse * seconds))
    return {"jitter_ms": jitter * 1000, "dejitter": dejitter,
            **{f"dev_ms_{key}": value for key, value in _quantiles_ms(deviations).items()}}


def lead_jitter(leader: str, seconds: float, bpm: float = 120.0, model: str = "") -> dict:
    """Jitter (ms) of pulses from ``leader`` ("box" or "reference") at a receiver: distance from the fitted grid."""
    tag = f"mb-bench-{os.getpid()}-lead-{leader}"
    port, stamps = _receiver(f"{tag}-recv")
    with port:
        if leader == "reference":
            peer = _spawn("reference-leader", f"{tag}-recv", str(seconds), str(bpm), stdin=subprocess.DEVNULL)
        else:
            steps = int(seconds / step_seconds(bpm))
            peer = subprocess.Popen([sys.executable, "-m", "device", "run", "--model", model, "--clock", "lead",
                                     "--port", f"{tag}-recv", "--bpm", str(bpm), "--steps", str(steps), "--sim",
                                     "--seed", "1"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        peer.wait(timeout=seconds + 60)
        time.sleep(0.2)
    arrivals = np.array([at for at, message in stamps if message.type == "clock"])
    if arrivals.size < 3:
        return {"leader": leader, "bpm": bpm, "pulses": int(arrivals.size), "fitted_bpm": float("nan"),
                **{f"jitter_ms_{key}": value for key, value in _quantiles_ms([]).items()}}
    # pulses numbered by time (a pulse lost on the way must not shift the rest against the line)
    index = np.round((arrivals - arrivals[0]) / (60.0 / bpm / 24))
    slope, intercept = np.polyfit(index, arrivals, 1)
    residuals = np.abs(arrivals - (intercept + slope * index))
    return {"leader": leader, "bpm": bpm, "pulses": int(arrivals.size), "fitted_bpm": float(60.0 / slope / 24),
            **{f"jitter_ms_{key}": value for key, value in _quantiles_ms(residuals).items()}}


def run(model: str, seconds: float = 20.0, follow: bool = True, lead: bool = True) -> dict:
    """The measurements asked for, printed one line each; returns them for the JSON report."""
    results: dict = {"follow_algorithm": [], "follow": [], "lead": []}
    for jitter in JITTERS if follow else ():
        for dejitter in (True, False):
            row = follow_algorithm(jitter, dejitter)
            results["follow_algorithm"].append(row)
            print(f"follow algorithm ±{row['jitter_ms']:.0f} ms {'dejittered' if dejitter else 'on arrival':<10}: "
                  f"step p1 {row['dev_ms_p1']:.3f} ms  p50 {row['dev_ms_p50']:.3f} ms  p99 {row['dev_ms_p99']:.3f} ms  "
                  f"max {row['dev_ms_max']:.3f} ms after the ideal pulse", flush=True)
    for jitter in JITTERS if follow else ():
        for follower in ("reference", "box", "box-on-arrival"):
            row = follow_deviation(follower, jitter, seconds, model=model)
            results["follow"].append(row)
            print(f"follow ±{row['jitter_ms']:.0f} ms jitter {follower:<15} {row['dev_ms_n']} notes "
                  f"({row['off_step_notes']} off their step pulse): deviation p50 "
                  f"{row['dev_ms_p50']:.3f} ms  p99 {row['dev_ms_p99']:.3f} ms  max {row['dev_ms_max']:.3f} ms  "
                  f"spread p1..p99 {row['dev_ms_p99'] - row['dev_ms_p1']:.3f} ms", flush=True)
    for leader in ("reference", "box") if lead else ():
        row = lead_jitter(leader, seconds, model=model)
        results["lead"].append(row)
        print(f"lead {leader:<9} {row['pulses']} pulses at {row['fitted_bpm']:.3f} bpm: jitter p50 "
              f"{row['jitter_ms_p50']:.3f} ms  p99 {row['jitter_ms_p99']:.3f} ms  max {row['jitter_ms_max']:.3f} ms",
              flush=True)
    return results


def _role_args(role: str, args: list[str]) -> list:
    """Command-line strings to the role's arguments (seconds, bpm and jitter are floats, the dejitter flag 0/1)."""
    floats = {"drum": (1, 2, 3), "reference-leader": (1, 2)}.get(role, ())
    converted = [float(a) if i in floats else a for i, a in enumerate(args)]
    if role == "box-follower":
        converted[3] = args[3] == "1"
    return converted


if __name__ == "__main__":
    ROLES[sys.argv[1]](*_role_args(sys.argv[1], sys.argv[2:]))
