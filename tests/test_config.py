"""The TOML configuration: defaults, the shipped box.toml, and errors that name the key."""

from pathlib import Path

import pytest

from device.config import ConfigError, check, control_values, from_dict, load_config
from device.settings import Config

BOX_TOML = Path(__file__).parents[1] / "device" / "pi" / "box.toml"


def write(tmp_path, text):
    path = tmp_path / "box.toml"
    path.write_text(text)
    return path


def test_no_file_gives_the_defaults():
    assert load_config(None) == Config()


def test_shipped_box_toml_loads_with_the_wiring_diagram_pins():
    config = load_config(BOX_TOML)
    c = config.controls
    assert (c.kind, c.button_pin, c.led_pin, c.encoder_a_pin, c.encoder_b_pin) == ("mcp3008", 17, 27, 5, 6)
    assert (c.adc_channel, c.spi_device) == (0, 0)
    assert config.model.path == "/opt/melodybox/models/default.tflite"


def test_values_are_read_and_typed(tmp_path):
    path = write(tmp_path, '[midi]\nchannel = 10\nvirtual = "Box"\n[tempo]\nbpm = 90\n[primer]\ntokens = [60, 129]\n')
    config = load_config(path)
    assert config.midi.channel == 10
    assert config.midi.virtual == "Box"
    assert config.tempo.bpm == 90.0 and isinstance(config.tempo.bpm, float)
    assert config.primer.tokens == (60, 129)


def test_relative_paths_are_relative_to_the_file(tmp_path):
    config = load_config(write(tmp_path, '[model]\npath = "m/x.tflite"\n'))
    assert config.model.path == str(tmp_path / "m" / "x.tflite")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[midi]\nchannel = 17\n", "box.toml: midi.channel = 17: must be 1..16"),
        ("[midi]\nvelocity = 0\n", "box.toml: midi.velocity = 0: must be 1..127"),
        ("[tempo]\nbpm = 1000\n", "box.toml: tempo.bpm = 1000.0: must be 20..400"),
        ('[tempo]\nbpm = "fast"\n', "box.toml: tempo.bpm = 'fast': must be a number"),
        ("[midi]\nchanel = 2\n", "box.toml: unknown key midi.chanel"),
        ("[midis]\n", "box.toml: unknown section [midis]"),
        ('[controls]\nkind = "slider"\n', "box.toml: controls.kind = 'slider': must be one of mcp3008, encoder, none"),
        ("[controls]\nbutton_pin = 11\n", "box.toml: controls.button_pin = 11: GPIO11 is already used by SPI0 SCLK"),
        ("[controls]\nled_pin = 40\n", "box.toml: controls.led_pin = 40: must be a BCM GPIO number 0..27"),
        ("[primer]\ntokens = [60, 130]\n", "box.toml: primer.tokens = [60, 130]: tokens must be 0..129"),
        ("[temperature]\ninitial = 5.0\n", "box.toml: temperature.initial = 5.0: must be 0..3"),
        ("[temperature]\ntail_cut = 0.9\n", "box.toml: temperature.tail_cut = 0.9: must be 0..0.5"),
        ('[midi]\nport = "USB"\nvirtual = "Box"\n', "box.toml: midi = ['USB', 'Box', '']: choose at most one"),
        ("[model]\nnum_threads = true\n", "box.toml: model.num_threads = True: must be a whole number"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert str(error.value).startswith(message)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="box.toml: not valid TOML"):
        load_config(write(tmp_path, "[midi\n"))


def test_encoder_pins_may_not_share_the_button_pin():
    with pytest.raises(ConfigError, match="controls.encoder_a_pin = 17: GPIO17 is already used by controls.button_pin"):
        from_dict({"controls": {"kind": "encoder", "encoder_a_pin": 17}}, source="x")


def test_encoder_pins_are_free_when_the_encoder_is_not_used():
    config = from_dict({"controls": {"kind": "mcp3008", "encoder_a_pin": 17}})
    assert check(config) is config


def test_music_defaults_are_the_control_states_neutral_values():
    from device.engine.controlstate import ControlState

    state = ControlState(**control_values(Config()))
    assert state == ControlState()


def test_music_scale_text_becomes_root_and_name():
    values = control_values(from_dict({"music": {"scale": "F#:dorian", "density": 0.25}}))
    assert (values["scale_root"], values["scale"], values["density"]) == (6, "dorian", 0.25)


@pytest.mark.parametrize(("section", "message"), [
    ({"scale": "H:major"}, "box.toml: music.scale = 'H:major': 'H' is not a note name"),
    ({"scale": "C:lydian"}, "box.toml: music.scale = 'C:lydian': unknown scale 'lydian'"),
    ({"loop_bars": 3}, "box.toml: music.loop_bars = 3: must be one of 1, 2, 4, 8"),
    ({"deja_vu": 1.5}, r"box.toml: music.deja_vu = 1.5: must be 0..1"),
    ({"register_width": 200}, "box.toml: music.register_width = 200: must be 0..128"),
])
def test_bad_music_values_name_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        from_dict({"music": section}, source="box.toml")
