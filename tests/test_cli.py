"""The `melodybox` command: help, generate, headless runs, signals, and bad inputs (one line, exit 2)."""

import os
import signal
import subprocess
import sys

import mido
import pytest

from device.cli import build_parser, config_from_args, main
from device.core.encoding import is_note_on, tokens_to_notes
from tests.recording import ROOT, copy_shipped_model, edit_contract, note_events, shipped_model_path, sounding_notes
from tests.test_box import offline_tokens

MODEL = str(shipped_model_path())
NO_MIDI_ENV = {"MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK", "JACK_DEFAULT_SERVER": "melodybox-none",
               "JACK_NO_START_SERVER": "1"}  # no JACK server by that name: no MIDI ports at all


def melodybox(*args, cwd=ROOT, env=None, timeout=60):
    """Run the real command in a fresh interpreter, headless (stdin is not a terminal)."""
    return subprocess.run([sys.executable, "-m", "device", *args], cwd=cwd, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("melodybox: error:")]


def played_pitches(path):
    return [m.note for m in mido.MidiFile(path) if m.type == "note_on" and m.velocity > 0]


@pytest.mark.parametrize("command", [[], ["run"], ["generate"], ["ports"], ["doctor"]])
def test_help_for_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: melodybox {' '.join(command)}".rstrip())
    assert "--help" in out


def test_run_help_explains_outputs_and_keys(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for phrase in ("--virtual NAME", "--midi-file FILE", "virtual port 'Melody Box'", "q quit", "--steps N"):
        assert phrase in out


def test_generate_writes_a_midi_file_and_a_piano_roll(tmp_path, capsys):
    out, png = tmp_path / "out.mid", tmp_path / "roll.png"
    status = main(["generate", "--model", MODEL, "--bars", "2", "--temperature", "0.8", "--seed", "5",
                   "-o", str(out), "--png", str(png)])
    assert status == 0
    tokens = offline_tokens([0.8] * 32, seed=5, open_on_a_note=False)  # a file keeps the model's own opening
    assert played_pitches(out) == [n.pitch for n in tokens_to_notes(tokens)]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out}" in capsys.readouterr().err


def test_flags_override_the_config_file(tmp_path):
    config = tmp_path / "box.toml"
    config.write_text('[tempo]\nbpm = 90\n[midi]\nchannel = 3\nvirtual = "From file"\n')
    args = build_parser().parse_args(["run", "--config", str(config), "--bpm", "100", "--midi-file", "x.mid"])
    settings = config_from_args(args)
    assert settings.tempo.bpm == 100.0
    assert (settings.midi.channel, settings.midi.virtual, settings.midi.midi_file) == (3, "", "x.mid")


def test_the_tail_cut_comes_from_the_config_file_or_the_flag_and_reaches_the_sampler(tmp_path):
    from device.assembly import open_generator
    from device.engine.sampling import DEFAULT_TAIL_CUT

    config = tmp_path / "box.toml"
    config.write_text("[temperature]\ntail_cut = 0.02\n")
    cuts = []
    for flags in ([], ["--config", str(config)], ["--config", str(config), "--tail-cut", "0"]):
        args = build_parser().parse_args(["generate", "-o", "x.mid", *flags])
        model, generator = open_generator(config_from_args(args), 1)
        with model:
            cuts.append(generator.sampler.tail_cut)
    assert cuts == [DEFAULT_TAIL_CUT, 0.02, 0.0]


def test_ports_without_a_midi_system_says_why_and_what_to_try():
    result = melodybox("ports", env=NO_MIDI_ENV)
    assert result.returncode == 0  # "none" is an answer, not a failure
    assert result.stdout.startswith("no MIDI ports: no MIDI system available")
    assert "snd-seq" in result.stdout and "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK" in result.stdout
    assert result.stderr == ""


def test_a_bare_melodybox_prints_the_help():
    result = melodybox()
    assert result.returncode == 0
    assert result.stdout.startswith("usage: melodybox") and "run" in result.stdout and "doctor" in result.stdout


@pytest.mark.parametrize("steps", ["-1", "0", "many"])
def test_steps_must_be_a_whole_number_of_at_least_one(steps):
    result = melodybox("run", "--steps", steps)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("melodybox run: error: argument --steps:")
    assert "Traceback" not in result.stderr


def test_the_runtime_says_nothing_on_a_quiet_run_and_everything_with_verbose(tmp_path):
    quiet = melodybox("generate", "--bars", "1", "-o", str(tmp_path / "a.mid"))
    assert quiet.returncode == 0 and quiet.stderr.splitlines() == [quiet.stderr.splitlines()[-1]]
    assert quiet.stderr.startswith("melodybox: wrote")
    loud = melodybox("--verbose", "generate", "--bars", "1", "-o", str(tmp_path / "b.mid"))
    assert "XNNPACK" in loud.stderr


def test_headless_run_writes_the_seeded_melody_to_a_midi_file(tmp_path):
    out = tmp_path / "x.mid"
    result = melodybox("run", "--model", MODEL, "--midi-file", str(out), "--steps", "64", "--sim", "--bpm", "400",
                       "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert f"writing what plays to {out}" in result.stderr
    assert "no keyboard (stdin is not a terminal)" in result.stderr
    tokens = offline_tokens([1.0] * 64, seed=3)
    assert played_pitches(out) == [t for t in tokens if is_note_on(t)]
    assert sounding_notes(mido.MidiFile(out)) == set()


def test_without_ports_or_sound_the_box_writes_a_new_file_each_run_and_says_how_to_listen(tmp_path):
    for _ in range(2):
        result = melodybox("run", "--model", MODEL, "--steps", "8", "--bpm", "400", cwd=tmp_path, env=NO_MIDI_ENV)
        assert result.returncode == 0, result.stderr
        assert "no MIDI ports here" in result.stderr and "no sound" in result.stderr
        assert "fluidsynth" in result.stderr
        assert "no GPIO on this machine" in result.stderr
    recordings = sorted(tmp_path.glob("melodybox-*.mid"))
    assert len(recordings) == 2  # the second run did not overwrite the first
    assert all(mido.MidiFile(path).length > 0 for path in recordings)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_box_silent_with_status_0(tmp_path, signum):
    out = tmp_path / "x.mid"
    box = subprocess.Popen([sys.executable, "-m", "device", "run", "--model", MODEL, "--midi-file", str(out),
                            "--bpm", "400"], cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("temperature stays" in line for line in lines) and box.poll() is None:
            lines.append(box.stderr.readline())  # the last line before the loop starts
        box.send_signal(signum)
        _, rest = box.communicate(timeout=30)
    finally:
        if box.poll() is None:
            box.kill()
            box.wait()
    assert box.returncode == 0, "".join(lines) + rest
    assert "stopped after" in rest and "Traceback" not in rest
    messages = list(mido.MidiFile(out))
    assert sounding_notes(messages) == set()
    assert note_events(messages)[-1] == ("cc", 123)


# --- bad inputs: one clear line on stderr, exit status 2, no traceback ---------------------------


@pytest.fixture
def model_copy(tmp_path):
    """A copy of the shipped model and contract in tmp_path, to break."""
    return copy_shipped_model(tmp_path)


@pytest.fixture
def fails(capsys, tmp_path, monkeypatch):
    """``fails(args, expected)``: main(args) exits 2 with one error line containing ``expected``.
    (A run that wrongly starts plays one step into tmp_path, instead of forever.)"""
    monkeypatch.chdir(tmp_path)

    def check(args, expected):
        status = main([*args, "--steps", "1"] if args[0] == "run" else args)
        err = capsys.readouterr().err
        assert status == 2, err
        assert len(error_lines(err)) == 1, err
        assert expected in error_lines(err)[0]
        assert "Traceback" not in err

    return check


def test_missing_model(fails, tmp_path):
    fails(["run", "--model", str(tmp_path / "none.tflite")], "none.tflite: model file not found")


def test_missing_contract_beside_a_model(fails, tmp_path, model_copy):
    model_copy.with_suffix(".json").unlink()
    fails(["run", "--model", str(model_copy)], "copy.json: contract not found")


def test_truncated_model(fails, model_copy):
    model_copy.write_bytes(model_copy.read_bytes()[:1000])
    fails(["run", "--model", str(model_copy)], "1000 bytes, but its contract records")


def test_corrupt_model_with_a_matching_contract(fails, model_copy):
    model_copy.write_bytes(b"not a flatbuffer at all" * 50)
    edit_contract(model_copy, lambda data: None, refresh_file=True)
    fails(["generate", "--model", str(model_copy), "-o", "x.mid"],
                          "cannot load it as a TFLite model")


def test_contract_mismatch(fails, model_copy):
    edit_contract(model_copy, lambda data: data["encoding"].update(vocab_size=131))
    fails(["run", "--model", str(model_copy)], "'encoding.vocab_size' is 131")


def test_bad_config_value(fails, tmp_path):
    config = tmp_path / "box.toml"
    config.write_text("[midi]\nchannel = 17\n")
    fails(["run", "--config", str(config), "--model", MODEL],
                          "box.toml: midi.channel = 17: must be 1..16")


def test_bad_flag_value(fails):
    fails(["run", "--model", MODEL, "--bpm", "0"], "command line: tempo.bpm = 0.0: must be 20..400")


def test_missing_port(fails, monkeypatch):
    for key, value in NO_MIDI_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(mido, "backend", mido.Backend(NO_MIDI_ENV["MIDO_BACKEND"]))
    fails(["run", "--model", MODEL, "--port", "No Such Synth"], "no MIDI system available")


def test_unreadable_primer(fails, tmp_path):
    primer = tmp_path / "primer.mid"
    primer.write_text("<html>not midi</html>")
    fails(["run", "--model", MODEL, "--primer", str(primer)], "primer.mid: not a readable MIDI")


def test_output_in_a_missing_folder(fails, tmp_path):
    fails(["generate", "--model", MODEL, "-o", str(tmp_path / "no" / "x.mid")], "x.mid")


def test_the_console_script_fails_cleanly_too(tmp_path):
    result = melodybox("run", "--model", str(tmp_path / "none.tflite"))
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"melodybox: error: {tmp_path / 'none.tflite'}: model file not found"]
    assert "Traceback" not in result.stderr


def test_bench_hands_its_arguments_to_the_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: melodybox bench") and "--only" in out


def test_generate_plays_the_musical_controls_given_as_flags(tmp_path):
    from device.engine.controlstate import ControlState
    from device.engine.generator import Generator
    from device.engine.model import StepModel
    from device.engine.sampling import Sampler

    out = tmp_path / "out.mid"
    assert main(["generate", "--model", MODEL, "--bars", "4", "--seed", "3", "-o", str(out), "--scale", "D:dorian",
                 "--strictness", "1", "--deja-vu", "1", "--loop-bars", "1", "--density", "0.7",
                 "--register", "70:14"]) == 0
    controls = ControlState(scale="dorian", scale_root=2, strictness=1.0, deja_vu=1.0, loop_bars=1, density=0.7,
                            register_centre=70, register_width=14)
    with StepModel(shipped_model_path()) as model:
        generator = Generator(model, Sampler(seed=3, pitch_range=model.contract.pitch_range))
        tokens = [generator.next_token(controls) for _ in range(64)]
    assert played_pitches(out) == [n.pitch for n in tokens_to_notes(tokens)]


def test_a_register_flag_without_width_names_the_flag_and_the_form(fails):
    fails(["generate", "--model", MODEL, "-o", "x.mid", "--register", "72"],
          "--register 72: '72' is not CENTRE:WIDTH, e.g. 72:12")


def test_a_bad_scale_flag_names_it(fails):
    fails(["generate", "--model", MODEL, "-o", "x.mid", "--scale", "C:lydian"],
          "--scale C:lydian: unknown scale 'lydian'")


def test_run_and_generate_find_the_shipped_model_from_any_folder(tmp_path):
    result = melodybox("generate", "--bars", "1", "--seed", "1", "-o", "tune.mid", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mido.MidiFile(tmp_path / "tune.mid").type == 0  # written, whether or not the bar holds notes
    result = melodybox("run", "--steps", "4", "--bpm", "400", "--midi-file", "out.mid", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.mid").exists()


def test_a_recording_into_a_missing_folder_is_refused_before_anything_plays(tmp_path):
    result = melodybox("run", "--midi-file", "missing-dir/x.mid", "--steps", "4", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "melodybox: error: command line: midi.midi_file = 'missing-dir/x.mid': the folder 'missing-dir' does not exist"]
