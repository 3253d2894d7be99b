"""Velocity (accents, humanise) and gate, alone and played by the loop on the transport's pulses."""

import mido
import pytest

from device.core.clock import FakeClock
from device.core.encoding import NO_EVENT, NOTE_OFF
from device.core.timegrid import PULSES_PER_STEP
from device.engine.controlstate import ControlState, FixedControls
from device.engine.dynamics import ACCENT_RANGE, HUMANISE_RANGE, Dynamics, beat_weight, gate_pulses
from device.midi.midi_out import MidiOut
from device.play.loop import Loop
from device.transport.internal import InternalTransport
from tests.recording import RecordingOutput, max_polyphony, sounding_notes

PULSE = 0.125 / PULSES_PER_STEP  # seconds per pulse at 120 bpm


class ScriptedGenerator:
    """A generator that plays ``tokens`` in turn (then NO_EVENT) and counts resets."""

    def __init__(self, tokens):
        self.tokens = list(tokens)
        self.resets = 0

    def next_token(self, state, step=None):
        return self.tokens.pop(0) if self.tokens else NO_EVENT

    def reset(self):
        self.resets += 1


def play(tokens, state, steps=None, velocity=100, seed=0):
    """Run the loop over ``tokens`` with the controls fixed at ``state``; return [(pulse, message)]."""
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    midi_out = MidiOut(port, velocity=velocity, clock=clock)
    loop = Loop(ScriptedGenerator(tokens), midi_out, FixedControls(state), InternalTransport(clock, 120),
                dynamics=Dynamics(velocity, seed=seed))
    loop.run(steps or len(tokens) + 1)
    return [(round(time / PULSE), message) for time, message in zip(port.times, port.messages, strict=True)
            if message.type in ("note_on", "note_off")]


def on(note, velocity=100):
    return mido.Message("note_on", note=note, velocity=velocity)


def off(note):
    return mido.Message("note_off", note=note, velocity=0)


def test_beat_weights_rank_bar_start_quarter_eighth_sixteenth():
    assert [beat_weight(p) for p in (0, 4, 8, 12, 2, 6, 1, 3, 15)] == [1, 2 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0, 0, 0]


def test_without_accent_or_humanise_every_note_has_the_configured_velocity():
    dynamics = Dynamics(87)
    assert {dynamics.velocity(step, ControlState()) for step in range(64)} == {87}


def test_full_accent_spreads_the_bar_around_the_configured_velocity():
    dynamics = Dynamics(100)
    state = ControlState(accent=1.0)
    assert [dynamics.velocity(step, state) for step in (0, 4, 2, 1, 16)] == [
        100 + ACCENT_RANGE // 2, round(100 + ACCENT_RANGE / 6), round(100 - ACCENT_RANGE / 6),
        100 - ACCENT_RANGE // 2, 100 + ACCENT_RANGE // 2]


def test_accent_follows_the_bar_length():
    assert Dynamics(100, bar_steps=12).velocity(12, ControlState(accent=1.0)) == 100 + ACCENT_RANGE // 2


def test_velocities_stay_within_1_to_127():
    state = ControlState(accent=1.0, humanise=1.0)
    low, high = Dynamics(1, seed=3), Dynamics(127, seed=3)
    assert min(low.velocity(s, state) for s in range(200)) == 1
    assert max(high.velocity(s, state) for s in range(200)) == 127


def test_humanise_is_seeded_and_bounded():
    state = ControlState(humanise=0.5)
    one, other = Dynamics(64, seed=5), Dynamics(64, seed=5)
    first = [one.velocity(s, state) for s in range(100)]
    again = [other.velocity(s, state) for s in range(100)]
    assert first == again
    assert len(set(first)) > 3
    assert all(abs(v - 64) <= HUMANISE_RANGE * 0.5 for v in first)


@pytest.mark.parametrize("gate, pulses", [(0.0, 1), (0.5, 4), (0.9, 6), (1.0, 6), (-1.0, 1), (2.0, 6)])
def test_gate_pulses(gate, pulses):
    assert gate_pulses(gate) == pulses


def test_the_loop_plays_accented_velocities_on_the_transport_steps():
    tokens = [60, 62, 64, 65, 67]
    played = play(tokens, ControlState(accent=1.0))
    velocities = [m.velocity for _, m in played if m.type == "note_on"]
    assert velocities == [Dynamics(100).velocity(step, ControlState(accent=1.0)) for step in range(5)]


def test_a_legato_gate_ends_a_note_as_the_next_starts():
    assert play([60, 62, NOTE_OFF], ControlState(gate=1.0)) == [
        (0, on(60)), (6, off(60)), (6, on(62)), (12, off(62))]


def test_a_half_gate_ends_each_note_within_its_last_16th():
    assert play([60, 62, NOTE_OFF], ControlState(gate=0.5)) == [
        (0, on(60)), (4, off(60)), (6, on(62)), (10, off(62))]


def test_a_gate_shortens_only_the_last_16th_of_a_held_note():
    assert play([60, NO_EVENT, NO_EVENT, 62, NOTE_OFF], ControlState(gate=0.0)) == [
        (0, on(60)), (13, off(60)), (18, on(62)), (19, off(62))]


def test_a_note_still_held_when_the_script_ends_is_not_cut_by_the_gate():
    played = play([60], ControlState(gate=0.0), steps=3)
    assert played[0] == (0, on(60))
    assert [p for p, m in played if m.type == "note_off"] == [12]  # the loop's final silence, at the 3rd step


def test_gated_notes_never_overlap_and_never_stick():
    tokens = [60, 61, NO_EVENT, NOTE_OFF, 62, 62, NO_EVENT, 64] * 4
    for gate in (0.0, 0.3, 0.6, 1.0):
        messages = [m for _, m in play(tokens, ControlState(gate=gate, accent=0.7, humanise=1.0))]
        assert max_polyphony(messages) <= 1
        assert sounding_notes(messages) == set()


def test_articulate_gives_the_notes_the_loop_plays():
    from device.engine.dynamics import articulate
    from device.play.capture import Capture

    tokens = [60, NO_EVENT, 62, NOTE_OFF, NO_EVENT, 64, 64, NO_EVENT, NO_EVENT, 67, NO_EVENT]
    state = ControlState(gate=0.3, accent=0.8, humanise=1.0)
    clock = FakeClock()
    capture = Capture("unused", bars=1, bpm=120, bar_steps=16, writer=lambda job: None)
    midi_out = MidiOut(RecordingOutput(clock=clock), clock=clock, recorder=capture.record)
    loop = Loop(ScriptedGenerator(tokens), midi_out, FixedControls(state), InternalTransport(clock, 120),
                dynamics=Dynamics(100, seed=9))
    loop.run(len(tokens))
    played = [(n.pitch, n.velocity, n.start, n.end) for n in capture.notes]
    offline = [(n.pitch, n.velocity, n.start, n.end) for n in articulate(tokens, state, Dynamics(100, seed=9))]
    assert offline[:-1] == played[:-1]
    assert offline[-1][:3] == played[-1][:3]  # the last note: the file ends with the tokens, the loop on close


def file_notes(path):
    """[(start, end, pitch, velocity)] in 16ths of a MIDI file's first track."""
    ticks = mido.MidiFile(path).ticks_per_beat / 4
    now, sounding, notes = 0, {}, []
    for message in mido.MidiFile(path).tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding[message.note] = (now, message.velocity)
        elif message.type in ("note_on", "note_off") and message.note in sounding:
            start, velocity = sounding.pop(message.note)
            notes.append((start / ticks, now / ticks, message.note, velocity))
    return notes


def test_generate_plays_gate_and_accent_as_the_box_does(tmp_path):
    from device.cli import main

    plain, shaped = tmp_path / "plain.mid", tmp_path / "shaped.mid"
    main(["generate", "--seed", "3", "--bars", "2", "-o", str(plain)])
    main(["generate", "--seed", "3", "--bars", "2", "--gate", "0.5", "--accent", "1", "-o", str(shaped)])
    before, after = file_notes(plain), file_notes(shaped)
    assert [(start, pitch) for start, _, pitch, _ in after] == [(start, pitch) for start, _, pitch, _ in before]
    assert [velocity for start, _, _, velocity in after] == [
        Dynamics(100).velocity(int(start), ControlState(accent=1.0)) for start, _, _, _ in after]
    assert [end for _, end, _, _ in after[:-1]] == [end - 2 / 6 for _, end, _, _ in before[:-1]]  # 4 of 6 pulses
