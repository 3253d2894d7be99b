"""The player's takes (device/play/takes.py, --record-input): what is played on the input, a MIDI file per take,
cut after two bars without a key down, on the transport's grid; and `melodybox-train prepare` reading them."""

import json
import subprocess
import sys

import mido
import pytest

from device.core.encoding import Note, notes_to_tokens
from device.midi.midi_in import InputEvent
from device.play.takes import TakeRecorder, open_takes
from device.settings import CaptureConfig, Config
from device.transport.base import Tick
from tests.recording import ROOT

PULSE = 60 / 120 / 24  # seconds per pulse at 120 bpm
BAR = 96  # pulses in a bar of 4/4


class Player:
    """A source of input events: (pulse, message) each delivered at the first tick at or after its time."""

    def __init__(self, schedule):
        self.schedule = sorted(schedule, key=lambda item: item[0])
        self.now = 0.0

    def drain(self):
        due = [item for item in self.schedule if item[0] * PULSE <= self.now]
        self.schedule = self.schedule[len(due):]
        return [InputEvent(pulse * PULSE, message) for pulse, message in due]


def note(pitch, on, off, channel=0, velocity=80):
    return [(on, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)),
            (off, mido.Message("note_off", note=pitch, channel=channel))]


def record(schedule, pulses, folder, bar_steps=16, running=lambda pulse: True, close=True, bpm=120.0):
    """Tick a TakeRecorder through ``pulses`` pulses of a transport at ``bpm`` (written at once, not on a thread)."""
    player = Player(schedule)
    takes = TakeRecorder(player, folder, bar_steps, lambda: bpm, writer=lambda job: job(),
                         wall_clock=lambda: 1_700_000_000.0)
    for pulse in range(pulses):
        player.now = pulse * PULSE
        takes.hear(Tick(pulse, running(pulse), due=pulse * PULSE))
    if close:
        takes.close()
    return takes


def events(path):
    """(tick, type, note or control, channel) of a file's channel messages, and its meta messages by type."""
    file, now, found, meta = mido.MidiFile(path), 0, [], {}
    for message in file.tracks[0]:
        now += message.time
        if message.is_meta:
            meta[message.type] = message
        else:
            found.append((now, message.type, getattr(message, "note", getattr(message, "control", None)),
                          message.channel))
    return file, found, meta


def test_a_take_is_what_was_played_on_the_grid_from_the_bar_line_before_to_the_bar_line_after(tmp_path):
    played = note(60, 130, 154) + note(64, 154, 200) + note(67, 210, 230)  # from bar 2 (pulse 96) to bar 3
    takes = record(played, 700, tmp_path)
    (path,) = takes.written
    assert path.parent == tmp_path and path.name.startswith("take-") and path.suffix == ".mid"
    file, found, meta = events(path)
    assert file.ticks_per_beat == 480 and file.type == 0
    assert meta["set_tempo"].tempo == mido.bpm2tempo(120)
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (4, 4)
    ticks = [(pulse - 96) * 20 for pulse, _ in played]  # 20 ticks per pulse, from the bar line at pulse 96
    assert found == [(t, m.type, m.note, 0) for t, (_, m) in zip(ticks, played, strict=True)]
    assert file.length == pytest.approx(2 * BAR * PULSE)  # bars 2 and 3, whole


def test_two_bars_without_a_key_down_end_a_take_and_less_does_not(tmp_path):
    first = note(60, 0, 40) + note(62, 40 + 2 * BAR - 1, 300)  # a gap one pulse short of two bars: one take
    second = note(64, 300 + 2 * BAR, 300 + 2 * BAR + 30)  # two bars after the last note-off: a new take
    takes = record(first + second, 1200, tmp_path)
    assert len(takes.written) == 2
    assert [n for _, kind, n, _ in events(takes.written[0])[1] if kind == "note_on"] == [60, 62]
    assert [n for _, kind, n, _ in events(takes.written[1])[1] if kind == "note_on"] == [64]


def test_a_take_is_written_once_it_has_ended_not_before(tmp_path):
    takes = record(note(60, 10, 40), 40 + 2 * BAR - 1, tmp_path, close=False)
    assert takes.written == []
    takes.hear(Tick(40 + 2 * BAR, due=(40 + 2 * BAR) * PULSE))
    assert len(takes.written) == 1


def test_closing_ends_the_take_being_played_where_the_transport_is_its_keys_still_down_ending_there(tmp_path):
    takes = record(note(60, 10, 40) + [(50, mido.Message("note_on", note=67, velocity=90))], 120, tmp_path)
    (path,) = takes.written
    assert [(t, kind, n) for t, kind, n, _ in events(path)[1]] == [(200, "note_on", 60), (800, "note_off", 60),
                                                                 (1000, "note_on", 67), (2380, "note_off", 67)]
    assert events(path)[0].length == pytest.approx(2 * BAR * PULSE)


def test_the_transport_stopping_ends_the_take_and_nothing_is_kept_while_it_is_stopped(tmp_path):
    played = note(60, 10, 20) + [(30, mido.Message("note_on", note=62, velocity=90))] + note(64, 60, 70)
    takes = record(played, 200, tmp_path, running=lambda pulse: pulse < 40)
    (path,) = takes.written
    assert [(t, kind, n) for t, kind, n, _ in events(path)[1]] == [(200, "note_on", 60), (400, "note_off", 60),
                                                                 (600, "note_on", 62), (780, "note_off", 62)]


def test_channels_pedal_and_bends_are_kept_but_nothing_before_the_first_note(tmp_path):
    pedal_before = (0, mido.Message("control_change", control=64, value=127, channel=1))
    played = [pedal_before] + note(48, 10, 50, channel=1) + note(72, 20, 30, channel=0)
    played += [(40, mido.Message("pitchwheel", pitch=500, channel=0))]
    (path,) = record(played, 400, tmp_path).written
    assert [(kind, n, channel) for _, kind, n, channel in events(path)[1]] == [
        ("note_on", 48, 1), ("note_on", 72, 0), ("note_off", 72, 0), ("pitchwheel", None, 0), ("note_off", 48, 1)]


def test_a_key_released_that_was_down_before_the_take_is_not_part_of_it(tmp_path):
    played = [(5, mido.Message("note_off", note=50))] + note(60, 10, 20)
    (path,) = record(played, 400, tmp_path).written
    assert [n for _, _, n, _ in events(path)[1]] == [60, 60]


def test_a_take_in_3_4_says_so_and_is_cut_on_its_bars(tmp_path):
    (path,) = record(note(60, 80, 100), 500, tmp_path, bar_steps=12).written
    file, found, meta = events(path)
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (3, 4)
    assert found[0][0] == (80 - 72) * 20 and file.length == pytest.approx(72 * PULSE)


def test_the_tempo_of_a_take_is_the_transports_at_its_start(tmp_path):
    (path,) = record(note(60, 0, 20), 400, tmp_path, bpm=93.0).written
    assert mido.tempo2bpm(events(path)[2]["set_tempo"].tempo) == pytest.approx(93.0)


def test_a_folder_that_cannot_be_made_is_said_before_anything_plays(tmp_path):
    (tmp_path / "file").write_text("")
    config = Config(capture=CaptureConfig(input_folder=str(tmp_path / "file" / "takes")))
    with pytest.raises(OSError, match=r"^--record-input .*/file/takes: cannot make that folder \(Not a directory\)$"):
        open_takes(config, Player([]), lambda: 120.0, print)


def test_a_write_that_fails_is_said_and_the_box_plays_on(tmp_path):
    lines = []
    player = Player(note(60, 0, 20))
    takes = TakeRecorder(player, tmp_path / "gone", 16, lambda: 120.0, writer=lambda job: job(), say=lines.append)
    (tmp_path / "gone").write_text("a file where the folder should be")
    for pulse in range(300):
        player.now = pulse * PULSE
        takes.hear(Tick(pulse, due=pulse * PULSE))
    assert takes.written == [] and len(takes.failures) == 1 and lines[0].startswith("input take not written: ")


def test_prepare_reads_takes_as_they_are(tmp_path):
    """Two takes in 3/4 through `melodybox-train prepare`: their melodies on the grid, in 3/4, from a bar line."""
    tune = [(60, 0, 24), (62, 24, 48), (64, 48, 72), (65, 72, 96), (67, 96, 132), (65, 132, 144), (64, 144, 216)]
    played = [event for pitch, on, off in tune for event in note(pitch, 72 + on, 72 + off)]  # from bar 1 of 3/4
    played += [(72 + 216 + 3 * 72 + pulse, message) for pulse, message in played]  # the same tune again, a new take
    takes = record(played, 1400, tmp_path / "takes", bar_steps=12)
    assert len(takes.written) == 2
    out = tmp_path / "mine.npz"
    result = subprocess.run([sys.executable, "-m", "training", "prepare", str(tmp_path / "takes"), "-o", str(out),
                             "--report", str(tmp_path / "report.jsonl"), "--workers", "1"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert [r["status"] for r in reports] == ["kept", "kept"]
    from training.data.dataset import load_melodies  # lazy: the training side, only for this check

    melodies = load_melodies(out)
    expected = notes_to_tokens([Note(pitch, on // 6, off // 6) for pitch, on, off in tune])  # from the bar line
    assert [list(m) for m in melodies.melodies] == [expected] * 2
    assert list(melodies.bar_steps) == [12, 12] and list(melodies.bar_offset) == [0, 0]


@pytest.mark.tf
@pytest.mark.slow
def test_recorded_takes_fine_tune_the_shipped_model_unchanged(tmp_path):
    """The evening-to-morning path (docs/training.md): eight takes of a tune in several keys, as --record-input
    keeps them, through `prepare` and `train --from default`, with no step between."""
    tune = [(67, 0, 12), (69, 12, 18), (71, 18, 24), (72, 24, 48), (71, 48, 60), (69, 60, 72), (67, 72, 96),
            (64, 96, 108), (62, 108, 120), (60, 120, 144), (62, 144, 168), (64, 168, 192)]  # two bars
    played, start = [], 0
    for shift in (0, 2, -3, 5, -5, 3, 0, -2):  # each take: the tune twice, then three bars of rest
        for _ in range(2):
            played += [(start + pulse, message) for pitch, on, off in tune for pulse, message in
                       note(pitch + shift, on, off)]
            start += 192
        start += 3 * BAR
    takes = record(played, start + 10, tmp_path / "takes")
    assert len(takes.written) == 8
    outputs = []
    for command in (["prepare", str(tmp_path / "takes"), "-o", str(tmp_path / "takes.npz")],
                    ["train", str(tmp_path / "takes.npz"), "--run", str(tmp_path / "run"), "--from", "default",
                     "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--window", "64"]):
        result = subprocess.run([sys.executable, "-m", "training", *command], capture_output=True, text=True,
                                cwd=ROOT)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert "wrote 8 melodies (512 steps)" in outputs[0]  # a take is a tune twice: 4 bars of 16 steps
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["base"] == "default" and (tmp_path / "run" / "checkpoints" / "best.weights.h5").is_file()
