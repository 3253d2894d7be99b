"""A small monophonic synth in numpy: notes in, mono float32 samples (-1..1) out.

One gated tone at a time (the box is monophonic) plus the release tails of the notes before it.
A tone is a few harmonics with falling amplitudes, a soft flute-like sound; harmonics at or above
``MAX_PARTIAL_FRACTION`` of the sample rate are left out, so the tone is band-limited and nothing
aliases. Its envelope is a raised-cosine attack, a slow fall towards the sustain level while the key
is held, and a raised-cosine release from wherever the level is when the note ends: the level never
jumps, so there are no clicks. Events take effect at the frame they are applied between ``render``
calls, so rendering is sample-accurate and the same whatever the block sizes.
"""

from __future__ import annotations

import math
import wave

import numpy as np

SAMPLERATE = 48_000  # Hz: the rate of WAV files and the default for the built-in voice
ATTACK_SECONDS = 0.006
RELEASE_SECONDS = 0.08  # after a note-off
LEGATO_SECONDS = ATTACK_SECONDS  # a note ended by the next one fades out as that one fades in: no bump
DECAY_SECONDS = 0.5  # time constant (s) of the fall from the attack peak towards SUSTAIN_LEVEL
SUSTAIN_LEVEL = 0.6
HARMONICS = (1.0, 0.3, 0.12, 0.05)  # amplitudes of partials 1, 2, 3, 4 (the fundamental is the loudest)
MAX_PARTIAL_FRACTION = 0.45  # partials at or above this fraction of the sample rate are left out
GAIN = 0.35  # peak amplitude of the fundamental at velocity 127
MAX_TONES = 8  # a flood of note-ons beyond this drops the oldest (quietest) tail


def pitch_hz(pitch: float) -> float:
    """The frequency (Hz) of MIDI pitch ``pitch`` in equal temperament, A4 = 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


class Tone:
    """One note: its partials, phase (cycles), age (frames since the note-on) and release point."""

    def __init__(self, pitch: int, velocity: int, samplerate: int):
        self.pitch = pitch
        self.frequency = pitch_hz(pitch)
        self.samplerate = samplerate
        self.amplitude = GAIN * velocity / 127
        nyquist_guard = MAX_PARTIAL_FRACTION * samplerate
        self.partials = [(k, a) for k, a in enumerate(HARMONICS, 1) if k * self.frequency < nyquist_guard]
        self.phase = 0.0
        self.age = 0
        self.released_at: int | None = None  # the age (frames) at the note-off
        self.release_level = 0.0
        self.release_frames = RELEASE_SECONDS * samplerate

    @property
    def gated(self) -> bool:
        return self.released_at is None

    @property
    def finished(self) -> bool:
        return self.released_at is not None and self.age - self.released_at >= self.release_frames

    def release(self, seconds: float = RELEASE_SECONDS) -> None:
        """Fade out over ``seconds`` from the current level. Once released, a call at the same frame can
        only shorten the fade (MIDI ends a note just before the next one starts: that is legato)."""
        if self.released_at is None:
            self.release_level = float(self._held_level(np.array([self.age], dtype=np.float64))[0])
            self.released_at = self.age
            self.release_frames = seconds * self.samplerate
        elif self.released_at == self.age:
            self.release_frames = min(self.release_frames, seconds * self.samplerate)

    def _held_level(self, ages: np.ndarray) -> np.ndarray:
        seconds = ages / self.samplerate
        attack = 0.5 - 0.5 * np.cos(np.pi * np.minimum(seconds / ATTACK_SECONDS, 1.0))
        return attack * (SUSTAIN_LEVEL + (1.0 - SUSTAIN_LEVEL) * np.exp(-seconds / DECAY_SECONDS))

    def _envelope(self, ages: np.ndarray) -> np.ndarray:
        if self.released_at is None:
            return self._held_level(ages)
        since = (ages - self.released_at) / self.release_frames
        return self.release_level * (0.5 + 0.5 * np.cos(np.pi * np.clip(since, 0.0, 1.0)))

    def render(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples of this tone (float64), advancing its phase and age."""
        steps = np.arange(frames, dtype=np.float64)
        increment = self.frequency / self.samplerate
        cycles = 2 * np.pi * (self.phase + increment * steps)
        wave = sum(a * np.sin(k * cycles) for k, a in self.partials)
        samples = self.amplitude * self._envelope(self.age + steps) * wave
        self.phase = (self.phase + increment * frames) % 1.0
        self.age += frames
        return samples


class Synth:
    """The voice: ``note_on``/``note_off``/``all_notes_off`` between ``render`` calls.

    Monophonic: a note-on ends the tone that is held with a short crossfade (LEGATO_SECONDS); a note-off
    lets it ring out over RELEASE_SECONDS. ``samplerate`` in Hz.
    """

    def __init__(self, samplerate: int = SAMPLERATE):
        if samplerate < 8000:
            raise ValueError(f"sample rate {samplerate} Hz is too low (at least 8000)")
        self.samplerate = int(samplerate)
        self.tones: list[Tone] = []

    @property
    def silent(self) -> bool:
        """True when nothing sounds, tails included."""
        return not self.tones

    def note_on(self, pitch: int, velocity: int) -> None:
        """Start ``pitch`` (0..127) at ``velocity`` (1..127; 0 is a note-off, as in MIDI)."""
        if velocity == 0:
            self.note_off(pitch)
            return
        for tone in self.tones:
            tone.release(LEGATO_SECONDS)
        self.tones.append(Tone(pitch, velocity, self.samplerate))
        del self.tones[:-MAX_TONES]

    def note_off(self, pitch: int) -> None:
        """Release ``pitch`` if it is the note held; other pitches are ignored."""
        for tone in self.tones:
            if tone.gated and tone.pitch == pitch:
                tone.release()

    def all_notes_off(self) -> None:
        """Release whatever is held; tails ring out."""
        for tone in self.tones:
            tone.release()

    def render(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples (float32, clipped to -1..1)."""
        out = np.zeros(frames, dtype=np.float64)
        for tone in self.tones:
            out += tone.render(frames)
        self.tones = [tone for tone in self.tones if not tone.finished]
        return np.clip(out, -1.0, 1.0).astype(np.float32)


def write_wav(path, samples: np.ndarray, samplerate: int = SAMPLERATE) -> None:
    """Write mono ``samples`` (-1..1) as a 16-bit PCM WAV file at ``samplerate`` Hz."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(samplerate))
        out.writeframes(pcm.tobytes())


def frames_for(seconds: float, samplerate: int) -> int:
    """Whole frames for ``seconds`` at ``samplerate`` Hz (rounded up)."""
    return math.ceil(seconds * samplerate - 1e-9)
