"""device.midi.midi_out.MidiOut: exact messages for token streams, silence, close, unplug and reconnect."""

import mido
import pytest

from device.core.clock import FakeClock
from device.core.encoding import NO_EVENT, NOTE_OFF
from device.midi.midi_out import FLUSH_SECONDS, MidiOut
from tests.recording import RecordingOutput, assert_no_stuck_notes, sounding_notes, unplugged_error


def on(note, channel=0, velocity=100):
    return mido.Message("note_on", note=note, velocity=velocity, channel=channel)


def off(note, channel=0):
    return mido.Message("note_off", note=note, velocity=0, channel=channel)


def all_notes_off(channel=0):
    return mido.Message("control_change", control=123, value=0, channel=channel)


def play_all(midi_out, tokens):
    for token in tokens:
        midi_out.play(token)


@pytest.fixture()
def port():
    return RecordingOutput()


def test_note_on_then_next_note_ends_the_first_before_starting():
    port = RecordingOutput()
    play_all(MidiOut(port), [60, NO_EVENT, 62])
    assert port.messages == [on(60), off(60), on(62)]


def test_note_off_token_ends_the_sounding_note(port):
    midi_out = MidiOut(port)
    play_all(midi_out, [60, NOTE_OFF, NO_EVENT, NOTE_OFF])
    assert port.messages == [on(60), off(60)]
    assert midi_out.sounding is None


def test_no_event_sends_nothing(port):
    play_all(MidiOut(port), [NO_EVENT] * 5)
    assert port.messages == []


def test_repeated_pitch_is_restruck(port):
    play_all(MidiOut(port), [64, 64])
    assert port.messages == [on(64), off(64), on(64)]


def test_channel_and_velocity_are_used(port):
    play_all(MidiOut(port, channel=9, velocity=77), [36, NOTE_OFF])
    assert port.messages == [on(36, channel=9, velocity=77), off(36, channel=9)]


def test_sounding_tracks_the_note(port):
    midi_out = MidiOut(port)
    midi_out.play(60)
    assert midi_out.sounding == 60
    midi_out.play(NO_EVENT)
    assert midi_out.sounding == 60


def test_silence_ends_the_note_and_sends_all_notes_off(port):
    midi_out = MidiOut(port, channel=3)
    midi_out.play(60)
    midi_out.silence()
    assert port.messages == [on(60, 3), off(60, 3), all_notes_off(3)]
    assert midi_out.sounding is None


def test_close_silences_closes_the_port_and_is_idempotent(port):
    midi_out = MidiOut(port)
    midi_out.play(72)
    midi_out.close()
    midi_out.close()
    assert port.messages == [on(72), off(72), all_notes_off()]
    assert port.closed


def test_context_manager_leaves_the_synth_silent(port):
    with MidiOut(port) as midi_out:
        midi_out.play(48)
    assert_no_stuck_notes(port.messages)
    assert port.closed


def test_play_after_close_is_an_error(port):
    midi_out = MidiOut(port)
    midi_out.close()
    with pytest.raises(ValueError, match="closed MidiOut"):
        midi_out.play(60)


def test_invalid_token_is_rejected(port):
    with pytest.raises(ValueError, match="token 131"):
        MidiOut(port).play(131)


def test_counts_messages_sent(port):
    midi_out = MidiOut(port)
    play_all(midi_out, [60, 62, NOTE_OFF])
    assert midi_out.messages_sent == 4  # on 60, off 60, on 62, off 62


def test_unplugged_port_marks_disconnected_and_raises_nothing(port):
    midi_out = MidiOut(port, clock=FakeClock())
    midi_out.play(60)
    port.fail()
    midi_out.play(62)
    assert not midi_out.connected
    assert midi_out.losses == 1
    assert "error sending MIDI message" in midi_out.last_error
    assert port.closed


def test_disconnected_midi_out_keeps_tracking_the_melody(port):
    midi_out = MidiOut(port, clock=FakeClock())
    port.fail()
    play_all(midi_out, [60, NO_EVENT, 65])
    assert midi_out.sounding == 65
    assert port.messages == []


def test_reconnect_waits_for_retry_seconds_then_sends_all_notes_off_first():
    """Reconnecting happens after a step's messages, so opening a port never delays a note."""
    clock = FakeClock()
    first, second = RecordingOutput("first"), RecordingOutput("second")
    midi_out = MidiOut(first, reopen=lambda: second, clock=clock, retry_seconds=1.0)
    midi_out.play(60)
    first.fail()
    midi_out.play(62)  # lost here
    clock.advance(0.5)
    midi_out.play(64)  # too early to retry
    assert not midi_out.connected
    clock.advance(0.5)
    midi_out.play(67)  # reconnects after this step's (lost) messages
    assert midi_out.connected
    assert midi_out.reconnects == 1
    midi_out.play(69)
    assert first.messages == [on(60)]
    assert second.messages == [all_notes_off(), off(67), on(69)]


def test_failed_reopen_is_retried_at_most_every_retry_seconds():
    clock = FakeClock()
    attempts = []

    def reopen():
        attempts.append(clock.now())
        raise unplugged_error()

    port = RecordingOutput()
    midi_out = MidiOut(port, reopen=reopen, clock=clock, retry_seconds=2.0)
    port.fail()
    for _ in range(40):
        midi_out.play(60)
        clock.advance(0.25)
    assert attempts == [2.0, 4.0, 6.0, 8.0]
    assert midi_out.failed_reopens == 4
    assert not midi_out.connected


def test_port_failing_again_right_after_reopen_stays_disconnected():
    clock = FakeClock()
    broken = RecordingOutput("broken")
    broken.fail()
    port = RecordingOutput()
    midi_out = MidiOut(port, reopen=lambda: broken, clock=clock, retry_seconds=1.0)
    port.fail()
    midi_out.play(60)
    clock.advance(1.0)
    midi_out.play(62)
    assert not midi_out.connected
    assert midi_out.reconnects == 0
    assert midi_out.losses == 2


def test_starts_disconnected_without_a_port_and_connects_later():
    clock = FakeClock()
    port = RecordingOutput()
    midi_out = MidiOut(None, reopen=lambda: port, clock=clock, retry_seconds=1.0)
    assert not midi_out.connected
    midi_out.play(60)
    clock.advance(1.0)
    midi_out.play(NO_EVENT)
    assert midi_out.connected
    midi_out.play(NOTE_OFF)
    assert port.messages == [all_notes_off(), off(60)]


def test_alive_check_detects_a_port_that_vanished_without_errors(port):
    clock = FakeClock()
    present = [True]
    midi_out = MidiOut(port, clock=clock, retry_seconds=1.0, alive=lambda: present[0])
    midi_out.play(60)
    present[0] = False
    clock.advance(1.0)
    midi_out.play(62)  # sent into the void, then the check finds the port gone
    assert not midi_out.connected
    midi_out.play(64)
    assert port.messages == [on(60), off(60), on(62)]
    assert midi_out.last_error == "the port is no longer listed"


def test_silence_while_disconnected_forgets_the_note_and_raises_nothing(port):
    midi_out = MidiOut(port, clock=FakeClock())
    midi_out.play(60)
    port.fail()
    midi_out.silence()
    midi_out.close()
    assert midi_out.sounding is None
    assert sounding_notes(port.messages) == {(0, 60)}  # the synth side was unplugged with it


def test_close_on_a_lost_port_tries_one_last_reopen_to_silence_the_synth():
    clock = FakeClock()
    first, second = RecordingOutput("first"), RecordingOutput("second")
    midi_out = MidiOut(first, reopen=lambda: second, clock=clock, retry_seconds=60.0)
    midi_out.play(60)
    first.fail()
    midi_out.close()  # the loss is found by close's own note_off; no retry interval has passed
    assert second.messages == [all_notes_off()]
    assert second.closed


def test_close_gives_buffering_backends_time_to_deliver_the_last_messages_before_closing():
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    midi_out = MidiOut(port, clock=clock)
    midi_out.play(60)
    midi_out.close()
    assert port.messages == [on(60), off(60), all_notes_off()]
    assert port.times == [0.0, 0.0, 0.0]
    assert clock.sleeps == [FLUSH_SECONDS] and port.closed


# Articulation: velocity per note, the gate's scheduled note-off, the recorder.


def test_a_note_takes_the_velocity_it_is_played_with(port):
    midi_out = MidiOut(port, velocity=100)
    midi_out.play(60, velocity=31)
    midi_out.play(62)
    assert port.messages == [on(60, velocity=31), off(60), on(62, velocity=100)]


def test_a_velocity_outside_1_to_127_is_refused(port):
    with pytest.raises(ValueError, match="velocity must be 1..127, got 0"):
        MidiOut(port).play(60, velocity=0)


def test_end_at_ends_the_note_on_that_pulse_not_before(port):
    midi_out = MidiOut(port)
    midi_out.tick(0)
    midi_out.play(60)
    midi_out.end_at(3)
    midi_out.tick(1)
    midi_out.tick(2)
    assert port.messages == [on(60)]
    midi_out.tick(3)
    assert port.messages == [on(60), off(60)]
    assert midi_out.sounding is None


def test_a_token_before_the_gate_ends_the_note_once(port):
    midi_out = MidiOut(port)
    midi_out.play(60)
    midi_out.end_at(4)
    midi_out.play(62)
    for pulse in range(1, 8):
        midi_out.tick(pulse)
    assert port.messages == [on(60), off(60), on(62)]


def test_end_at_a_pulse_already_passed_or_with_nothing_sounding_does_nothing(port):
    midi_out = MidiOut(port)
    midi_out.tick(5)
    midi_out.end_at(9)  # nothing sounds
    midi_out.play(60)
    midi_out.end_at(5)  # not a later pulse
    for pulse in range(6, 12):
        midi_out.tick(pulse)
    assert port.messages == [on(60)]


def test_the_recorder_hears_every_note_on_and_off_with_its_pulse(port):
    heard = []
    midi_out = MidiOut(port, recorder=lambda *event: heard.append(event))
    midi_out.tick(0)
    midi_out.play(60, velocity=90)
    midi_out.end_at(2)
    midi_out.tick(2)
    midi_out.tick(6)
    midi_out.play(64)
    midi_out.silence()
    assert heard == [(0, 60, 90), (2, 60, 0), (6, 64, 100), (6, 64, 0)]


def test_a_gated_note_ends_at_once_when_the_song_position_goes_back(port):
    midi_out = MidiOut(port)
    midi_out.tick(40)
    midi_out.play(60)
    midi_out.end_at(44)
    midi_out.tick(0)  # a new Start
    assert port.messages == [on(60), off(60)]
