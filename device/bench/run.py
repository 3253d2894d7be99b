"""`melodybox bench`: how fast and how on time the box is, measured on this machine.

Four measurements, each printed as one line and returned as JSON:

- step latency: ``StepModel.step`` for each model given, in this process's runtime
  (median / p99 in microseconds, one thread, after a warm-up);
- timing: the real loop (monotonic clock, real model) plays to a port that stamps
  each message on arrival; lateness of every note-on against its absolute deadline
  (p50 / p99 / max in ms) and drift (time between the first and last note-on minus
  the steps between them times the step length), idle and with a busy process
  loading another core;
- start-up: ``melodybox run`` in a child process plays into a virtual MIDI input
  opened here: seconds from spawn to the first note-on (needs virtual MIDI ports:
  ALSA on a Pi, or JACK with MIDO_BACKEND on a desktop);
- memory: peak RSS of a ``melodybox run`` child playing 400 steps into a MIDI file;
- follow and lead (``--only follow``, ``--only lead``, device/bench/clock.py): the box's notes against
  a drum machine's clock (±0/1/2 ms jitter), and its MIDI clock at a receiver, each against a perfect
  reference process (virtual MIDI ports needed);
- answer (``--only answer``, device/bench/answer.py): the box in call-and-response mode on the real
  clock, a player thread playing calls into its input: each answer's start against the bar line the
  rules give, in steps, and whether it is the same seeded model's answer to that call, note for note.
- net (``--only net``, device/bench/net.py): note timing with the page, API and OSC open, idle and with
  200 requests a second on the API, each against a perfect reference process run beside it.

Only numpy and the runtime are needed for ``--only latency`` (so it also runs in
an environment holding tflite-runtime alone).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np

from device.assembly import Parts, assemble
from device.bench import net
from device.bench.answer import answer_start, summary
from device.bench.soak import soak
from device.core.timegrid import PULSES_PER_STEP, step_seconds
from device.engine.controlstate import FixedControls
from device.engine.model import StepModel
from device.midi import ports
from device.settings import Config

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "default.tflite"


def percentiles(values, points=(50, 99)) -> list[float]:
    """The given percentiles of ``values`` (any unit), and the max last."""
    array = np.asarray(values, dtype=float)
    return [float(np.percentile(array, p)) for p in points] + [float(array.max())]


def step_latency(model_path: Path, runtime: str | None, steps: int = 3000) -> dict:
    """Median / p99 / max of one ``StepModel.step`` call in microseconds, feeding its own greedy choice back."""
    with StepModel(model_path, runtime=runtime) as model:
        token = 60
        for _ in range(200):  # warm-up
            token = int(np.argmax(model.step(token)))
        times = np.empty(steps)
        for i in range(steps):
            start = time.perf_counter_ns()
            logits = model.step(token)
            times[i] = (time.perf_counter_ns() - start) / 1000.0
            token = int(np.argmax(logits))
        p50, p99, worst = percentiles(times)
        return {"model": model_path.name, "precision": model.contract.precision, "runtime": model.runtime_name,
                "bytes": model_path.stat().st_size, "step_us_p50": p50, "step_us_p99": p99, "step_us_max": worst}


class _BusyCore:
    """A child process spinning on one core while the timing run goes on."""

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()


def timing(model_path: Path, seconds: float, bpm: float = 120.0, loaded: bool = False) -> dict:
    """Run the assembled box for ``seconds`` at ``bpm``; lateness of each note-on against its deadline."""
    class StampingOutput(mido.ports.BaseOutput):
        """Records (monotonic seconds, message) at the moment each message is sent."""

        def _open(self, **kwargs):
            self.stamps: list[tuple[float, mido.Message]] = []

        def _send(self, message):
            self.stamps.append((time.monotonic(), message))

    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model_path)),
                                 tempo=dataclasses.replace(config.tempo, bpm=bpm))
    steps = int(seconds / step_seconds(bpm))
    port = StampingOutput()
    step_of_stamp: list[int] = []

    def mark(report):  # messages sent so far belong to steps <= report.step
        step_of_stamp.extend([report.step] * (len(port.stamps) - len(step_of_stamp)))

    with assemble(config, seed=1, parts=Parts(output=port, controls=FixedControls()), on_step=mark) as box:
        if loaded:
            with _BusyCore():
                box.run(steps)
        else:
            box.run(steps)
        transport = box.transport
    notes = [(stamp, step) for (stamp, message), step in zip(port.stamps, step_of_stamp, strict=False)
             if message.type == "note_on"]
    lateness = [(stamp - transport.deadline(step * PULSES_PER_STEP)) * 1000.0 for stamp, step in notes]
    p50, p99, worst = percentiles(lateness)
    (first_stamp, first_step), (last_stamp, last_step) = notes[0], notes[-1]
    drift = (last_stamp - first_stamp) - (last_step - first_step) * transport.step_seconds
    return {"load": "other core busy" if loaded else "idle", "bpm": bpm, "seconds": round(seconds, 1),
            "notes": len(lateness), "late_ms_p50": p50, "late_ms_p99": p99, "late_ms_max": worst,
            "drift_ms": drift * 1000.0, "reanchors": transport.reanchors, "skipped_steps": transport.skipped}


def startup(model_path: Path, timeout: float = 20.0) -> dict:
    """Spawn `melodybox run` into a virtual input opened here: seconds from spawn to the first note-on."""
    name = f"melodybox-bench-{os.getpid()}"
    try:
        inport = ports.open_virtual_input(name)  # read by polling (device/midi/polled_input.py)
    except (OSError, RuntimeError, NotImplementedError) as error:
        return {"skipped": f"no virtual MIDI ports with this backend ({type(error).__name__}: {error})"}
    with inport:
        command = [sys.executable, "-m", "device", "run", "--model", str(model_path), "--port", name,
                   "--steps", "64", "--bpm", "120", "--sim", "--seed", "1"]
        start = time.monotonic()
        child = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        first_note = None
        while first_note is None and time.monotonic() - start < timeout and child.poll() is None:
            for message in inport.iter_pending():
                if message.type == "note_on" and message.velocity > 0:
                    first_note = time.monotonic() - start
                    break
            time.sleep(0.0005)
        child.terminate()
        _, stderr = child.communicate()
        error = stderr.decode(errors="replace").strip().splitlines()[-1:]
    if first_note is None:
        return {"skipped": f"no note arrived within {timeout:g} s ({' '.join(error) or 'no message'})"}
    return {"first_note_s": first_note}


# Runs a command and prints its peak RSS in KB. A small process in between, because Linux hands a
# child the peak RSS of whatever exec'd it: spawned straight from this (large) process, the box
# would be charged with this process's memory.
_PEAK_RSS_REPORTER = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); print(os.wait4(p.pid, 0)[2].ru_maxrss)"
)



def peak_memory(model_path: Path, steps: int = 400) -> dict:
    """Peak RSS (MB) of `melodybox run` playing ``steps`` steps into a MIDI file (no port backend mapped in)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "device", "run", "--model", str(model_path), "--midi-file",
                   str(Path(tmp) / "bench.mid"), "--steps", str(steps), "--bpm", "400", "--sim", "--seed", "1"]
        done = subprocess.run([sys.executable, "-c", _PEAK_RSS_REPORTER, *command], cwd=ROOT, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=True)
    return {"steps": steps, "peak_rss_mb": int(done.stdout.strip().splitlines()[-1]) / 1024.0}


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="melodybox bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", help="model(s) to time (default: models/default.tflite)")
    parser.add_argument("--runtime", choices=["ai-edge-litert", "tflite-runtime"], help="force a TFLite runtime")
    parser.add_argument("--only", choices=["latency", "timing", "startup", "answer", "follow", "lead", "net"],
                        action="append",
                        help="run only these parts (repeatable; default: all)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of each timing run in seconds (default 60; use 600 for the 10-minute drift)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--soak", type=float, metavar="DAYS",
                        help="instead: play DAYS simulated days at 120 bpm on a fast clock with faults (unplugged "
                        "synth, resets, pauses, knob jitter, MIDI floods) and print the report as JSON "
                        "(device/bench/soak.py; 7 days take about 16 minutes here)")
    return parser


def run_soak(args: argparse.Namespace) -> int:
    """``--soak DAYS``: the report as JSON on stdout (and in --json); exit 1 if a target is missed."""
    if not args.soak > 0:
        print(f"melodybox bench: --soak {args.soak}: must be a positive number of days", file=sys.stderr)
        return 2
    report = soak((args.model or [DEFAULT_MODEL])[0], args.soak)
    report["machine"] = machine()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    missed = (report["exception"] or report["notes_left_sounding"] or report["steps_paused_with_a_note"]
              or report["overlapping_notes"] or report["rss_slope_mb_per_day"] >= 1.0)
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.soak is not None:
        return run_soak(args)
    models = args.model or [DEFAULT_MODEL]
    parts = set(args.only or ["latency", "timing", "startup"])
    results: dict = {"machine": machine()}
    if "latency" in parts:
        results["latency"] = [step_latency(m, args.runtime) for m in models]
        for row in results["latency"]:
            print(f"step  {row['model']:<24} {row['precision']:<8} {row['runtime']:<15} "
                  f"p50 {row['step_us_p50']:6.1f} us  p99 {row['step_us_p99']:6.1f} us  ({row['bytes'] / 1e6:.2f} MB)")
    if "timing" in parts:
        results["timing"] = [timing(models[0], args.seconds, loaded=loaded) for loaded in (False, True)]
        for row in results["timing"]:
            print(f"timing {row['load']:<16} {row['notes']} notes in {row['seconds']:g} s: late p50 "
                  f"{row['late_ms_p50']:.3f} ms  p99 {row['late_ms_p99']:.3f} ms  max {row['late_ms_max']:.3f} ms  "
                  f"drift {row['drift_ms']:.3f} ms  re-anchors {row['reanchors']}")
    if "startup" in parts:
        results["startup"] = startup(models[0])
        row = results["startup"]
        if "skipped" in row:
            print(f"startup skipped: {row['skipped']}")
        else:
            print(f"startup first note after {row['first_note_s']:.3f} s")
        results["memory"] = peak_memory(models[0])
        print(f"memory peak RSS of the box writing a MIDI file: {results['memory']['peak_rss_mb']:.1f} MB")
    if "answer" in parts:

        results["answer"] = answer_start(models[0])
        print(summary(results["answer"]))
    if "net" in parts:
        results["net"] = net.run(models[0], args.seconds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
