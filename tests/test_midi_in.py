"""device.midi.midi_in: stamping, sorting, bounded queues, channel filter and hot-plug (fake clock and port); the input
and clock settings in the config, the run flags and doctor."""

import mido
import pytest
from mido.ports import BaseInput

from device.assembly import Parts, assemble
from device.cli import build_parser, config_from_args
from device.config import ConfigError, from_dict
from device.core.clock import FakeClock
from device.doctor import check_input
from device.engine.controlstate import FixedControls
from device.midi.midi_in import InputEvent, MidiIn
from tests.recording import RecordingOutput, shipped_model_path


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
    assert midi_in.connected  # one listing without it may be a failed listing
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


def test_doctor_finds_the_configured_input():
    config = from_dict({"midi": {"input": "tr-8"}, "clock": {"mode": "follow"}})
    check = check_input(config, names=["Midi Through:0", "TR-8S:TR-8S MIDI 1 20:0"])
    assert (check.status, check.detail) == ("ok", "'TR-8S:TR-8S MIDI 1 20:0' (clock.mode = follow)")


def test_doctor_says_a_configured_input_is_missing_and_how_to_fix_it():
    check = check_input(from_dict({"midi": {"input": "tr-8"}}), names=["Midi Through:0"])
    assert check.status == "missing" and "no MIDI input matches 'tr-8'" in check.detail and "plug in" in check.fix


def test_doctor_checks_no_input_when_none_is_configured():
    assert check_input(from_dict({}), names=[]) is None


def test_run_flags_set_the_input_and_the_clock():
    args = build_parser().parse_args(["run", "--input", "TR-8", "--clock", "follow"])
    config = config_from_args(args)
    assert (config.midi.input, config.midi.virtual_input, config.clock.mode) == ("TR-8", "", "follow")


def test_input_channel_0_is_omni_and_17_is_refused():
    assert from_dict({"midi": {"input_channel": 0}}).midi.input_channel == 0
    with pytest.raises(ConfigError, match=r"midi.input_channel = 17: must be 1..16, or 0 for omni"):
        from_dict({"midi": {"input_channel": 17}}, source="box.toml")


def test_an_unknown_clock_mode_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"box.toml: clock.mode = 'midi': must be one of 'internal', 'lead', "):
        from_dict({"clock": {"mode": "midi"}}, source="box.toml")


def test_without_a_reader_channel_messages_are_not_kept_but_the_clock_is():
    port = FakeInput("keys")
    midi_in = MidiIn(port, FakeClock())
    midi_in.keep_events = False
    port.deliver(note(60))
    port.deliver(mido.Message("clock"))
    assert midi_in.drain() == [] and midi_in.wait_clock(0.0).message.type == "clock" and midi_in.dropped == 0


def test_the_assembled_box_follows_the_clock_of_an_injected_input_and_closes_it():
    config = from_dict({"model": {"path": str(shipped_model_path())}, "clock": {"mode": "follow"}})
    port = FakeInput("drums")
    with assemble(config, 0, Parts(clock=FakeClock(), output=RecordingOutput(), controls=FixedControls(),
                                   input=port)) as box:
        port.deliver(mido.Message("start"))
        assert box.transport.source is box.midi_in
        assert box.midi_in.wait_clock(0.0).message.type == "start"
    assert port.closed


class FakeRtMidiIn:
    """python-rtmidi's MidiIn as mido's rtmidi port holds it: the box sets its callback for raw bytes."""

    def __init__(self):
        self.callback = None

    def set_callback(self, callback):
        self.callback = callback

    def cancel_callback(self):
        self.callback = None


def test_raw_bytes_that_are_not_midi_are_counted_and_said_once():
    port, warnings = FakeInput("drums"), []
    port._rt = FakeRtMidiIn()
    midi_in = MidiIn(port, FakeClock(), warn=warnings.append)
    for data in ([0xF8], [0x90, 60, 100], [0x90, 200], [0x05], []):
        port._rt.callback((data, 0.0))
    assert [e.message for e in midi_in.drain()] == [mido.Message("note_on", note=60, velocity=100)]
    assert midi_in.wait_clock(0.0).message.type == "clock" and midi_in.garbage == 3
    assert warnings == ["MIDI input sent 3 messages that are not MIDI: ignored"]
