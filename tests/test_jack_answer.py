"""Call and response through a real MIDI stack: `melodybox run --mode answer --clock lead` in a subprocess on a
private JACK dummy server (period 64), and this process as the player on its own rtmidi ports: it hears the
box's MIDI clock and plays a call on it, then records the box's notes against the pulses (with thru, the box's
echo of the call says when it took each note).

The expected answer is the reference of device/bench/answer.py: the bar line the rules give, and the notes of the same
seeded model reset and primed with the same call. The player numbers the box's pulses by their arrival time
(a pulse lost on the way, as JACK's asynchronous mode did for 1 or 2 of 427 in most runs, does not shift the
count); on a machine so loaded that the player itself is held back for pulses at a time, no step can be named,
and the test says so and skips.
"""

import os
import sys

import pytest

from device.bench.answer import answer_events, answer_plan, answer_reference, answer_schedule, play_calls
from tests.jack_server import JackServer, JackUnavailable, once_more_if_midi_was_lost
from tests.recording import shipped_model_path

pytestmark = pytest.mark.jack
SEED = 1
CALL = ((60, 0, 2), (64, 4, 6), (67, 8, 10), (72, 12, 14))  # one bar, from bar 1: the answer is due on step 48


@pytest.fixture(scope="module")
def jack():
    """A private JACK dummy server with 64-frame periods; yields the environment for the box."""
    try:
        with JackServer(name=f"melodybox-answer-{os.getpid()}", period=64) as server:
            yield {**os.environ, **server.env}
    except JackUnavailable as error:
        pytest.skip(str(error))


def box_command(steps):
    return [sys.executable, "-m", "device", "run", "--model", str(shipped_model_path()), "--mode", "answer", "--thru",
            "--clock", "lead", "--bpm", "120", "--seed", str(SEED), "--sim", "--steps", str(steps)]


def late_echoes(echoes, notes):
    """The call's notes the box took more than half a step after their step (its thru echo says when)."""
    due = sorted((step * 6, "on" if kind else "off", pitch) for pitch, on, off in notes for step, kind in ((on, 1),
                                                                                                           (off, 0)))
    return [(d, e) for d, e in zip(due, sorted(echoes), strict=False) if e[0] - d[0] > 3 or e[1:] != d[1:]]


@once_more_if_midi_was_lost
def test_a_player_on_real_ports_is_answered_on_the_bar_line_for_as_long_as_the_call(jack, attempt):
    plan = answer_plan([CALL])
    (start, bars, notes), steps = plan[0], 72
    heard, stderr, pulses = play_calls(box_command(steps), answer_schedule(plan), timeout=60, env=jack)
    assert "call and response" in stderr and "Traceback" not in stderr, stderr
    sent = (steps - 1) * 6 + 1
    if pulses != sent:  # pulses are numbered by their time: this many off, the machine held the player back
        pytest.skip(f"the player counted {pulses} clock pulses of the {sent} the box sent (load average "
                    f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores): the steps cannot be named")
    echoes = [event for event in heard if event[0] < start * 6]  # thru: the call as the box took it, by pulse
    assert len(echoes) == 2 * len(notes), echoes
    if late_echoes(echoes, notes):  # then the box heard another call, and rightly answers that one
        pytest.skip(f"the call reached the box more than half a step late (load average {os.getloadavg()[0]:.1f}):"
                    f" {late_echoes(echoes, notes)}")
    played = sorted((pulse // 6, kind, pitch) for pulse, kind, pitch in heard if pulse >= start * 6)
    assert (start, bars) == (48, 1)
    # token i of the answer on step 48 + i (the answer may begin with a rest: its first note comes later)
    assert played == answer_events(start, answer_reference(shipped_model_path(), plan, SEED)[0])
    assert played and max(step for step, _, _ in played) == 64  # over after one bar, as long as the call
