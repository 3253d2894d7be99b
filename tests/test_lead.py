"""Lead (clock.mode = "lead"): the assembled box sends MIDI clock, Start, Stop, SPP and Continue with its notes.

Fake clock, scripted controls and a recording port: times are exact.
"""

import dataclasses

import mido

from device.assembly import Parts, assemble
from device.core.clock import FakeClock
from device.engine.controlstate import FixedControls
from device.midi.midi_out import MidiOut
from device.settings import ClockConfig, Config
from device.transport.base import Tick
from device.transport.lead import ClockOut
from tests.recording import RecordingOutput, shipped_model_path

PULSE = 60 / 120 / 24  # seconds per pulse at 120 bpm
TRANSPORT = ("clock", "start", "stop", "continue", "songpos")


def lead_box(controls=None, mode="lead", tokens=(60,) + (129,) * 15, on_step=None):
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    config = Config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(shipped_model_path())),
                                 primer=dataclasses.replace(config.primer, tokens=tokens),
                                 clock=ClockConfig(mode=mode))
    parts = Parts(clock=clock, output=port, controls=controls or FixedControls(1.0))
    return assemble(config, 0, parts, on_step=on_step), port


def sent(port, types=TRANSPORT):
    """(type, time in pulses) of the recorded messages of these types; songpos as ("songpos N", time)."""
    out = []
    for message, time in zip(port.messages, port.times, strict=True):
        if message.type in types:
            name = f"songpos {message.pos}" if message.type == "songpos" else message.type
            out.append((name, round(time / PULSE, 6)))
    return out


def test_start_then_a_pulse_on_every_tick_deadline():
    box, port = lead_box()
    with box:
        box.run(steps=2)
    assert sent(port)[:8] == [("start", 0), ("clock", 0), ("clock", 1), ("clock", 2), ("clock", 3), ("clock", 4),
                              ("clock", 5), ("clock", 6)]


def test_every_sixth_pulse_goes_out_just_before_a_step_note():
    box, port = lead_box()
    with box:
        box.run(steps=8)
    kinds = [m.type for m in port.messages if m.type in ("clock", "note_on", "note_off")]
    note_positions = [i for i, kind in enumerate(kinds) if kind in ("note_on", "note_off")]
    pulses_before = [kinds[:i].count("clock") for i in note_positions]
    assert note_positions and all((count - 1) % 6 == 0 for count in pulses_before)
    note_times = [round(t / PULSE, 6) for m, t in zip(port.messages, port.times, strict=True) if m.type == "note_on"]
    assert all(time % 6 == 0 for time in note_times)


def test_pause_sends_stop_and_resume_sends_the_step_position_and_continue_on_a_step_boundary():
    controls = FixedControls(1.0, pause_toggles_at={2, 4})  # reads 2 and 4: steps 2 and 4
    box, port = lead_box(controls)
    with box:
        box.run(steps=7)
    transport = [event for event in sent(port) if event[0] != "clock"]
    assert transport == [("start", 0), ("stop", 13), ("songpos 5", 30), ("continue", 30), ("stop", 36)]
    pulses = [time for kind, time in sent(port) if kind == "clock"]
    assert pulses == list(range(len(pulses)))  # pulses go on while paused


def test_exit_sends_stop_before_all_notes_off():
    box, port = lead_box()
    with box:
        box.run(steps=3)
    tail = [m.type for m in port.messages if m.type in ("stop", "control_change")][:2]
    assert tail == ["stop", "control_change"]


def test_internal_mode_sends_no_clock():
    box, port = lead_box(mode="internal")
    with box:
        box.run(steps=3)
    assert sent(port) == []


def test_a_stopped_transport_sends_stop_once():
    port = RecordingOutput()
    clock_out = ClockOut(MidiOut(port, clock=FakeClock()))
    for tick in (Tick(0), Tick(1), Tick(2, running=False), Tick(2, running=False)):
        clock_out.tick(tick)
    assert [m.type for m in port.messages] == ["start", "clock", "clock", "stop", "clock", "clock"]


def test_song_position_is_capped_at_14_bits():
    port = RecordingOutput()
    clock_out = ClockOut(MidiOut(port, clock=FakeClock()))
    clock_out.tick(Tick(6 * 20000))
    assert port.messages[0] == mido.Message("songpos", pos=16383)


def test_each_step_reports_the_tempo():
    reports = []
    box, _ = lead_box(on_step=reports.append)
    with box:
        box.run(steps=2)
    assert [report.bpm for report in reports] == [120.0, 120.0]


def test_after_the_output_comes_back_the_next_step_sends_the_position_and_continue():
    clock = FakeClock()
    ports = [RecordingOutput(clock=clock), RecordingOutput(clock=clock)]
    midi_out = MidiOut(ports[0], clock=clock, reopen=lambda: ports[1], retry_seconds=0.01)
    clock_out = ClockOut(midi_out)
    clock_out.tick(Tick(0))
    ports[0].fail()
    clock_out.tick(Tick(1))  # lost here
    clock.advance(0.02)
    midi_out.play(129)  # the loop's next note checks the port: reopened
    for pulse in range(2, 7):
        clock_out.tick(Tick(pulse))
    assert [m.type for m in ports[1].messages if m.type != "control_change"] == \
        ["clock"] * 4 + ["songpos", "continue", "clock"]
    assert ports[1].messages[-3].pos == 1
