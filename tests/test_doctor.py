"""`melodybox doctor` on this machine (no Pi, no SPI, no MIDI system) and its single checks."""

import os
import subprocess
import sys

from device.doctor import check_groups, check_spi, on_raspberry_pi
from tests.recording import ROOT, shipped_model_path

NO_MIDI_ENV = {"MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK", "JACK_DEFAULT_SERVER": "melodybox-none",
               "JACK_NO_START_SERVER": "1"}


def doctor(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"} | NO_MIDI_ENV | (env or {})
    return subprocess.run([sys.executable, "-m", "device", "doctor", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def report_lines(result):
    return [line.strip() for line in result.stdout.splitlines()]


def test_desktop_report_passes_with_warnings_and_fix_hints():
    result = doctor("--model", str(shipped_model_path()))
    lines = report_lines(result)
    assert result.returncode == 0, result.stdout
    assert lines[0] == "melodybox doctor (a desktop: GPIO, SPI and groups are not checked)"
    assert any(line.startswith("ok       TFLite runtime: ai-edge-litert ") for line in lines)
    assert any(line.startswith("ok       model: ") and "loads on ai-edge-litert" in line for line in lines)
    assert any(line.startswith("warn     MIDI outputs: no MIDI system available") for line in lines)
    midi_fix = next(line for line in lines if line.startswith("fix: load the ALSA sequencer"))
    assert "sudo modprobe snd-seq" in midi_fix and "built-in voice" in midi_fix
    assert any(line.startswith("warn     sound: the built-in voice cannot play here") for line in lines)
    assert "ok       controls: the keyboard (not a Raspberry Pi: no GPIO knob or button)" in lines
    assert not any("raspi-config" in line or "GPIO:" in line or "SPI:" in line for line in lines)  # Pi-only advice
    assert lines[-1] == "everything the box needs is here"


def test_mock_pin_factory_counts_as_gpio():
    command = "from device.doctor import check_gpio; c = check_gpio(needed=True); print(c.status, c.detail)"
    environment = dict(os.environ, GPIOZERO_PIN_FACTORY="mock")
    result = subprocess.run([sys.executable, "-c", command], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "ok pin factory MockFactory", result.stderr


def test_missing_model_fails_with_a_fix(tmp_path):
    result = doctor("--model", str(tmp_path / "gone.tflite"))
    lines = report_lines(result)
    assert result.returncode == 1
    assert f"missing  model: {tmp_path / 'gone.tflite'}: model file not found" in lines
    assert any(line.startswith("fix: copy a model and its .json contract") for line in lines)
    assert lines[-1] == "missing: model"


def test_bad_config_is_reported(tmp_path):
    config = tmp_path / "box.toml"
    config.write_text('[controls]\nkind = "joystick"\n')
    result = doctor("--config", str(config))
    assert result.returncode == 1
    assert "controls.kind = 'joystick'" in result.stdout


def test_spi_device_found(tmp_path):
    (tmp_path / "spidev0.1").touch()
    check = check_spi(1, needed=True, dev_dir=tmp_path)
    assert (check.status, check.detail) == ("ok", f"{tmp_path / 'spidev0.1'} (MCP3008 knob)")


def test_spi_missing_on_a_pi_is_needed(tmp_path):
    assert check_spi(0, needed=True, dev_dir=tmp_path).status == "missing"


def test_groups_missing_on_a_pi_say_how_to_join():
    check = check_groups(needed=True, groups=["audio", "users"], uid=1000)
    assert (check.status, check.detail) == ("missing", "not in group(s) gpio, spi")
    assert check.fix == "sudo usermod -aG gpio,spi $USER, then log out and in again"


def test_all_groups_present():
    assert check_groups(needed=True, groups=["gpio", "spi", "audio"], uid=1000).status == "ok"


def test_raspberry_pi_is_recognised_by_its_device_tree(tmp_path):
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert on_raspberry_pi(model)
    assert not on_raspberry_pi(tmp_path / "absent")
