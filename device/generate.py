"""`melodybox generate`: a melody written to a MIDI file (and a piano roll, and audio), as fast as the model steps.

The melody is what the box would play from its primed state with the controls where the config and the
flags set them (no clock, no knobs). Its notes are timed and shaped as the loop plays them
(engine/dynamics.py: onsets, velocities, gates), so the file holds what a capture of the box would.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from device.assembly import open_generator
from device.config import ConfigError, start_state
from device.core.encoding import tokens_to_notes
from device.core.timegrid import PULSES_PER_STEP
from device.engine.dynamics import Dynamics, articulate
from device.play.capture import midi_file
from device.render.pianoroll import save_pianoroll
from device.render.synth import SAMPLERATE, write_wav
from device.render.voice import render_tokens
from device.settings import Config


def run(config: Config, args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Generate ``args.bars`` bars under ``config`` and write ``args.output`` (and ``args.png``, ``args.wav``)."""
    if args.bars < 1:
        raise ConfigError(f"--bars {args.bars}: must be at least 1")
    bar_steps, midi = config.music.bar_steps, config.midi
    model, generator = open_generator(config, args.seed)
    with model:
        controls = start_state(config)
        tokens = [generator.next_token(controls) for _ in range(args.bars * bar_steps)]
    notes = articulate(tokens, controls, Dynamics(midi.velocity, args.seed, bar_steps))
    melody = midi_file(notes, 0, len(tokens) * PULSES_PER_STEP, config.tempo.bpm, bar_steps, midi.channel - 1,
                       name="Melody Box")
    melody.save(args.output)
    say(f"wrote {args.output}: {len(tokens_to_notes(tokens))} notes in {args.bars} bars at temperature "
        f"{controls.temperature}")
    if args.png:
        save_pianoroll(tokens, args.png, bar_steps=bar_steps)
        say(f"wrote {args.png}")
    if args.wav:
        audio = render_tokens(tokens, config.tempo.bpm, velocity=midi.velocity)
        write_wav(args.wav, audio, SAMPLERATE)
        say(f"wrote {args.wav}: {len(audio) / SAMPLERATE:.1f} s of audio at {SAMPLERATE} Hz")
    return 0
