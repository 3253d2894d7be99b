"""The built-in voice: the box's notes as audio on the default sound device, when there is no MIDI port.

``open_voice()`` returns a ``VoicePort``: a mido output port, so ``MidiOut`` drives it exactly like a
synth, on the same step deadlines. It sounds note_on, note_off, All Notes Off (CC 123) and All Sound Off
(CC 120) on any channel through ``device.render.synth.Synth``, rendered in the audio callback. Each message is
stamped with the stream time when it is sent and sounds a constant ``delay`` later (the output latency,
at least LATENCY_SECONDS, plus two blocks: about 51 ms at 48 kHz), at its exact frame: the loop's send
times become sample-accurate onsets whatever the audio block size. The audio library is sounddevice
(PortAudio: wheels for Linux, macOS and the Pi; Linux needs libportaudio2), loaded only by ``open_voice``.

``render_tokens`` renders a melody offline through the same port and synth (``melodybox generate --wav``).
``listen_hint`` is for the MIDI file written when nothing can make sound.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import mido
import numpy as np
from mido.ports import BaseOutput

from device.core.clock import FakeClock
from device.core.stderr import c_stderr_hidden
from device.core.timegrid import step_seconds
from device.midi.midi_out import MidiOut
from device.render.synth import RELEASE_SECONDS, SAMPLERATE, Synth, frames_for

VOICE_NAME = "Melody Box voice"
BLOCKSIZE = 256  # frames per audio callback (5.3 ms at 48 kHz)
# Output latency asked of PortAudio (s): room for the callback to wait for Python's GIL (the switch interval is
# 5 ms) and the loop's work without an underrun. A note sounds this plus two blocks after its deadline, always.
LATENCY_SECONDS = 0.04
# The callback's DAC times jitter by milliseconds on some back ends (JACK, PulseAudio's ALSA plugin), so the
# frame count keeps time and follows them slowly: each block moves the anchor by this share of the difference
# (a time constant of 50 blocks, 0.27 s), and a difference above RESYNC_SECONDS (an xrun) re-anchors at once.
FOLLOW_SHARE = 0.02
RESYNC_SECONDS = 0.05
CLOSE_WAIT_SECONDS = 0.5  # close waits at most this long (s) for the last tail to ring out
ALL_NOTES_OFF, ALL_SOUND_OFF = 123, 120  # MIDI CC numbers
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"  # Debian's fluid-soundfont-gm


class VoiceUnavailable(OSError):
    """Nothing here can make sound: no audio library, no PortAudio, or no output device. ``reason`` says which,
    for people; ``missing`` in one word, for the fix: "library", "portaudio" or "device" (PortAudio is there,
    a sound card is not, or it cannot be opened).

    An OSError, like a MIDI port's errors, so ``open_voice`` can be MidiOut's ``reopen``."""

    def __init__(self, reason: str, missing: str = "device"):
        super().__init__(reason)
        self.reason, self.missing = reason, missing


class VoicePort(BaseOutput):
    """A mido output port that sounds what it is sent, rendered by ``callback`` (sounddevice's signature).

    ``now()`` is the stream time (seconds) on the clock of the callback's ``outputBufferDacTime``;
    a message sent at ``now()`` sounds at ``now() + delay``. A message due before the block being
    rendered sounds at the block's first frame and adds one to ``late``. ``xruns`` counts callbacks
    that PortAudio flagged (underflows). ``attach`` gives the port its stream (``open_voice`` does it).
    """

    def __init__(self, samplerate: int = SAMPLERATE, now: Callable[[], float] = time.monotonic, delay: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep, name: str = VOICE_NAME):
        super().__init__(name=name, samplerate=samplerate, now=now, delay=delay, sleep=sleep)

    def _open(self, samplerate, now, delay, sleep) -> None:
        self.synth = Synth(samplerate)
        self.now = now
        self.delay = float(delay)
        self._sleep = sleep
        self._stream = None
        self._events: deque[tuple[float, mido.Message]] = deque()  # (due stream time, message), in order
        self.late = 0
        self.xruns = 0
        self.resyncs = 0
        self.frames_rendered = 0
        self._anchor: float | None = None  # stream time (s) of frame 0 of the audio timeline

    @property
    def samplerate(self) -> int:
        return self.synth.samplerate

    def attach(self, stream, delay: float) -> None:
        """Play through ``stream`` (a sounddevice OutputStream calling ``callback``): its ``time`` becomes
        ``now``, ``delay`` (s) the constant latency from send to sound; ``close`` stops and closes it."""
        self._stream = stream
        self.now = lambda: stream.time
        self.delay = float(delay)

    def alive(self) -> bool:
        """False once closed or once the audio stream has stopped by itself (device gone); for MidiOut's ``alive``."""
        return not self.closed and (self._stream is None or bool(self._stream.active))

    def _send(self, message: mido.Message) -> None:
        wanted = message.type in ("note_on", "note_off") or (
            message.type == "control_change" and message.control in (ALL_NOTES_OFF, ALL_SOUND_OFF))
        if wanted:
            self._events.append((self.now() + self.delay, message))

    def callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        """sounddevice's output callback: fill ``outdata`` (frames x channels) for ``time_info.outputBufferDacTime``."""
        if status:
            self.xruns += 1
        outdata[:] = self.render(frames, self._block_start(time_info.outputBufferDacTime))[:, np.newaxis]

    def _block_start(self, dac_time: float) -> float:
        """The stream time (s) of the next block's first frame: frames counted from an anchor that follows
        the reported ``dac_time`` slowly (jitter averages out) and jumps when it is RESYNC_SECONDS off."""
        elapsed = self.frames_rendered / self.synth.samplerate
        if self._anchor is None or abs(dac_time - (self._anchor + elapsed)) > RESYNC_SECONDS:
            self.resyncs += self._anchor is not None
            self._anchor = dac_time - elapsed
        else:
            self._anchor += FOLLOW_SHARE * (dac_time - (self._anchor + elapsed))
        return self._anchor + elapsed

    def render(self, frames: int, start: float) -> np.ndarray:
        """``frames`` samples (float32) to be heard from stream time ``start`` (s), with each message
        that falls due in them applied at its frame."""
        out = np.empty(frames, dtype=np.float32)
        done = 0
        rate = self.synth.samplerate
        while self._events:  # the audio thread is the only consumer: peek, then pop
            due, message = self._events[0]
            offset = round((due - start) * rate)
            if offset >= frames:
                break
            self._events.popleft()
            if offset < 0:
                self.late += 1
            offset = max(offset, done)
            out[done:offset] = self.synth.render(offset - done)
            done = offset
            self._apply(message)
        out[done:] = self.synth.render(frames - done)
        self.frames_rendered += frames
        return out

    def _apply(self, message: mido.Message) -> None:
        if message.type == "note_on":
            self.synth.note_on(message.note, message.velocity)
        elif message.type == "note_off":
            self.synth.note_off(message.note)
        else:
            self.synth.all_notes_off()

    def _close(self) -> None:
        """Release what sounds, let the tail ring out, then stop and close the stream."""
        if self._stream is None:
            return
        if self._events or not self.synth.silent:
            self._events.append((self.now() + self.delay, mido.Message("control_change", control=ALL_SOUND_OFF)))
        waited, poll = 0.0, 2 * BLOCKSIZE / self.samplerate
        while (self._events or not self.synth.silent) and waited < CLOSE_WAIT_SECONDS:
            self._sleep(poll)
            waited += poll
        stream, self._stream = self._stream, None
        stream.stop()
        stream.close()


def _import_sounddevice():
    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # use a running JACK server, never start one
    try:
        import sounddevice  # lazy: an optional part, and importing it loads PortAudio (absent: no voice)
    except ImportError:
        raise VoiceUnavailable("no audio library (pip install sounddevice)", "library") from None
    except OSError as error:  # sounddevice loads PortAudio when imported
        raise VoiceUnavailable(f"the audio library cannot load PortAudio ({error}): apt install libportaudio2 "
                               "(macOS and Windows wheels bring their own)", "portaudio") from None
    return sounddevice


def open_voice(device: int | str | None = None, samplerate: int | None = None, quiet: bool = True) -> VoicePort:
    """Open the built-in voice on ``device`` (a sounddevice index or part of a name; None: the default
    output) at ``samplerate`` Hz (None: the device's own), started. Raises VoiceUnavailable(reason).
    ``quiet`` hides what the sound systems print to stderr while PortAudio looks for devices."""
    # PortAudio's ALSA and JACK back ends print lines like "Cannot connect to server socket" for every
    # sound system a machine does not run.
    with c_stderr_hidden() if quiet else nullcontext():
        return _open_voice(device, samplerate)


def _open_voice(device, samplerate) -> VoicePort:
    sd = _import_sounddevice()
    try:
        info = sd.query_devices(device, kind="output")
    except (sd.PortAudioError, ValueError) as error:
        which = "default audio output device" if device is None else f"audio output device {device!r}"
        raise VoiceUnavailable(f"no {which} (PortAudio: {error})") from None
    rate = int(samplerate or info["default_samplerate"])
    port = VoicePort(samplerate=rate)
    try:
        stream = sd.OutputStream(device=device, samplerate=rate, blocksize=BLOCKSIZE, dtype="float32",
                                 channels=min(2, int(info["max_output_channels"])), latency=LATENCY_SECONDS,
                                 callback=port.callback)
    except (sd.PortAudioError, ValueError) as error:
        port.close()
        raise VoiceUnavailable(f"cannot open audio output {info['name']!r} ({error})") from None
    # Some back ends (JACK) report their own, shorter latency; the slack is kept all the same.
    port.attach(stream, delay=max(stream.latency, LATENCY_SECONDS) + 2 * BLOCKSIZE / rate)
    try:
        stream.start()
    except sd.PortAudioError as error:  # e.g. the device is busy
        port.close()
        raise VoiceUnavailable(f"cannot start audio output {info['name']!r} ({error})") from None
    return port


def render_tokens(tokens: Sequence[int], bpm: float, samplerate: int = SAMPLERATE, velocity: int = 100) -> np.ndarray:
    """The melody as mono float32 audio at ``samplerate`` Hz: step i starts at i * step_seconds(bpm),
    played through MidiOut into a VoicePort (the live voice's code), with the last tail rung out."""
    clock = FakeClock()
    port = VoicePort(samplerate=samplerate, now=clock.now)
    seconds = step_seconds(bpm)
    with MidiOut(port, velocity=velocity, clock=clock) as midi_out:
        for step, token in enumerate(tokens):
            clock.sleep_until(step * seconds)
            midi_out.play(token)
        clock.sleep_until(len(tokens) * seconds)  # closing sends All Notes Off here
    return port.render(frames_for(len(tokens) * seconds + RELEASE_SECONDS, samplerate), 0.0)


def listen_hint(path: str | Path) -> str:
    """One line telling how to hear the MIDI file ``path`` on a machine with sound."""
    return (f"to hear {path}: fluidsynth -i {SOUNDFONT} {path} (Debian/Ubuntu: apt install fluidsynth "
            "fluid-soundfont-gm; add -F out.wav to render a file), or open it in a DAW or MuseScore")
