"""Temperature 0 is greedy (the likeliest token every step), as the README says: reachable from the flag, the
config file and the knob fully left."""

import mido
import pytest

from device.config import ConfigError, load_config
from tests.recording import ROOT
from tests.test_box import offline_tokens
from tests.test_cli import MODEL, melodybox, played_pitches


def test_generate_at_temperature_0_plays_the_likeliest_melody_whatever_the_seed(tmp_path):
    files = [tmp_path / "seed1.mid", tmp_path / "seed2.mid"]
    for seed, path in zip((1, 2), files, strict=True):
        result = melodybox("generate", "--model", MODEL, "--temperature", "0", "--seed", str(seed), "--bars", "2",
                           "-o", str(path))
        assert result.returncode == 0, result.stderr
        assert "at temperature 0" in result.stderr
    greedy = [t for t in offline_tokens([0.0] * 32, seed=3, open_on_a_note=False) if t < 128]
    assert played_pitches(files[0]) == played_pitches(files[1]) == greedy


def test_run_at_temperature_0_plays_the_likeliest_melody(tmp_path):
    out = tmp_path / "run.mid"
    result = melodybox("run", "--model", MODEL, "--temperature", "0", "--steps", "16", "--bpm", "400",
                       "--midi-file", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    notes = [m.note for m in mido.MidiFile(out) if m.type == "note_on" and m.velocity > 0]
    assert notes == [t for t in offline_tokens([0.0] * 16, seed=9) if t < 128]


def test_a_knob_from_0_is_configured_with_temperature_low_0(tmp_path):
    (tmp_path / "box.toml").write_text("[temperature]\nlow = 0.0\ninitial = 0.0\n")
    config = load_config(tmp_path / "box.toml")
    assert (config.temperature.low, config.temperature.initial) == (0.0, 0.0)


def test_a_negative_temperature_low_is_refused_with_the_key(tmp_path):
    (tmp_path / "box.toml").write_text("[temperature]\nlow = -0.1\n")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "box.toml")
    assert str(error.value) == "box.toml: temperature.low = -0.1: must be 0 (greedy) or more, and below 1"


def test_the_shipped_example_config_plays_greedy_fully_left():
    assert load_config(ROOT / "device" / "pi" / "box.toml").temperature.low == 0.0
