"""device.midi.ports: choosing ports by name, the MIDI file recorder, and real ports through a JACK dummy server."""

import os
import time

import mido
import pytest

from device.core import encoding
from device.core.clock import FakeClock
from device.core.encoding import NO_EVENT, NOTE_OFF
from device.engine.generator import primer_from_midi
from device.midi.midi_out import MidiOut
from device.midi.ports import (
    MidiFileOutput,
    PortError,
    find_output_name,
    list_output_names,
    open_input,
    open_output,
    open_virtual,
    open_virtual_input,
    output_present,
    virtual_ports_supported,
)
from tests.jack_server import JackServer, JackUnavailable, wait_until

NAMES = ["Midi Through:Midi Through Port-0 14:0", "MicroFreak:MicroFreak MIDI 1 20:0", "UM-ONE:UM-ONE MIDI 1 24:0"]


def test_fragment_matches_case_insensitively():
    assert find_output_name("microfreak", NAMES) == NAMES[1]


def test_exact_name_wins_over_longer_matches():
    names = ["Synth", "Synth 2"]
    assert find_output_name("synth", names) == "Synth"


def test_no_match_lists_the_available_ports():
    with pytest.raises(PortError, match=r"no MIDI output matches 'volca'; available: 'Midi Through.*'UM-ONE"):
        find_output_name("volca", NAMES)


def test_no_ports_at_all_says_none():
    with pytest.raises(PortError, match="available: none"):
        find_output_name("synth", [])


def test_ambiguous_fragment_lists_the_candidates():
    with pytest.raises(PortError, match=r"'MIDI 1' is ambiguous: 'MicroFreak.*', 'UM-ONE"):
        find_output_name("MIDI 1", NAMES)


def test_port_error_is_an_os_error():
    assert issubclass(PortError, OSError)


# --- MidiFileOutput ----------------------------------------------------------------------------


def record(tokens, path, bpm=120.0, jitter=0.0, quantize=True):
    """Play ``tokens`` through MidiOut into a MidiFileOutput, one step per step_seconds (+ jitter s)."""
    clock = FakeClock(start=100.0)
    step = 60.0 / bpm / 4
    port = MidiFileOutput(path, bpm=bpm, clock=clock, quantize=quantize)
    with MidiOut(port, clock=clock) as midi_out:
        for i, token in enumerate(tokens):
            clock.sleep_until(100.0 + i * step + jitter)
            midi_out.play(token)
        clock.sleep_until(100.0 + len(tokens) * step + jitter)
    return port


MELODY = [60, NO_EVENT, 62, 64, NOTE_OFF, NO_EVENT, 67, NO_EVENT, NO_EVENT, 65, NOTE_OFF, NO_EVENT, 72]


def file_notes(path):
    """Notes in steps read straight from the file's ticks with mido (independent of device code)."""
    midi_file = mido.MidiFile(path)
    ticks_per_step = midi_file.ticks_per_beat // 4
    tick, started, notes = 0, {}, []
    for message in midi_file.tracks[0]:
        tick += message.time
        if message.type == "note_on" and message.velocity > 0:
            started[message.note] = tick
        elif message.type in ("note_on", "note_off"):
            start = started.pop(message.note)
            assert start % ticks_per_step == 0 and tick % ticks_per_step == 0, "note off the 16th grid"
            notes.append(encoding.Note(message.note, start // ticks_per_step, tick // ticks_per_step))
    return notes


def test_recorded_file_holds_the_notes_of_the_tokens(tmp_path):
    record(MELODY, tmp_path / "take.mid")
    assert file_notes(tmp_path / "take.mid") == encoding.tokens_to_notes(MELODY)


def test_recorded_file_reads_back_as_the_same_tokens(tmp_path):
    record(MELODY, tmp_path / "take.mid", bpm=97)
    assert primer_from_midi(tmp_path / "take.mid", max_steps=100)[: len(MELODY)] == encoding.canonical(MELODY)


def test_jittered_times_are_quantized_onto_their_steps(tmp_path):
    record(MELODY, tmp_path / "late.mid", jitter=0.004)
    assert file_notes(tmp_path / "late.mid") == encoding.tokens_to_notes(MELODY)


def test_unquantized_times_are_kept_to_the_tick(tmp_path):
    record([60, NOTE_OFF], tmp_path / "raw.mid", bpm=120, jitter=0.05, quantize=False)  # 0.05 s = 48 ticks
    ticks = [m.time for m in mido.MidiFile(tmp_path / "raw.mid").tracks[0] if m.type == "note_on"]
    assert ticks == [48]


def test_recorded_file_is_type_0_at_the_given_tempo(tmp_path):
    record([60], tmp_path / "tempo.mid", bpm=90)
    midi_file = mido.MidiFile(tmp_path / "tempo.mid")
    tempos = [m.tempo for m in midi_file.tracks[0] if m.type == "set_tempo"]
    assert (midi_file.type, len(midi_file.tracks), tempos) == (0, 1, [mido.bpm2tempo(90)])


def test_recorded_file_ends_silent(tmp_path):
    record([60, 62], tmp_path / "end.mid")
    types = [m.type for m in mido.MidiFile(tmp_path / "end.mid").tracks[0]]
    assert types[-3:] == ["note_off", "control_change", "end_of_track"]


def test_ticks_per_beat_must_hold_whole_steps(tmp_path):
    with pytest.raises(ValueError, match="not a multiple of 4"):
        MidiFileOutput(tmp_path / "x.mid", bpm=120, clock=FakeClock(), ticks_per_beat=98)


# --- real ports through a JACK dummy server ---------------------------------------------------


@pytest.fixture(scope="module")
def jack():
    """A private JACK dummy server and mido's rtmidi/JACK backend for this module; restored afterwards."""
    try:
        with JackServer(name=f"melodybox-ports-{os.getpid()}") as server:
            yield server.name
    except JackUnavailable as error:
        pytest.skip(str(error))


def send_until_heard(port, listener, message):
    """Send ``message`` every 50 ms until ``listener`` gets something (a new JACK connection may take a cycle)."""
    heard = []

    def attempt():
        port.send(message)
        time.sleep(0.05)
        heard.extend(listener.iter_pending())
        return bool(heard)

    wait_until(attempt, seconds=10)
    return [m for i, m in enumerate(heard) if m not in heard[:i]]  # each distinct message once


@pytest.mark.jack
def test_virtual_ports_are_supported_with_jack(jack):
    assert virtual_ports_supported()


@pytest.mark.jack
def test_open_output_by_fragment_reaches_the_synth(jack):
    with open_virtual_input("Test Synth A") as synth:
        assert wait_until(lambda: any("Test Synth A" in n for n in list_output_names()), seconds=10)
        with open_output("test synth a") as port:
            note = mido.Message("note_on", note=60, velocity=90)
            assert send_until_heard(port, synth, note) == [note]


@pytest.mark.jack
def test_open_output_without_a_match_lists_the_ports(jack):
    with open_virtual_input("Test Synth B"):
        assert wait_until(lambda: any("Test Synth B" in n for n in list_output_names()), seconds=10)
        with pytest.raises(PortError, match=r"no MIDI output matches 'nord'; available: .*Test Synth B"):
            open_output("nord")


@pytest.mark.jack
def test_virtual_output_is_seen_by_other_programs(jack):
    with open_virtual("Melody Box Test") as port:
        assert wait_until(lambda: any("Melody Box Test" in n for n in mido.get_input_names()), seconds=10)
        name = next(n for n in mido.get_input_names() if "Melody Box Test" in n)
        with open_input(name) as listener:
            note = mido.Message("note_on", note=64, velocity=90)
            assert send_until_heard(port, listener, note) == [note]


@pytest.mark.jack
def test_midi_out_notices_an_unplugged_synth_and_reconnects(jack):
    """JACK accepts sends into a vanished port, so MidiOut's ``alive`` check finds the loss."""
    clock = FakeClock()
    synth = open_virtual_input("Test Synth C")
    assert wait_until(lambda: any("Test Synth C" in n for n in list_output_names()), seconds=10)
    port = open_output("Test Synth C")
    name = port.name
    midi_out = MidiOut(port, reopen=lambda: open_output(name), clock=clock, alive=lambda: output_present(name))
    midi_out.play(60)
    synth.close()
    assert wait_until(lambda: not output_present(name), seconds=10)
    clock.advance(1.0)
    midi_out.play(62)
    assert not midi_out.connected
    synth = open_virtual_input("Test Synth C")
    assert wait_until(lambda: output_present(name), seconds=10)
    clock.advance(1.0)
    midi_out.play(64)
    assert midi_out.connected and midi_out.reconnects == 1
    heard = []

    def play_until_heard():
        midi_out.play(65)
        time.sleep(0.05)
        heard.extend(synth.iter_pending())
        return any(m.type == "note_on" and m.note == 65 for m in heard)

    assert wait_until(play_until_heard, seconds=10)  # a new JACK connection may drop its first cycle
    assert midi_out.connected
    midi_out.close()
    synth.close()


def test_quantizing_follows_the_loop_phase_near_a_half_step(tmp_path):
    """Steps that start half a step off the file's grid, with jitter either side, still land one step apart."""
    clock = FakeClock(start=0.0)
    port = MidiFileOutput(tmp_path / "phase.mid", bpm=120, clock=clock)
    with MidiOut(port, clock=clock) as midi_out:
        for i, token in enumerate([60, 62, 64, 65, NOTE_OFF]):
            clock.sleep_until(0.0625 + i * 0.125 + (0.003 if i % 2 else -0.003))
            midi_out.play(token)
    notes = file_notes(tmp_path / "phase.mid")
    assert [(n.pitch, n.end - n.start) for n in notes] == [(60, 1), (62, 1), (64, 1), (65, 1)]
    assert [b.start - a.start for a, b in zip(notes, notes[1:], strict=False)] == [1, 1, 1]


def test_quantizing_survives_a_stall_that_shifts_the_phase(tmp_path):
    clock = FakeClock(start=0.0)
    port = MidiFileOutput(tmp_path / "stall.mid", bpm=120, clock=clock)
    times = [0.0, 0.125, 1.3, 1.425, 1.55]  # a stall re-anchored the loop 0.4 step off the old grid
    with MidiOut(port, clock=clock) as midi_out:
        for time_, token in zip(times, [60, 62, 64, 65, NOTE_OFF], strict=True):
            clock.sleep_until(time_)
            midi_out.play(token)
    assert [(n.pitch, n.start, n.end) for n in file_notes(tmp_path / "stall.mid")] == [
        (60, 0, 1),
        (62, 1, 10),  # 1.175 s = 9.4 steps later rounds to 9
        (64, 10, 11),
        (65, 11, 12),
    ]


def test_a_midi_file_is_saved_whole_or_not_at_all(tmp_path, monkeypatch):
    """A failure (or power cut) while saving leaves the previous file intact and no partial file."""
    from device.midi.ports import save_atomically

    path = tmp_path / "capture.mid"
    old = mido.MidiFile(type=0)
    old.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60), mido.MetaMessage("end_of_track")]))
    save_atomically(old, path)
    before = path.read_bytes()

    def half_then_fail(self, filename=None, file=None):
        file.write(b"MThd")
        raise OSError("No space left on device")

    monkeypatch.setattr(mido.MidiFile, "save", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save_atomically(mido.MidiFile(type=0), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capture.mid"]

