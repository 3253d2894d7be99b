"""Where the chords come from (device/harmony/): a progression by the transport's bars, or the chords a player
holds on the MIDI input; one input shared by several readers (device/midi/fanout.py); the assembled box playing
over them (a fake clock, a scripted player on a fake input, a recording port); flags, box.toml and generate."""

import dataclasses
import subprocess
import sys

import mido
import numpy as np
import pytest
from mido.ports import BaseInput

from device.assembly import Parts, assemble
from device.config import ConfigError, from_dict
from device.core import encoding
from device.core.chords import Key, parse_chord, parse_progression
from device.engine.controlstate import ControlState, FixedControls
from device.engine.declaration import DEFAULTS
from device.harmony.listener import ChordListener
from device.midi.fanout import Fanout, Skipping
from device.midi.midi_in import EVENT_CAPACITY, InputEvent
from device.settings import CaptureConfig, Config, HarmonyConfig, PlayConfig
from device.status import status_line
from device.transport.base import Tick
from tests.recording import PlayerClock, RecordingOutput, assert_no_stuck_notes, shipped_model_path

STEP = 0.125  # seconds per step at 120 bpm
SEED = 5


class Events:
    """A source of input events for a reader: ``drain()`` what was put since the last drain."""

    def __init__(self):
        self.pending = []

    def put(self, *messages, time=0.0):
        self.pending += [InputEvent(time, m) for m in messages]

    def drain(self):
        events, self.pending = self.pending, []
        return events


def on(note, channel=0):
    return mido.Message("note_on", note=note, velocity=90, channel=channel)


def off(note, channel=0):
    return mido.Message("note_off", note=note, channel=channel)


def pedal(value, channel=0):
    return mido.Message("control_change", control=64, value=value, channel=channel)


def listener(channel=None):
    source = Events()
    return source, ChordListener(source, 16, channel)


# --- the chord listener ---------------------------------------------------------------------------------------

def test_the_notes_held_are_the_chord_from_the_next_step_on():
    source, heard = listener()
    heard.hear(Tick(0))
    assert heard.at(1).chord is None and heard.at(1).key is None  # nothing heard: the melody goes its own way
    source.put(on(57), on(60), on(64))
    heard.hear(Tick(3))
    assert heard.at(1).chord == parse_chord("Am") and heard.at(1).bar_step == 1


def test_a_chord_stays_when_its_keys_are_up_until_the_next_is_played():
    source, heard = listener()
    source.put(on(48), on(52), on(55))
    heard.hear(Tick(0))
    source.put(off(48), off(52), off(55))
    heard.hear(Tick(1))
    assert heard.at(1).chord == parse_chord("C")
    source.put(on(53), on(57), on(60))
    heard.hear(Tick(2))
    assert heard.at(2).chord == parse_chord("F") and heard.changes == 2


def test_the_sustain_pedal_holds_the_notes_it_catches():
    source, heard = listener()
    source.put(on(48), on(52), pedal(127), off(48), off(52), on(55))
    heard.hear(Tick(0))
    assert heard.at(0).chord == parse_chord("C")  # C and E held by the pedal, G by its key
    source.put(off(55), pedal(0), on(57))
    heard.hear(Tick(1))
    assert set(heard.at(1).chord.tones) == {9}  # the pedal let C, E and G go: A alone


def test_with_a_channel_only_that_channels_notes_are_chords():
    source, heard = listener(channel=1)
    source.put(on(60, channel=0), on(62, channel=1), on(65, channel=1), on(69, channel=1))
    heard.hear(Tick(0))
    assert heard.at(0).chord == parse_chord("Dm")


def test_the_key_is_what_sounded_longest_over_the_last_four_bars():
    source, heard = listener()
    for bar, pitches in enumerate([(48, 52, 55), (53, 57, 60), (55, 59, 62)]):
        source.put(*map(on, pitches))
        heard.hear(Tick(bar * 96))
        source.put(*map(off, pitches))
        heard.hear(Tick(bar * 96 + 90))
    assert heard.at(300).key == Key(0)  # C, F, G: C major
    for bar in range(3, 8):  # E major for five bars: the C major chords are more than four bars ago
        source.put(on(52), on(56), on(59))
        heard.hear(Tick(bar * 96))
        source.put(off(52), off(56), off(59))
        heard.hear(Tick(bar * 96 + 90))
    assert heard.at(800).key.tones >= {4, 8, 11} and heard.at(800).key != Key(0)


def test_a_jump_back_forgets_the_key_but_not_the_chord_held():
    source, heard = listener()
    source.put(on(50), on(54), on(57))
    heard.hear(Tick(500))
    heard.hear(Tick(0))  # a new Start
    assert heard.at(0).chord == parse_chord("D") and heard.at(0).key.tones >= {2, 6, 9}


# --- one input, several readers -------------------------------------------------------------------------------

def test_every_reader_of_a_shared_input_gets_every_event_once():
    source = Events()
    fanout = Fanout(source)
    first, second = fanout.reader(), fanout.reader()
    source.put(on(60))
    assert [e.message for e in first.drain()] == [on(60)]
    source.put(off(60))
    assert [e.message for e in second.drain()] == [on(60), off(60)]
    assert [e.message for e in first.drain()] == [off(60)] and second.drain() == []


def test_a_reader_that_never_drains_keeps_only_the_last_events():
    source = Events()
    fanout = Fanout(source)
    idle, busy = fanout.reader(), fanout.reader()
    for note in range(EVENT_CAPACITY + 10):
        source.put(on(note % 128))
        busy.drain()
    assert len(idle.drain()) == EVENT_CAPACITY


def test_a_reader_can_leave_the_chords_channel_out():
    source = Events()
    skipping = Skipping(Fanout(source).reader(), 1)
    source.put(on(60, channel=0), on(64, channel=1))
    assert [e.message for e in skipping.drain()] == [on(60, channel=0)]


# --- the assembled box ----------------------------------------------------------------------------------------

class PlayerPort(BaseInput):
    def _open(self, **kwargs):
        self.callback = None


def chords_held(chords, bars=1, early=0.0):
    """(time, message) for chords held a bar each (``bars`` per chord), pitches around middle C, each played
    ``early`` steps before its bar line."""
    schedule = []
    for index, name in enumerate(chords):
        chord, start = parse_chord(name), (index * bars * 16 - early) * STEP
        pitches = sorted(60 + (tone - 60) % 12 for tone in chord.tones)
        schedule += [(max(start, 0.0), on(p)) for p in pitches]
        schedule += [(start + bars * 16 * STEP - 0.01, off(p)) for p in pitches]
    return schedule


def play(config, steps, schedule=(), harmony=DEFAULTS["harmony"], reports=None):
    """The box assembled from ``config`` with a player on its input; (step, pitch) of each note played, the port.
    ``reports``: a list that gets the box's StepReports."""
    clock = PlayerClock(schedule)
    port, player = RecordingOutput(clock=clock), PlayerPort("player")
    reports = [] if reports is None else reports
    clock.port = player
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=str(shipped_model_path())))
    parts = Parts(clock=clock, output=port, controls=FixedControls(ControlState(harmony=harmony)), input=player)
    with assemble(config, SEED, parts, on_step=reports.append) as box:
        box.run(steps)
    return [(r.step, r.token) for r in reports if r.token is not None and encoding.is_note_on(r.token)], port


def test_a_progression_puts_every_beats_note_on_its_bars_chord_at_harmony_1():
    progression = parse_progression("Am F C G")
    notes, port = play(dataclasses.replace(Config(), harmony=HarmonyConfig(chords="Am F C G")), 128, harmony=1.0)
    on_beat = [(step, pitch) for step, pitch in notes if step % 4 == 0]
    assert len(on_beat) >= 8
    assert all(pitch % 12 in progression.chord_at(step // 16).tones for step, pitch in on_beat)
    assert all(p % 12 in progression.key.tones | progression.chord_at(s // 16).tones for s, p in notes)
    assert_no_stuck_notes(port.messages)


def test_following_every_beats_note_is_a_tone_of_the_chord_held_then_even_on_the_change():
    chords = ["C", "E7", "Am", "F", "Dm", "G7", "C", "Ab"]
    notes, _ = play(dataclasses.replace(Config(), harmony=HarmonyConfig(follow=True)), 128, chords_held(chords),
                    harmony=1.0)
    on_beat = [(step, pitch) for step, pitch in notes if step % 4 == 0]
    assert len(on_beat) >= 10 and any(step % 16 == 0 for step, _ in on_beat)
    assert all(pitch % 12 in parse_chord(chords[step // 16]).tones for step, pitch in on_beat)


def test_a_chord_played_late_in_the_step_before_takes_effect_on_the_next_step():
    changes = ["C", "F#"]  # no common tone: a downbeat note chosen under C would be wrong under F#
    notes, _ = play(dataclasses.replace(Config(), harmony=HarmonyConfig(follow=True)), 64,
                    chords_held(changes * 2, early=0.4), harmony=1.0)
    downbeats = [(step, pitch) for step, pitch in notes if step % 16 == 0 and step > 0]
    assert all(pitch % 12 in parse_chord((changes * 2)[step // 16]).tones for step, pitch in downbeats)


def test_in_call_and_response_chords_on_their_own_channel_are_no_call():
    chords = [(time, message.copy(channel=1)) for time, message in chords_held(["C", "G"])]
    config = dataclasses.replace(Config(), harmony=HarmonyConfig(follow=True, channel=2),
                                 play=PlayConfig(mode="answer"))
    reports = []
    notes, _ = play(config, 96, chords, reports=reports)
    assert {r.chord for r in reports[1:]} == {"C", "G/D"} and notes == []  # heard as chords, not answered as a call


def test_the_status_line_names_the_chord_of_each_step():
    reports = []
    play(dataclasses.replace(Config(), harmony=HarmonyConfig(chords="Am F:2 C")), 64, reports=reports)
    assert [r.chord for r in reports[::16]] == ["Am", "F", "F", "C"]
    assert status_line(reports[16]).endswith(" 120bpm F playing")
    solo = []
    play(Config(), 1, reports=solo)
    assert solo[0].chord == "" and status_line(solo[0]).endswith(" 120bpm playing")


def test_at_harmony_0_the_box_plays_what_it_plays_without_chords():
    plain, _ = play(Config(), 64, harmony=0.0)
    ignored, _ = play(dataclasses.replace(Config(), harmony=HarmonyConfig(follow=True)), 64,
                      chords_held(["C", "F#", "C", "F#"]), harmony=0.0)
    assert ignored == plain and plain


def test_the_chord_listener_and_the_input_recorder_share_one_input(tmp_path):
    config = dataclasses.replace(Config(), harmony=HarmonyConfig(follow=True),
                                 capture=CaptureConfig(input_folder=str(tmp_path)))
    notes, _ = play(config, 96, chords_held(["C", "G"]), harmony=1.0)
    assert all(pitch % 12 in parse_chord(["C", "G"][min(step // 16, 1)]).tones for step, pitch in notes
               if step % 4 == 0)
    (take,) = tmp_path.glob("take-*.mid")  # the chords, ended by two bars of silence
    file = mido.MidiFile(take)
    assert sorted(m.note for m in file if m.type == "note_on") == [60, 62, 64, 67, 67, 71]
    assert file.length == pytest.approx(2 * 16 * STEP)  # two whole bars at 120 bpm


# --- flags, box.toml, generate --------------------------------------------------------------------------------
def test_box_toml_names_the_chord_it_cannot_read_and_refuses_two_sources_of_chords():
    with pytest.raises(ConfigError, match=r"^box.toml: harmony.chords = 'Am Xm': 'Xm' is not a chord name"):
        from_dict({"harmony": {"chords": "Am Xm"}}, "box.toml")
    with pytest.raises(ConfigError, match="harmony = .*: choose one of chords and follow"):
        from_dict({"harmony": {"chords": "Am", "follow": True}}, "box.toml")
    with pytest.raises(ConfigError, match=r"harmony.channel = 2: the input hears only midi.input_channel = 1"):
        from_dict({"harmony": {"follow": True, "channel": 2}, "midi": {"input_channel": 1}}, "box.toml")
    assert from_dict({"harmony": {"chords": "Am:2 G"}, "music": {"harmony": 0.5}}).music.harmony == 0.5


def test_generate_with_a_chord_it_cannot_read_says_so_in_one_line_before_writing_anything(tmp_path):
    out = tmp_path / "melody.mid"
    result = subprocess.run([sys.executable, "-m", "device", "generate", "--model", str(shipped_model_path()),
                             "--chords", "Am F Hm7 G", "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["melodybox: error: --chords 'Am F Hm7 G': 'Hm7' is not a chord name (a root "
                                          "A-G with # or b, then nothing (major), m, 7, m7, maj7, dim, aug, sus2, "
                                          "sus4, 6 or m6; :N holds it N bars; a /bass is ignored)"]
    assert not out.exists()


@pytest.mark.parametrize("flags, message", [
    (["--harmony", "follow"], "--harmony follow hears the chords played on the MIDI input, in `melodybox run`"),
    (["--harmony", "loud"], "--harmony loud: "),
    (["--chords", "Am", "--harmony", "follow"], "choose one"),
])
def test_generate_refuses_what_it_cannot_do_with_chords(tmp_path, flags, message):
    result = subprocess.run([sys.executable, "-m", "device", "generate", "--model", str(shipped_model_path()),
                             *flags, "-o", str(tmp_path / "m.mid")], capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_the_run_flags_set_the_chords_following_the_channel_and_the_takes_folder(tmp_path):
    from device.cli import build_parser, config_from_args

    def config(*flags):
        return config_from_args(build_parser().parse_args(["run", *flags]))

    assert config("--chords", "Am F").harmony == HarmonyConfig(chords="Am F")
    followed = config("--harmony", "follow", "--harmony-channel", "2")
    assert followed.harmony == HarmonyConfig(follow=True, channel=2) and followed.music.harmony == 0.85
    assert config("--harmony", "off", "--chords", "C").music.harmony == 0.0
    assert config("--harmony", "0.5").music.harmony == 0.5
    assert config("--record-input", str(tmp_path)).capture.input_folder == str(tmp_path)


def test_generate_draws_the_chords_under_the_piano_roll_and_keeps_to_them(tmp_path):
    out, png = tmp_path / "m.mid", tmp_path / "m.png"
    result = subprocess.run([sys.executable, "-m", "device", "generate", "--model", str(shipped_model_path()),
                             "--chords", "Bb F Gm Eb", "--seed", "3", "-o", str(out), "--png", str(png)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "over Bb F Gm Eb (Bb major / G minor, harmony 0.85)" in result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    progression, ticks = parse_progression("Bb F Gm Eb"), 480 * 4
    now, on_beat = 0, []
    for message in mido.MidiFile(out).tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0 and now % 480 == 0:
            on_beat.append(message.note % 12 in progression.chord_at(now // ticks).tones)
    assert len(on_beat) >= 8 and np.mean(on_beat) >= 0.8
