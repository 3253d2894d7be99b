"""device.midi_in: stamping, sorting, bounded queues, channel filter and hot-plug, with a fake clock and port."""

import mido
import pytest
from mido.ports import BaseInput

from device.clock import FakeClock
from device.midi_in import InputEvent, MidiIn


class FakeInput(BaseInput):
    """An input port whose messages the test delivers through the callback, as rtmidi's thread would."""

    def _open(self, **kwargs):
        self.callback = None

    def deliver(self, message: mido.Message) -> None:
        self.callback(message)


def note(pitch=60, channel=0):
    return mido.Message("note_on", note=pitch, velocity=90, channel=channel)


def test_a_note_is_stamped_with_the_box_clock_time_and_drained_once():
    clock, port = FakeClock(5.0), FakeInput("keys")
    midi_in = MidiIn(port, clock)
    clock.advance(0.25)
    port.deliver(note(62))
    assert midi_in.drain() == [InputEvent(5.25, note(62))]
    assert midi_in.drain() == []


def test_clock_and_transport_messages_go_to_the_follower_not_the_loop():
    clock, port = FakeClock(), FakeInput("drums")
    midi_in = MidiIn(port, clock)
    for kind in ("start", "clock", "stop", "continue"):
        port.deliver(mido.Message(kind))
    port.deliver(mido.Message("songpos", pos=16))
    assert midi_in.drain() == []
    kinds = [midi_in.wait_clock(clock.now()).message.type for _ in range(5)]
    assert kinds == ["start", "clock", "stop", "continue", "songpos"]


def test_wait_clock_returns_none_when_nothing_came_by_the_deadline():
    clock = FakeClock(1.0)
    midi_in = MidiIn(FakeInput("drums"), clock)
    assert midi_in.wait_clock(0.5) is None


def test_the_channel_filter_keeps_only_its_channel():
    port = FakeInput("keys")
    midi_in = MidiIn(port, FakeClock(), channel=2)
    port.deliver(note(60, channel=0))
    port.deliver(note(64, channel=2))
    assert [event.message.note for event in midi_in.drain()] == [64]


def test_omni_keeps_every_channel():
    port = FakeInput("keys")
    midi_in = MidiIn(port, FakeClock(), channel=None)
    for channel in (0, 9, 15):
        port.deliver(note(60, channel=channel))
    assert [event.message.channel for event in midi_in.drain()] == [0, 9, 15]


def test_sysex_and_active_sensing_are_ignored():
    port = FakeInput("keys")
    midi_in = MidiIn(port, FakeClock())
    port.deliver(mido.Message("sysex", data=[1, 2, 3]))
    port.deliver(mido.Message("active_sensing"))
    assert midi_in.drain() == [] and midi_in.wait_clock(0.0) is None


def test_a_flood_keeps_the_newest_messages_counts_the_drops_and_warns_once():
    port, warnings = FakeInput("keys"), []
    midi_in = MidiIn(port, FakeClock(), event_capacity=4, warn=warnings.append)
    for pitch in range(10):
        port.deliver(note(pitch))
    assert [event.message.note for event in midi_in.drain()] == [6, 7, 8, 9]
    assert midi_in.dropped == 6
    midi_in.drain()
    assert warnings == ["MIDI input flooded: dropped 6 messages"]


def test_a_clock_flood_is_bounded_too():
    port = FakeInput("drums")
    midi_in = MidiIn(port, FakeClock(), clock_capacity=3)
    for _ in range(5):
        port.deliver(mido.Message("clock"))
    events = [midi_in.wait_clock(0.0) for _ in range(4)]
    assert [e is not None for e in events] == [True, True, True, False]
    assert midi_in.dropped == 2


def test_channel_outside_0_to_15_is_refused():
    with pytest.raises(ValueError, match="0..15"):
        MidiIn(None, FakeClock(), channel=16)


def test_a_port_no_longer_listed_is_dropped_and_reopened_when_it_returns():
    clock, warnings, listed = FakeClock(), [], [True]
    ports = [FakeInput("drums"), FakeInput("drums")]
    midi_in = MidiIn(ports[0], clock, reopen=lambda: ports[1], alive=lambda: listed[0], warn=warnings.append)
    listed[0] = False
    clock.advance(1.0)
    midi_in.drain()
    assert (midi_in.connected, ports[0].closed, midi_in.losses) == (False, True, 1)
    clock.advance(1.0)
    midi_in.drain()
    assert midi_in.connected and midi_in.reconnects == 1
    ports[1].deliver(note(67))
    assert [event.message.note for event in midi_in.drain()] == [67]
    assert warnings == ["MIDI input 'drums' lost (the port is no longer listed): playing on, reconnecting when it "
                        "returns", "MIDI input 'drums' is back"]


def test_a_failing_reopen_keeps_the_box_going_and_retries_later():
    clock, attempts = FakeClock(), []

    def reopen():
        attempts.append(clock.now())
        raise OSError("no such port")

    midi_in = MidiIn(None, clock, reopen=reopen)
    for _ in range(5):
        clock.advance(0.5)
        midi_in.drain()
    assert attempts == [1.0, 2.0] and not midi_in.connected and midi_in.last_error == "no such port"


def test_close_detaches_the_callback_and_closes_the_port():
    port = FakeInput("keys")
    midi_in = MidiIn(port, FakeClock())
    midi_in.close()
    midi_in.close()
    assert port.closed and port.callback is None and not midi_in.connected
