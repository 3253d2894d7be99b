"""`melodybox bench --soak DAYS`: weeks of playing, accelerated, with faults thrown in.

The real box (built by device/assembly.py: the shipped model, generator, loop, MIDI out,
MIDI in, collapse guard) plays on a fake clock, as fast as the model steps: DAYS days at
120 bpm is DAYS x 691,200 steps (7 days = 4.8 M). On the way it is hit with:

- the synth unplugged every few thousand steps, and back a few hundred steps later;
- resets and pauses from the button, the knob jittering every step;
- a flood of MIDI input (notes, CCs, clock, sysex) in bursts of hundreds of messages.

A model synth hears every port in order and counts stuck notes (a note still sounding
when the box is paused, stopped or closed) and overlaps (two notes at once). The report
(JSON) gives the peak RSS, the RSS slope per simulated day after a warm-up, exceptions,
and the tokens played per simulated day (a collapse shows as a day of rests or of one pitch).
"""

from __future__ import annotations

import dataclasses
import math
import resource
import time
from pathlib import Path

import mido
import numpy as np
from mido.ports import BaseInput, BaseOutput

from device.assembly import Parts, assemble
from device.core import encoding
from device.core.clock import FakeClock
from device.core.timegrid import step_seconds
from device.engine.controlstate import ControlState
from device.settings import Config

STEPS_PER_DAY = round(24 * 3600 / step_seconds(120))  # 16th steps in a day at 120 bpm (8 steps a second)
UNPLUG_EVERY = 5000  # steps between losses of the synth
UNPLUGGED_FOR = 300  # steps the synth stays away
RESET_EVERY = 3001
PAUSE_EVERY = 7919  # a long press, and another one PAUSE_FOR steps later
PAUSE_FOR = 40
FLOOD_EVERY = 997
FLOOD_SIZE = 600  # messages in one burst: more than the input queue holds
SAMPLES_PER_DAY = 24  # RSS readings per simulated day (at least MIN_SAMPLES in a run)
MIN_SAMPLES = 20


class Synth:
    """What a synth hears: the (channel, pitch) notes sounding, across every port the box used."""

    def __init__(self):
        self.sounding: set[tuple[int, int]] = set()
        self.overlaps = 0  # note-ons while another note sounded

    def hear(self, message: mido.Message) -> None:
        if message.type == "note_on" and message.velocity > 0:
            if self.sounding:
                self.overlaps += 1
            self.sounding.add((message.channel, message.note))
        elif message.type in ("note_on", "note_off"):
            self.sounding.discard((message.channel, message.note))
        elif message.type == "control_change" and message.control in (120, 123):
            self.sounding = {(c, n) for c, n in self.sounding if c != message.channel}


class SynthPort(BaseOutput):
    """An output to the model synth that can be unplugged: sends then fail like a vanished rtmidi port."""

    def _open(self, synth: Synth = None, **kwargs):
        self.synth = synth
        self.unplugged = False

    def _send(self, message):
        if self.unplugged:
            raise OSError("MidiOutAlsa::sendMessage: error sending MIDI message to port.")
        self.synth.hear(message)


class SilentInput(BaseInput):
    """An input port whose messages the soak hands to the box's MidiIn callback itself."""

    def _receive(self, block=True):
        return None


class SoakControls:
    """The knob jittering every step, the button resetting and pausing on a schedule."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.reads = 0
        self.paused = False

    def read(self) -> ControlState:
        step, self.reads = self.reads, self.reads + 1
        temperature = float(np.clip(1.0 + self.rng.normal(0, 0.15), 0.3, 2.0))
        phase = step % PAUSE_EVERY
        pause = step > 0 and phase in (0, PAUSE_EVERY - PAUSE_FOR)  # pause for PAUSE_FOR steps, then resume
        return ControlState(temperature, reset=step % RESET_EVERY == RESET_EVERY - 1, pause_toggle=pause)

    def beat(self, step: int, playing: bool) -> None:
        self.paused = not playing

    def error(self, active: bool) -> None:
        pass

    def waiting(self, active: bool) -> None:
        pass

    def close(self) -> None:
        pass


def flood(midi_in, rng: np.random.Generator) -> None:
    """A burst of everything a confused controller sends, straight into the input's callback."""
    kinds = [lambda: mido.Message("note_on", note=int(rng.integers(128)), velocity=int(rng.integers(128))),
             lambda: mido.Message("control_change", control=int(rng.integers(120)), value=int(rng.integers(128))),
             lambda: mido.Message("clock"), lambda: mido.Message("sysex", data=[1, 2, 3]),
             lambda: mido.Message("pitchwheel", pitch=int(rng.integers(-8192, 8191)))]
    for kind in rng.integers(len(kinds), size=FLOOD_SIZE):
        midi_in.receive(kinds[kind]())


def current_rss_mb() -> float:
    """This process's resident memory now (MB), from /proc (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 1e6


def slope_per_day(days: list[float], rss: list[float], warm_up: float) -> float:
    """Least-squares slope of RSS (MB) against simulated days, after ``warm_up`` days."""
    points = [(d, r) for d, r in zip(days, rss, strict=True) if d >= warm_up]
    if len(points) < 2:
        return 0.0
    x, y = np.array(points).T
    return float(np.polyfit(x, y, 1)[0])


class DayTally:
    """Tokens played in one simulated day."""

    def __init__(self):
        self.counts = np.zeros(encoding.VOCAB_SIZE, dtype=np.int64)

    def summary(self) -> dict:
        played = int(self.counts.sum())
        pitches = self.counts[: encoding.NUM_PITCHES]
        shares = pitches[pitches > 0] / max(1, pitches.sum())
        return {"steps_played": played, "note_ons": int(pitches.sum()),
                "note_offs": int(self.counts[encoding.NOTE_OFF]), "holds": int(self.counts[encoding.NO_EVENT]),
                "distinct_pitches": int((pitches > 0).sum()),
                "pitch_entropy_bits": float(-(shares * np.log2(shares)).sum()) if shares.size else 0.0}


def soak(model_path: str | Path, days: float, seed: int = 1) -> dict:
    """Play ``days`` simulated days with faults; the report as a dict (see the module docstring)."""
    steps = max(1, round(days * STEPS_PER_DAY))
    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model_path)),
                                 midi=dataclasses.replace(config.midi, input="soak"),
                                 # the floods' random CCs turn the mapped knobs; the buttons stay on the schedule
                                 cc=dataclasses.replace(config.cc, reset=-1, pause=-1, capture=-1))
    synth, clock, rng = Synth(), FakeClock(record=False), np.random.default_rng(seed)
    ports: list[SynthPort] = []

    def plug_in() -> SynthPort:
        if ports and ports[-1].unplugged and ports[-1].unplugged_at + UNPLUGGED_FOR > step[0]:
            raise OSError("the synth is still unplugged")
        ports.append(SynthPort(synth=synth))
        return ports[-1]

    step = [0]
    tallies = [DayTally() for _ in range(math.ceil(steps / STEPS_PER_DAY))]
    samples: tuple[list[float], list[float]] = ([], [])
    report = {"days": days, "steps": steps, "bpm": 120, "exception": None, "steps_paused_with_a_note": 0}
    controls = SoakControls(seed)
    sample_every = max(1, min(STEPS_PER_DAY // SAMPLES_PER_DAY, steps // MIN_SAMPLES))

    def on_step(r) -> None:
        step[0] = r.step
        if r.token is not None:
            tallies[r.step // STEPS_PER_DAY].counts[r.token] += 1
        if r.paused and r.connected and synth.sounding:
            report["steps_paused_with_a_note"] += 1  # a stuck note: it sounds while the box is paused
        if r.step % UNPLUG_EVERY == UNPLUG_EVERY - 1:
            ports[-1].unplugged, ports[-1].unplugged_at = True, r.step
        if r.step % FLOOD_EVERY == 0 and box.midi_in is not None:
            flood(box.midi_in, rng)
        if r.step % sample_every == 0:
            samples[0].append(r.step / STEPS_PER_DAY)
            samples[1].append(current_rss_mb())

    started = time.monotonic()
    parts = Parts(clock=clock, output=plug_in(), reopen=plug_in, controls=controls, input=SilentInput())
    box = assemble(config, seed, parts, on_step=on_step)
    try:
        box.run(steps)
    except Exception as error:  # the report must say what ended the run, whatever it was
        report["exception"] = f"{type(error).__name__}: {error}"
    finally:
        box.close()
    report.update({
        "notes_left_sounding": len(synth.sounding),
        "overlapping_notes": synth.overlaps,
        "wall_seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "rss_slope_mb_per_day": slope_per_day(*samples, warm_up=min(0.5, days / 4)),
        "rss_first_last_mb": [samples[1][0], samples[1][-1]] if samples[1] else [],
        "port_losses": box.midi_out.losses, "port_reconnects": box.midi_out.reconnects,
        "input_dropped": box.midi_in.dropped if box.midi_in is not None else 0,
        "guard_resets": dict(box.loop.guard.resets) if box.loop.guard is not None else {},
        "per_day": [tally.summary() for tally in tallies],
    })
    return report
