"""What `melodybox generate` (and `run`) write: a piano roll a person reads at a glance, the metre in every
MIDI file, and a missing folder refused in one line before anything is written."""

import textwrap

import mido
import numpy as np
import pytest

from device.core.scales import note_name
from device.render.pianoroll import (
    ADVANCE,
    CAP_H,
    LABEL_H,
    LABEL_W,
    PITCH_PX,
    TEXT_SCALE,
    WHITE,
    roll_image,
    text_image,
)
from tests.test_cli import MODEL, NO_MIDI_ENV, melodybox
from tests.test_pianoroll import decode_png

SEED = 7


def ink(image):
    return np.any(image != WHITE, axis=2)


def written(image, text, top, left):
    label = ink(text_image(text))
    return np.array_equal(ink(image[top : top + label.shape[0], left : left + label.shape[1]]), label)


@pytest.fixture(scope="module")
def roll(tmp_path_factory):
    folder = tmp_path_factory.mktemp("roll")
    result = melodybox("generate", "--model", MODEL, "--seed", str(SEED), "--scale", "C:major", "-o",
                       str(folder / "out.mid"), "--png", str(folder / "roll.png"))
    assert result.returncode == 0, result.stderr
    pitches = [m.note for m in mido.MidiFile(folder / "out.mid") if m.type == "note_on" and m.velocity > 0]
    return decode_png((folder / "roll.png").read_bytes()), pitches


def test_the_piano_roll_is_big_enough_to_read(roll):
    height, width, _ = roll[0].shape
    assert width >= 1280 and height >= 250  # 8 bars at 10 pixels a 16th; 12 pixels a semitone
    assert ink(text_image("C4")).shape[0] >= 14  # capitals and digits 14 pixels high


def test_the_settings_are_the_title(roll):
    assert written(roll[0], "default.tflite, 8 bars of 4/4 at 120 bpm, seed 7, temperature 1, scale C:major",
                   TEXT_SCALE, TEXT_SCALE)


def test_every_bar_is_numbered_above_its_line(roll):
    top = 2 * LABEL_H  # the title's line, then the bar numbers'
    for bar in range(1, 9):
        assert written(roll[0], str(bar), top - LABEL_H + TEXT_SCALE, LABEL_W + (bar - 1) * 16 * 10 + TEXT_SCALE)


def test_every_c_is_named_beside_its_row_and_no_name_is_cut(roll):
    image, pitches = roll
    low, high = min(pitches) - 2, max(pitches) + 2  # the span drawn: the notes' and a margin of two semitones
    top = 2 * LABEL_H
    named = [pitch for pitch in range(low, high + 1) if pitch % 12 == 0]
    assert named
    for pitch in named:
        label_top = top + (high - pitch) * PITCH_PX + PITCH_PX // 2 - CAP_H // 2
        assert written(image, note_name(pitch), label_top, TEXT_SCALE)
        assert label_top + CAP_H <= image.shape[0]  # the lowest name too


def test_a_roll_whose_lowest_row_is_a_c_keeps_its_name_whole():
    image = roll_image([62, 64], pitches=(60, 64))  # C4 is the bottom row
    label_top = LABEL_H + 4 * PITCH_PX + PITCH_PX // 2 - CAP_H // 2
    assert written(image, "C4", label_top, TEXT_SCALE) and label_top + CAP_H <= image.shape[0]


def test_a_title_longer_than_the_roll_is_wrapped_never_cut():
    title = "default.tflite, 1 bars of 4/4 at 120 bpm, seed 7, temperature 1"
    image = roll_image([60] * 16, title=title)
    assert image.shape[1] == LABEL_W + 160  # not widened: the words go on the next lines
    fits = (image.shape[1] - 2 * TEXT_SCALE) // ADVANCE
    lines = textwrap.wrap(title, fits)
    assert len(lines) > 1
    for index, line in enumerate(lines):
        assert written(image, line, TEXT_SCALE + index * LABEL_H, TEXT_SCALE)


def time_signatures(path):
    return [(m.numerator, m.denominator) for m in mido.MidiFile(path) if m.type == "time_signature"]


@pytest.fixture
def in_3_4(tmp_path):
    config = tmp_path / "box.toml"
    config.write_text("[music]\nbar_steps = 12\n")
    return str(config)


def test_generate_writes_the_metre(tmp_path, in_3_4):
    result = melodybox("generate", "--model", MODEL, "--config", in_3_4, "--bars", "2", "-o", str(tmp_path / "g.mid"))
    assert result.returncode == 0, result.stderr
    assert time_signatures(tmp_path / "g.mid") == [(3, 4)]


def test_run_midi_file_writes_the_metre(tmp_path, in_3_4):
    result = melodybox("run", "--model", MODEL, "--config", in_3_4, "--steps", "12", "--bpm", "400", "--midi-file",
                       str(tmp_path / "r.mid"))
    assert result.returncode == 0, result.stderr
    assert time_signatures(tmp_path / "r.mid") == [(3, 4)]


def test_the_recording_where_nothing_sounds_writes_the_metre(tmp_path, in_3_4):
    result = melodybox("run", "--model", MODEL, "--config", in_3_4, "--steps", "12", "--bpm", "400", cwd=tmp_path,
                       env=NO_MIDI_ENV)
    assert result.returncode == 0, result.stderr
    [recording] = tmp_path.glob("melodybox-*.mid")
    assert time_signatures(recording) == [(3, 4)]


@pytest.mark.parametrize(("flag", "name"), [("--png", "roll.png"), ("--wav", "out.wav"), ("-o", "out.mid")])
def test_an_output_in_a_missing_folder_is_refused_before_anything_is_written(tmp_path, flag, name):
    outputs = {"-o": str(tmp_path / "out.mid"), "--png": str(tmp_path / "roll.png"), "--wav": str(tmp_path / "o.wav")}
    outputs[flag] = f"nodir/{name}"
    args = [part for pair in outputs.items() for part in pair]
    result = melodybox("generate", "--model", MODEL, "--bars", "1", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"melodybox: error: {flag} nodir/{name}: the folder 'nodir' does not exist"]
    assert list(tmp_path.iterdir()) == []  # nothing written
