"""The built-in voice: what it renders is measured as audio (pitch, onsets, clicks, band limit), and the
port's audio callback is driven with fake stream times, so no sound card is needed.

One integration test opens the real audio library on a JACK dummy server's output device.
"""

import json
import os
import subprocess
import sys
import textwrap
import wave
from types import SimpleNamespace

import mido
import numpy as np
import pytest

from device.core.clock import FakeClock
from device.core.encoding import NO_EVENT, NOTE_OFF
from device.core.timegrid import step_seconds
from device.midi.midi_out import MidiOut
from device.render.synth import (
    HARMONICS,
    LEGATO_SECONDS,
    MAX_PARTIAL_FRACTION,
    RELEASE_SECONDS,
    SAMPLERATE,
    write_wav,
)
from device.render.voice import (
    BLOCKSIZE,
    VoicePort,
    VoiceUnavailable,
    listen_hint,
    open_voice,
    render_tokens,
)
from tests.recording import ROOT
from tests.system_packages import requires

SILENCE = 1e-4  # below this a sample counts as silent (the quietest note peaks near 0.1)


def fundamental(samples: np.ndarray, rate: int) -> float:
    """The frequency (Hz) of the strongest spectral peak: Hann window, 8x zero padding, Gaussian interpolation."""
    size = 1 << (8 * len(samples) - 1).bit_length()  # a power of two: fast whatever the window's length
    magnitude = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), size))
    k = int(np.argmax(magnitude))
    a, b, c = np.log(magnitude[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / size


def hz(pitch: int) -> float:
    """MIDI pitch to Hz in equal temperament, A4 = 69 = 440 Hz (written here, not taken from the synth)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def cents(frequency: float, pitch: int) -> float:
    """How far ``frequency`` is from MIDI ``pitch`` in equal temperament (A4 = 69 = 440 Hz), in cents."""
    return 1200 * np.log2(frequency / 440.0) - 100 * (pitch - 69)


def onsets(samples: np.ndarray, rate: int) -> list[int]:
    """Frames where sound starts after at least 10 ms of silence."""
    loud = np.flatnonzero(np.abs(samples) > SILENCE)
    gap = int(0.010 * rate)
    return [int(f) for i, f in enumerate(loud) if i == 0 or f - loud[i - 1] > gap]


def held(pitch: int, steps: int) -> list[int]:
    return [pitch] + [NO_EVENT] * (steps - 1)


def time_info(dac_time: float) -> SimpleNamespace:
    return SimpleNamespace(outputBufferDacTime=dac_time)


def run_callback(port: VoicePort, start: float, seconds: float, blocksize: int = BLOCKSIZE, jitter=None) -> np.ndarray:
    """Call the port's audio callback block after block from stream time ``start``, as PortAudio would;
    ``jitter(index)`` (s) is added to each block's reported DAC time."""
    blocks = []
    for index in range(round(seconds * port.samplerate / blocksize)):
        outdata = np.full((blocksize, 2), np.nan, dtype=np.float32)
        dac_time = start + index * blocksize / port.samplerate + (jitter(index) if jitter else 0.0)
        port.callback(outdata, blocksize, time_info(dac_time), None)
        assert np.array_equal(outdata[:, 0], outdata[:, 1])
        blocks.append(outdata[:, 0])
    return np.concatenate(blocks)


# --- the sound of a melody ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [48_000, 44_100])
def test_each_note_sounds_at_its_pitch_within_one_cent(rate):
    pitches = [36, 45, 57, 60, 64, 69, 76, 84, 96, 108]
    tokens = [token for pitch in pitches for token in held(pitch, 4)]  # legato: each note-on ends the last
    audio = render_tokens(tokens, bpm=120, samplerate=rate)
    note = 4 * step_seconds(120)
    for index, pitch in enumerate(pitches):
        start = round((index * note + RELEASE_SECONDS + 0.01) * rate)  # after the previous note's tail
        measured = fundamental(audio[start:round((index + 1) * note * rate)], rate)
        assert abs(cents(measured, pitch)) < 1.0, (pitch, measured)


@pytest.mark.parametrize(("bpm", "rate"), [(120, 48_000), (97, 44_100)])
def test_notes_after_a_rest_start_on_their_steps_within_a_quarter_millisecond(bpm, rate):
    tokens = held(60, 2) + [NOTE_OFF] + held(67, 3) + [NOTE_OFF, NO_EVENT] + held(72, 1) + [NOTE_OFF] + held(65, 4)
    starts = [0, 3, 8, 10]
    audio = render_tokens(tokens, bpm=bpm, samplerate=rate)
    expected = [step * step_seconds(bpm) * rate for step in starts]
    found = onsets(audio, rate)
    assert len(found) == len(starts)
    assert np.max(np.abs(np.array(found) - expected)) <= 0.00025 * rate


def test_a_legato_note_changes_the_sound_on_its_step_and_has_its_pitch_once_the_crossfade_is_over():
    bpm = 120
    legato = render_tokens(held(60, 3) + held(64, 3), bpm=bpm)
    held_on = render_tokens(held(60, 6), bpm=bpm)  # the same until the second note starts
    step = 3 * step_seconds(bpm) * SAMPLERATE
    changes = np.flatnonzero(np.abs(legato - held_on) > SILENCE)
    assert abs(changes[0] - step) <= 0.00025 * SAMPLERATE
    after = round(step + (LEGATO_SECONDS + 0.005) * SAMPLERATE)
    assert abs(cents(fundamental(legato[after:round(6 * step_seconds(bpm) * SAMPLERATE)], SAMPLERATE), 64)) < 1.0


def test_a_legato_crossfade_is_no_louder_than_the_notes_on_either_side():
    legato = render_tokens(held(60, 3) + held(64, 3), bpm=120)
    second_alone = render_tokens([NO_EVENT] * 3 + held(64, 3), bpm=120)
    step = round(3 * step_seconds(120) * SAMPLERATE)
    crossfade = slice(step, step + round(LEGATO_SECONDS * SAMPLERATE))
    louder_note = max(np.max(np.abs(legato[step - 2400:step])), np.max(np.abs(second_alone[crossfade])))
    assert np.max(np.abs(legato[crossfade])) <= 1.05 * louder_note


def test_the_last_note_rings_out_and_the_audio_ends_in_silence():
    audio = render_tokens(held(69, 4), bpm=120)
    assert len(audio) == round((4 * step_seconds(120) + RELEASE_SECONDS) * SAMPLERATE)
    end_of_note = round(4 * step_seconds(120) * SAMPLERATE)
    assert np.max(np.abs(audio[end_of_note:end_of_note + 480])) > 0.05  # the tail is heard
    assert abs(audio[-1]) < SILENCE


def bernstein_bound(audio: np.ndarray, top_hz: float, rate: int) -> float:
    """The largest sample-to-sample step of a signal band-limited to ``top_hz`` (Bernstein's inequality)."""
    return 2 * np.pi * top_hz / rate * np.max(np.abs(audio))


def test_no_clicks_on_attacks_releases_legato_and_notes_cut_short():
    tokens = held(60, 3) + held(67, 1) + [NOTE_OFF] + held(55, 2) + held(62, 1) + held(64, 1) + [NOTE_OFF]
    bpm = 400  # 37.5 ms steps: releases cut into attacks and decays
    audio = render_tokens(tokens, bpm=bpm)
    highest_partial = len(HARMONICS) * hz(67)
    envelope_band = 500  # Hz: the attack (6 ms) and release (80 ms) spread each partial by less than this
    steps = np.max(np.abs(np.diff(audio)))
    assert steps <= bernstein_bound(audio, highest_partial + envelope_band, SAMPLERATE)


def test_a_high_note_has_no_partials_above_the_band_limit_and_no_aliases():
    rate, pitch = 44_100, 120  # 8372 Hz: its 3rd partial (25.1 kHz) would alias to 19.0 kHz
    audio = render_tokens(held(pitch, 8), bpm=120, samplerate=rate)
    window = audio[round(0.1 * rate):round(0.9 * rate)]
    power = np.abs(np.fft.rfft(window * np.hanning(len(window)))) ** 2
    frequencies = np.fft.rfftfreq(len(window), 1 / rate)
    partials = [k * hz(pitch) for k in range(1, 4) if k * hz(pitch) < MAX_PARTIAL_FRACTION * rate]
    assert len(partials) == 2
    near_partial = np.zeros(len(frequencies), dtype=bool)
    for frequency in partials:
        near_partial |= np.abs(frequencies - frequency) < 30
    assert power[~near_partial].sum() / power.sum() < 1e-6


def test_velocity_scales_the_level():
    loud = render_tokens(held(60, 2), bpm=120, velocity=100)
    soft = render_tokens(held(60, 2), bpm=120, velocity=50)
    np.testing.assert_allclose(soft, loud / 2, atol=1e-6)


def test_wav_file_is_16_bit_mono_at_the_sample_rate(tmp_path):
    audio = render_tokens(held(60, 4), bpm=120)
    write_wav(tmp_path / "out.wav", audio, SAMPLERATE)
    with wave.open(str(tmp_path / "out.wav")) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLERATE)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert len(pcm) == len(audio)
    assert np.max(np.abs(pcm / 32767 - audio)) <= 0.5 / 32767 + 1e-7


# --- the port and its audio callback --------------------------------------------------------------------

def note_on(pitch, velocity=100):
    return mido.Message("note_on", note=pitch, velocity=velocity)


def test_callback_sounds_a_message_delay_seconds_after_it_was_sent():
    clock = FakeClock(start=10.0)
    port = VoicePort(now=clock.now, delay=0.025)
    port.send(note_on(69))
    audio = run_callback(port, start=10.0, seconds=0.5)
    assert np.flatnonzero(audio)[0] == round(0.025 * SAMPLERATE) + 1  # the attack starts from 0 at that frame
    assert abs(cents(fundamental(audio[4800:], SAMPLERATE), 69)) < 1.0
    assert (port.late, port.frames_rendered) == (0, len(audio))


def test_onsets_stay_within_half_a_millisecond_of_their_steps_when_the_dac_times_jitter_by_two():
    clock = FakeClock()
    port = VoicePort(now=clock.now, delay=0.02)
    rng = np.random.default_rng(1)
    for step in range(16):
        clock.sleep_until(1.0 + step * 0.25)
        port.send(note_on(60) if step % 2 == 0 else mido.Message("note_off", note=60))
    audio = run_callback(port, start=0.0, seconds=5.0, jitter=lambda _: rng.uniform(-0.002, 0.002))
    expected = [(1.0 + step * 0.5 + 0.02) * SAMPLERATE for step in range(8)]
    assert np.max(np.abs(np.array(onsets(audio, SAMPLERATE)) - expected)) <= 0.0005 * SAMPLERATE
    assert port.resyncs == 0


def test_a_jump_in_the_dac_times_after_an_xrun_re_anchors_the_timeline():
    clock = FakeClock()
    port = VoicePort(now=clock.now)
    run_callback(port, start=0.0, seconds=BLOCKSIZE / SAMPLERATE * 10)  # 10 blocks, then 100 ms are lost
    clock.sleep_until(0.2)
    port.send(note_on(60))
    audio = run_callback(port, start=BLOCKSIZE / SAMPLERATE * 10 + 0.1, seconds=0.2)
    assert port.resyncs == 1
    assert np.flatnonzero(audio)[0] == round((0.2 - 0.1 - BLOCKSIZE / SAMPLERATE * 10) * SAMPLERATE) + 1


def test_callback_rendering_does_not_depend_on_the_block_size():
    renders = []
    for blocksize in (64, 256, 1000):
        clock = FakeClock()
        port = VoicePort(now=clock.now, delay=0.01)
        with MidiOut(port, clock=clock) as midi_out:
            for step, token in enumerate(held(60, 2) + held(72, 1) + [NOTE_OFF] + held(64, 2)):
                clock.sleep_until(step * 0.1)
                midi_out.play(token)
        renders.append(run_callback(port, start=0.0, seconds=0.768, blocksize=blocksize)[:36_000])
    np.testing.assert_allclose(renders[0], renders[1], atol=1e-6)
    np.testing.assert_allclose(renders[0], renders[2], atol=1e-6)


def test_a_message_sent_after_its_block_was_rendered_sounds_at_the_next_block_and_counts_as_late():
    clock = FakeClock()
    port = VoicePort(now=clock.now, delay=0.0)
    first = run_callback(port, start=0.0, seconds=BLOCKSIZE / SAMPLERATE)
    clock.advance(0.001)  # sent 1 ms into a block that is already rendered
    port.send(note_on(60))
    second = run_callback(port, start=BLOCKSIZE / SAMPLERATE, seconds=BLOCKSIZE / SAMPLERATE)
    assert np.max(np.abs(first)) == 0
    assert second[0] == 0 and abs(second[1]) > 0  # the attack starts at the block's first frame
    assert port.late == 1


@pytest.mark.parametrize("control", [123, 120])
def test_all_notes_off_and_all_sound_off_release_the_note(control):
    clock = FakeClock()
    port = VoicePort(now=clock.now)
    port.send(note_on(60))
    clock.advance(0.2)
    port.send(mido.Message("control_change", channel=5, control=control))
    audio = run_callback(port, start=0.0, seconds=0.4)
    end = round((0.2 + RELEASE_SECONDS) * SAMPLERATE)
    assert np.max(np.abs(audio[end - 480:end])) > 0
    assert np.max(np.abs(audio[end:])) == 0


def test_note_off_for_another_pitch_and_other_messages_change_nothing():
    def render(extra):
        clock = FakeClock()
        port = VoicePort(now=clock.now)
        port.send(note_on(60))
        clock.advance(0.1)
        for message in extra:
            port.send(message)
        return run_callback(port, start=0.0, seconds=0.3)

    others = [mido.Message("note_off", note=61), mido.Message("program_change", program=5),
              mido.Message("pitchwheel", pitch=4000), mido.Message("control_change", control=7, value=10)]
    np.testing.assert_array_equal(render(others), render([]))


def test_note_on_with_velocity_zero_is_a_note_off():
    clock = FakeClock()
    port = VoicePort(now=clock.now)
    port.send(note_on(60))
    clock.advance(0.1)
    port.send(note_on(60, velocity=0))
    audio = run_callback(port, start=0.0, seconds=0.3)
    assert np.max(np.abs(audio[round((0.1 + RELEASE_SECONDS) * SAMPLERATE):])) == 0


class FakeStream:
    """What VoicePort uses of a sounddevice OutputStream. Sleeping runs its callback, like the audio thread."""

    def __init__(self):
        self.port: VoicePort | None = None
        self.time, self.active = 0.0, True
        self.audio: list[np.ndarray] = []
        self.calls: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.audio.append(run_callback(self.port, self.time, seconds))
        self.time += len(self.audio[-1]) / self.port.samplerate

    def stop(self) -> None:
        self.calls.append("stop")
        self.silent_at_stop = self.port.synth.silent
        self.active = False

    def close(self) -> None:
        self.calls.append("close")


def test_close_lets_the_sounding_note_ring_out_then_stops_the_stream():
    stream = FakeStream()
    stream.port = port = VoicePort(sleep=stream.sleep)
    port.attach(stream, delay=0.02)
    port.send(note_on(60))
    stream.sleep(0.3)
    port.close()
    port.close()
    audio = np.concatenate(stream.audio)
    assert stream.calls == ["stop", "close"]
    assert np.max(np.abs(audio[round(0.25 * SAMPLERATE):round(0.3 * SAMPLERATE)])) > 0.05  # it was sounding
    assert stream.silent_at_stop  # and had rung out before the stream stopped
    assert len(audio) < (0.3 + 0.02 + RELEASE_SECONDS + 0.02) * SAMPLERATE  # without waiting longer than that
    assert not port.alive()


def test_the_port_is_not_alive_once_its_stream_has_stopped_by_itself():
    stream = FakeStream()
    stream.port = port = VoicePort(sleep=stream.sleep)
    port.attach(stream, delay=0.02)
    assert port.alive()
    stream.active = False  # PortAudio stops a stream whose device is gone
    assert not port.alive()


# --- opening the real audio library -----------------------------------------------------------------------

def test_open_voice_without_the_audio_library_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(VoiceUnavailable, match=r"no audio library \(pip install sounddevice\)"):
        open_voice()


def test_open_voice_can_be_midi_outs_reopen_a_failed_reopen_is_counted_not_raised():
    clock = FakeClock()
    stream = FakeStream()
    stream.port = port = VoicePort(sleep=stream.sleep)
    port.attach(stream, delay=0.0)
    midi_out = MidiOut(port, clock=clock, alive=port.alive, retry_seconds=1.0,
                       reopen=lambda: open_voice(device="no-such-device"))
    stream.active = False
    clock.advance(1.0)
    midi_out.play(60)  # finds the port dead
    clock.advance(1.0)
    midi_out.play(NOTE_OFF)  # tries to reopen: no such device
    assert (midi_out.connected, midi_out.losses, midi_out.failed_reopens) == (False, 1, 1)


@requires("libportaudio2")
def test_open_voice_with_an_unknown_device_names_the_problem():
    pytest.importorskip("sounddevice", exc_type=ImportError)
    with pytest.raises(VoiceUnavailable, match="^no audio output device 'no-such-device' \\(PortAudio: "):
        open_voice(device="no-such-device")


JACK_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from device.core.clock import MonotonicClock
    from device.core.timegrid import step_seconds
    from device.midi.midi_out import MidiOut
    from device.render.voice import open_voice
    port = open_voice()
    rendered = []
    render = port.render
    port.render = lambda frames, start: rendered.append(render(frames, start)) or rendered[-1]
    clock = MonotonicClock()
    start = clock.now()
    with MidiOut(port, clock=clock, alive=port.alive) as midi_out:
        for step, token in enumerate(json.loads(sys.argv[1])):
            clock.sleep_until(start + step * step_seconds(240))
            midi_out.play(token)
        alive = port.alive()
    audio = np.concatenate(rendered)
    print(json.dumps({"alive": alive, "rate": port.samplerate, "peak": float(np.max(np.abs(audio))),
                      "rang_out": port.synth.silent}))
""")


@pytest.mark.jack
@requires("libportaudio2")
def test_open_voice_plays_through_a_real_audio_device_on_a_jack_server():
    from tests.jack_server import JackServer, JackUnavailable

    rest = [NOTE_OFF, NO_EVENT]  # 125 ms: the 80 ms release, then silence
    tokens = held(60, 2) + rest + held(64, 2) + rest + held(67, 2) + rest
    try:
        with JackServer(name=f"melodybox-voice-{os.getpid()}", period=256) as server:
            result = subprocess.run([sys.executable, "-c", JACK_SCRIPT, json.dumps(tokens)], cwd=ROOT,
                                    env={**os.environ, **server.env}, capture_output=True, text=True, timeout=60)
    except JackUnavailable as error:
        pytest.skip(str(error))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["alive"] and report["rate"] == 48_000
    assert report["peak"] > 0.1  # the notes were heard; how many survive depends on the machine's load (xruns)
    assert report["rang_out"]  # closing let the last tail ring out before it stopped the stream


# --- when nothing can make sound --------------------------------------------------------------------------

def test_listen_hint_names_the_file_fluidsynth_and_a_daw():
    hint = listen_hint("take.mid")
    assert "fluidsynth -i /usr/share/sounds/sf2/FluidR3_GM.sf2 take.mid" in hint
    assert "DAW" in hint and "\n" not in hint


# --- melodybox generate --wav -----------------------------------------------------------------------------

def midi_notes(path) -> list[tuple[int, float, float]]:
    """(pitch, start s, end s) of each note in a MIDI file, read with mido."""
    notes, sounding, now = [], {}, 0.0
    for message in mido.MidiFile(path):
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding[message.note] = now
        elif message.type in ("note_on", "note_off") and message.note in sounding:
            notes.append((message.note, sounding.pop(message.note), now))
    return notes


def test_generate_wav_sounds_the_notes_of_the_midi_file_it_writes(tmp_path, capsys):
    from device.cli import main
    from tests.recording import shipped_model_path

    status = main(["generate", "--model", str(shipped_model_path()), "--bars", "2", "--seed", "3",
                   "-o", str(tmp_path / "m.mid"), "--wav", str(tmp_path / "m.wav")])
    assert status == 0
    assert f"wrote {tmp_path / 'm.wav'}: 4.1 s of audio at 48000 Hz" in capsys.readouterr().err
    with wave.open(str(tmp_path / "m.wav")) as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2") / 32767
    notes = midi_notes(tmp_path / "m.mid")
    long_notes = [note for note in notes if note[2] - note[1] >= 0.2]  # measurable after the last note's tail
    assert len(notes) >= 4 and len(long_notes) >= 2
    for pitch, start, end in long_notes:
        window = audio[round((start + RELEASE_SECONDS + 0.01) * SAMPLERATE):round(end * SAMPLERATE)]
        assert abs(cents(fundamental(window, SAMPLERATE), pitch)) < 2.0, (pitch, start)
