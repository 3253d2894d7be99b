"""Properties of follow mode over random MIDI input, garbage included: bytes -> mido's parser -> MidiIn -> follower
-> the real loop (shipped model, fake clock, recording port).

Whatever arrives: never two notes sounding, nothing sounding while the transport is stopped, no burst of
steps (two steps closer than MIN_STEP_SECONDS), and, while following, no more than one step per 6 pulses.
"""

import mido
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from device.core.clock import FakeClock
from device.engine.controlstate import FixedControls
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler
from device.midi.midi_in import MidiIn
from device.midi.midi_out import MidiOut
from device.play.loop import Loop
from device.transport.follow import MIN_STEP_SECONDS, FollowTransport
from tests.recording import RecordingOutput, shipped_model_path

CLOCK, START, CONTINUE, STOP = b"\xf8", b"\xfa", b"\xfb", b"\xfc"


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


class ByteSource:
    """Raw MIDI bytes at scripted times, parsed by mido and received by a MidiIn, as rtmidi would deliver them.

    ``arrivals`` records (time, type) of every clock/transport message the follower was given.
    """

    def __init__(self, clock: FakeClock, schedule):
        self.clock, self.schedule = clock, list(schedule)
        self.midi_in = MidiIn(None, clock)
        self.parser = mido.Parser()
        self.arrivals = []

    def wait_clock(self, deadline):
        while True:
            event = self.midi_in.wait_clock(self.clock.now())  # never waits: the deadline is now
            if event is not None:
                self.arrivals.append((event.time, event.message.type))
                return event
            if not self.schedule or self.schedule[0][0] > deadline:
                self.clock.sleep_until(deadline)
                return None
            time, data = self.schedule.pop(0)
            self.clock.sleep_until(time)
            self.parser.feed(data)
            for message in self.parser:
                self.midi_in.receive(message)


class RecordingTransport:
    """The follower, recording (time, tick, messages sent so far, clock messages handled so far) for every tick.

    Handled: received, less the one message the follower may have read ahead of a pulse (looking for a Stop) and
    holds for its next tick."""

    def __init__(self, follower, port, source):
        self.follower, self.port, self.source, self.ticks = follower, port, source, []
        self.bpm = follower.bpm

    def next_tick(self):
        tick = self.follower.next_tick()
        handled = len(self.source.arrivals) - (self.follower._held is not None)
        self.ticks.append((self.follower.clock.now(), tick, len(self.port.messages), handled))
        return tick


chunk = st.one_of(
    st.just(CLOCK).map(lambda b: (8, b)),  # mostly clock
    st.sampled_from([START, CONTINUE, STOP]).map(lambda b: (1, b)),
    st.integers(0, 16383).map(lambda pos: (1, bytes([0xF2, pos & 0x7F, pos >> 7]))),
    st.binary(min_size=1, max_size=6).map(lambda b: (1, b)),  # garbage, and whatever it happens to contain
    st.integers(0, 127).map(lambda n: (1, bytes([0x90, n, 100]))),  # a player's notes: not the follower's
)
stream = st.lists(st.tuples(st.floats(0.0, 0.6), st.lists(chunk, min_size=1, max_size=3)), max_size=80)


def play(model, stream, on_clock_loss):
    clock, time, schedule = FakeClock(), 0.0, []
    for gap, chunks in stream:
        time += gap if gap > 0.05 else gap / 4  # mostly pulse-like gaps, sometimes long ones
        schedule.append((time, b"".join(data for _, data in chunks)))
    source = ByteSource(clock, schedule)
    port = RecordingOutput(clock=clock)
    transport = RecordingTransport(FollowTransport(source, clock, on_clock_loss=on_clock_loss), port, source)
    loop = Loop(Generator(model, Sampler(seed=1, pitch_range=model.contract.pitch_range), [60]),
                MidiOut(port, clock=clock), FixedControls(1.5), transport)
    while clock.now() <= time + 1.0:
        loop.tick(transport.next_tick())
    loop.midi_out.silence()
    return port, transport.ticks, source.arrivals


def sounding_after_each_message(port):
    """The pitches sounding after each recorded message."""
    sounding, out = set(), []
    for message in port.messages:
        if message.type == "note_on" and message.velocity > 0:
            sounding = sounding | {message.note}
        elif message.type in ("note_on", "note_off"):
            sounding = sounding - {message.note}
        elif message.type == "control_change" and message.control == 123:
            sounding = set()
        out.append(sounding)
    return out


def check_no_stuck_or_double_notes(port, ticks):
    """At most one note at any time; once the loop has handled a stopped tick, nothing sounds."""
    sounding = [set()] + sounding_after_each_message(port)  # sounding[k]: after the first k messages
    assert all(len(pitches) <= 1 for pitches in sounding) and not sounding[-1]
    handled = [tick[2] for tick in ticks[1:]] + [len(port.messages)]  # messages sent once each tick was handled
    for (_, tick, _, _), count in zip(ticks, handled, strict=True):
        assert tick.running or not sounding[count]


def check_no_burst(ticks):
    step_times = [now for now, tick, _, _ in ticks if tick.on_step]
    gaps = [b - a for a, b in zip(step_times, step_times[1:], strict=False)]
    assert all(gap >= MIN_STEP_SECONDS for gap in gaps), min(gaps)


def check_one_step_per_6_pulses(ticks, arrivals):
    """Between two steps: 6 pulses, or a Start / Continue / Song Position Pointer that moved the position."""
    received = [count for _, tick, _, count in ticks if tick.on_step]  # clock messages received by each step
    for a, b in zip(received, received[1:], strict=False):
        between = [kind for _, kind in arrivals[a:b]]
        assert between.count("clock") >= 6 or {"start", "continue", "songpos"} & set(between)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(stream=stream)
@example(stream=[(0.0, [(1, START), (8, CLOCK), (1, START)]), (0.5, [(8, CLOCK)])])  # a Start read ahead of a pulse
def test_following_random_input_never_sticks_doubles_bursts_or_runs_ahead_of_the_pulses(model, stream):
    port, ticks, arrivals = play(model, stream, on_clock_loss="stop")
    check_no_stuck_or_double_notes(port, ticks)
    check_no_burst(ticks)
    check_one_step_per_6_pulses(ticks, arrivals)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(stream=stream)
def test_free_running_through_random_input_never_sticks_doubles_or_bursts(model, stream):
    port, ticks, _ = play(model, stream, on_clock_loss="continue")
    check_no_stuck_or_double_notes(port, ticks)
    check_no_burst(ticks)
