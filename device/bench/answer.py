"""Call and response measured: a player, calls, and the reference answer (``melodybox bench --only answer``).

- ``answer_start``: the assembled box in answer mode on the real clock with the real model, and a player
  thread that plays the calls into its input the way rtmidi's thread delivers messages, each note a third
  of a step early (the box snaps it to its step). From the steps the box reports: where each answer starts
  against the perfect reference (the bar line the rules give), whether it is that reference note for note
  (the same seeded model reset and primed with the same call), and how late its first note is against its
  deadline. No MIDI system is needed, so no MIDI transport can lose messages on the way.
- ``play_calls``: the same player as a peer on real ports (tests/test_jack_answer.py): it hears the box's
  MIDI clock (lead) and plays on it.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
import time
from pathlib import Path

import mido
import numpy as np

from device.assembly import Parts, assemble, open_generator
from device.core.encoding import tokens_to_notes
from device.core.midireader import LiveReader
from device.core.timegrid import DEFAULT_BAR_STEPS, PULSES_PER_STEP
from device.engine.controlstate import ControlState, FixedControls
from device.midi.ports import open_virtual_input
from device.settings import Config, PlayConfig

ROOT = Path(__file__).resolve().parents[2]
BAR = DEFAULT_BAR_STEPS  # steps per bar in the benchmark (4/4, the default music.bar_steps)
# The player plays a step's note this many pulses before the step: a third of a step early, so the note lands
# within half a step of its step (the box snaps it there) for up to 100 ms of MIDI round trip at 120 bpm
# (two JACK hops with a 1024-frame period take up to 85 ms).
EARLY_PULSES = 2
# The calls: (pitch, on, off) in steps from the bar line the call starts in.
ANSWER_CALLS = (
    ((60, 0, 2), (64, 4, 6), (67, 8, 10), (72, 12, 14)),  # one bar, ending mid-bar
    ((67, 0, 4), (65, 4, 8), (64, 8, 16)),  # ending on the bar line: the answer comes one bar later, on the dot
    ((72, 12, 14), (71, 14, 16), (69, 16, 20), (67, 20, 24)),  # a pickup on beat 4
    ((60, 0, 3), (62, 3, 6), (64, 6, 9), (65, 9, 12), (67, 12, 15), (69, 15, 18), (71, 18, 30)),  # two bars
    ((64, 2, 3), (64, 5, 6)),  # two short notes off the beat
)


def answer_plan(calls, bar_steps: int = BAR) -> list[tuple[int, int, list[tuple[int, int, int]]]]:
    """Lay ``calls`` out one after another, each answered before the next: [(A, bars, notes in absolute steps)].

    The reference rules (device/play/answer.py): the call ends a bar after its last note; the answer starts on the
    first bar line at or after that and lasts the call's length rounded up to whole bars.
    """
    plan, bar = [], 1
    for call in calls:
        notes = [(pitch, bar * bar_steps + on, bar * bar_steps + off) for pitch, on, off in call]
        first, last = min(n[1] for n in notes), max(n[2] for n in notes)
        start = -(-(last + bar_steps) // bar_steps) * bar_steps
        bars = -(-(last - first) // bar_steps)
        plan.append((start, bars, notes))
        bar = start // bar_steps + bars + 1
    return plan


def answer_schedule(plan) -> list[tuple[int, object]]:
    """(pulse, message) for the player: each note's on and off EARLY_PULSES before its step's pulse."""
    return [(step * PULSES_PER_STEP - EARLY_PULSES, note(kind, pitch)) for _, _, notes in plan
            for pitch, on, off in notes for step, kind in ((on, "note_on"), (off, "note_off"))]


def note(kind: str, pitch: int):
    return mido.Message(kind, note=pitch, velocity=90 if kind == "note_on" else 0)


def answer_reference(model_path: Path, plan, seed: int) -> list[list[int]]:
    """Each answer's tokens as the seeded box must play them: the generator reset, hearing the call's bars
    (read by the shared reader), then sampling ``bars`` bars from the bar line."""
    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model_path)))
    model, generator = open_generator(config, seed)
    answers = []
    with model:
        for _, bars, notes in plan:
            reader = LiveReader()
            for step, kind, pitch in sorted((s, k, p) for p, on, off in notes for s, k in ((on, 1), (off, 0))):
                reader.feed(step, note("note_on" if kind else "note_off", pitch))
            first, last = min(n[1] for n in notes), max(n[2] for n in notes)
            generator.reset()
            generator.prime(reader.tokens(first - first % BAR, -(-last // BAR) * BAR), bar_step=0)
            answers.append([generator.next_token(ControlState(config.temperature.initial)) for _ in range(bars * BAR)])
    return answers


def answer_events(start: int, tokens) -> list[tuple[int, str, int]]:
    """(step, "on"/"off", pitch) of ``tokens`` played from step ``start``, sorted; the last note ends after them."""
    notes = tokens_to_notes(tokens)
    return sorted([(start + n.start, "on", n.pitch) for n in notes] + [(start + n.end, "off", n.pitch) for n in notes])


def answer_start(model_path: Path, bpm: float = 120.0, seed: int = 1, calls=ANSWER_CALLS) -> dict:
    """The answer benchmark (module docstring): per call, the answer's start error in steps against the
    reference, whether it is the reference note for note, and its first step's lateness (ms)."""
    class PlayerPort(mido.ports.BaseInput):
        def _open(self, **kwargs):
            self.callback = None

    class Sink(mido.ports.BaseOutput):
        def _send(self, message):
            pass

    plan = answer_plan(calls)
    steps = plan[-1][0] + plan[-1][1] * BAR + 8
    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(model_path)),
                                 tempo=dataclasses.replace(config.tempo, bpm=bpm), play=PlayConfig(mode="answer"))
    port, reports = PlayerPort("player"), []
    with assemble(config, seed, Parts(output=Sink(), controls=FixedControls(config.temperature.initial), input=port),
                  on_step=reports.append) as box:
        player = threading.Thread(target=_play, args=(box, port, answer_schedule(plan)), daemon=True)
        player.start()
        box.run(steps)
        player.join(timeout=1.0)
    played = [r for r in reports if r.token is not None]
    errors, exact, late = [], 0, []
    for (start, bars, notes), reference in zip(plan, answer_reference(model_path, plan, seed), strict=True):
        answer = [r for r in played if notes[0][1] <= r.step < start + bars * BAR + BAR]
        errors.append(answer[0].step - start if answer else None)
        exact += [(r.step, r.token) for r in answer] == [(start + i, t) for i, t in enumerate(reference)]
        late += [answer[0].lateness * 1000.0] if answer else []
    return {"bpm": bpm, "runs": len(plan), "start_error_steps": errors, "on_bar_line": errors.count(0),
            "exact_answers": exact, "first_step_late_ms_max": max(late, default=float("nan")),
            "reanchors": box.transport.reanchors}


def _play(box, port, schedule) -> None:
    """The player thread: each (pulse, message) at that pulse's deadline on the box's transport."""
    for pulse, message in sorted(schedule, key=lambda item: item[0]):
        while not box.loop.stopping and time.monotonic() < _deadline(box.transport, pulse):
            time.sleep(0.0005)  # the deadline is asked again: it moves if the transport re-anchors after a stall
        port.callback(message)  # as rtmidi's thread calls it


def _deadline(transport, pulse: int) -> float:
    """When ``pulse`` is due on the transport (seconds); infinitely late before the transport starts."""
    try:
        return transport.deadline(pulse)
    except RuntimeError:
        return float("inf")


def play_calls(command: list[str], schedule, timeout: float = 60.0, env=None,
               bpm: float = 120.0) -> tuple[list, str, int]:
    """Be the player of a box in answer mode with lead clock on real ports: ``command`` (``melodybox run ...``,
    at ``bpm``) is started with ``--port`` and ``--input`` set to two virtual ports opened here; each (pulse,
    message) of ``schedule`` is sent when the box's pulse ``pulse`` (0 = the first after Start) arrives. A pulse's
    number is its time since pulse 0 in pulses, rounded (the box sends them on absolute deadlines), so a pulse
    lost on the way (JACK drops one now and then for a late client) does not shift the count. Returns the box's
    note messages as (pulse number before it, "on"/"off", pitch), its stderr and the number of the last pulse + 1.
    """
    tag = f"melodybox-player-{os.getpid()}"
    pending = sorted(schedule, key=lambda item: item[0])
    heard, pulse, first, pulse_seconds = [], -1, None, 60.0 / bpm / 24
    with open_virtual_input(f"{tag}-in") as inport, mido.open_output(f"{tag}-out", virtual=True) as out:
        child = subprocess.Popen([*command, "--port", f"{tag}-in", "--input", f"{tag}-out"], cwd=ROOT, env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end, exited = time.monotonic() + timeout, None
        while time.monotonic() < end and (exited is None or time.monotonic() < exited + 0.3):
            for message in inport.iter_pending():
                if message.type == "start":
                    pulse, first = -1, None
                elif message.type == "clock":
                    now = time.monotonic()
                    first = now if first is None else first
                    pulse = max(pulse, round((now - first) / pulse_seconds))
                    while pending and pending[0][0] <= pulse:
                        out.send(pending.pop(0)[1])
                elif message.type in ("note_on", "note_off"):
                    heard.append((pulse, "on" if message.type == "note_on" and message.velocity > 0 else "off",
                                  message.note))
            if exited is None and child.poll() is not None:
                exited = time.monotonic()
            time.sleep(0.0002)
        if child.poll() is None:
            child.kill()
        _, stderr = child.communicate()
    return heard, stderr.decode(errors="replace"), pulse + 1


def summary(row: dict) -> str:
    """One line for the bench's output."""
    late = row["first_step_late_ms_max"]
    return (f"answer {row['on_bar_line']}/{row['runs']} answers start on their bar line (errors in steps "
            f"{row['start_error_steps']}), {row['exact_answers']}/{row['runs']} note for note the reference; "
            f"first step late {late:.2f} ms at most; re-anchors {row['reanchors']}"
            + ("" if np.isfinite(late) else " (no answer)"))
