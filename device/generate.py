"""`melodybox generate`: a melody written to a MIDI file (and a piano roll, and audio), as fast as the model steps.

The melody is what the box would play from its primed state with the controls where the config and the
flags set them (no clock, no knobs), over the chords of ``--chords`` if given (a chord per bar, from the
first). Its notes are timed and shaped as the loop plays them (engine/dynamics.py: onsets, velocities,
gates), so the file holds what a capture of the box would; the piano roll draws the chords under it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from device.assembly import open_generator
from device.config import ConfigError, start_state
from device.core.chords import parse_progression
from device.core.encoding import tokens_to_notes
from device.core.scales import PITCH_CLASSES
from device.core.timegrid import PULSES_PER_STEP, time_signature
from device.engine.declaration import CONTROLS, DEFAULTS
from device.engine.dynamics import Dynamics, articulate
from device.harmony.progression import ProgressionHarmony
from device.play.capture import midi_file
from device.render.pianoroll import save_pianoroll
from device.render.synth import SAMPLERATE, write_wav
from device.render.voice import render_tokens
from device.settings import Config


def run(config: Config, args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Generate ``args.bars`` bars under ``config`` and write ``args.output`` (and ``args.png``, ``args.wav``)."""
    if args.bars < 1:
        raise ConfigError(f"--bars {args.bars}: must be at least 1")
    for flag, path in (("-o", args.output), ("--png", args.png), ("--wav", args.wav)):
        folder = Path(path or ".").parent
        if not folder.is_dir():  # checked before anything is written: all the files, or none
            raise ConfigError(f"{flag} {path}: the folder {str(folder)!r} does not exist")
    bar_steps, midi = config.music.bar_steps, config.midi
    if config.harmony.follow:
        raise ConfigError("--harmony follow hears the chords played on the MIDI input, in `melodybox run`; "
                          "generate takes them as --chords")
    progression = parse_progression(config.harmony.chords) if config.harmony.chords else None
    harmony = None if progression is None else ProgressionHarmony(progression, bar_steps)
    model, generator = open_generator(config, args.seed, open_on_a_note=False)  # a file keeps the model's opening
    with model:
        controls = start_state(config)
        tokens = [generator.next_token(controls, harmony=None if harmony is None else harmony.at(step))
                  for step in range(args.bars * bar_steps)]
    notes = articulate(tokens, controls, Dynamics(midi.velocity, args.seed, bar_steps))
    melody = midi_file(notes, 0, len(tokens) * PULSES_PER_STEP, config.tempo.bpm, bar_steps, midi.channel - 1,
                       name="Melody Box")
    melody.save(args.output)
    over = "" if progression is None else f" over {progression.text} ({progression.key.name}, harmony " \
                                          f"{controls.harmony:g})"
    say(f"wrote {args.output}: {len(tokens_to_notes(tokens))} notes in {args.bars} bars at temperature "
        f"{controls.temperature}{over}")
    if args.png:
        chords = None if progression is None else [(c.name, c.tones) for c in map(progression.chord_at,
                                                                                   range(args.bars))]
        title = settings_title(config, args, controls) + ("" if progression is None else f", over {progression.text}")
        save_pianoroll(tokens, args.png, title=title, bar_steps=bar_steps, chords=chords)
        say(f"wrote {args.png}")
    if args.wav:
        audio = render_tokens(tokens, config.tempo.bpm, velocity=midi.velocity)
        write_wav(args.wav, audio, SAMPLERATE)
        say(f"wrote {args.wav}: {len(audio) / SAMPLERATE:.1f} s of audio at {SAMPLERATE} Hz")
    return 0


def settings_title(config: Config, args: argparse.Namespace, controls) -> str:
    """What made the melody, for the piano roll's title: the model, length, metre, tempo, seed and every
    control away from its default, e.g. ``default.tflite, 8 bars of 4/4 at 120 bpm, seed 7, temperature 1,
    scale C:major``."""
    numerator, denominator = time_signature(config.music.bar_steps)
    seed = "no seed" if args.seed is None else f"seed {args.seed}"
    parts = [Path(config.model.path).name, f"{args.bars} bars of {numerator}/{denominator} at {config.tempo.bpm:g} bpm",
             seed, f"temperature {controls.temperature:g}"]
    values = controls.values()
    if values["scale"] != DEFAULTS["scale"]:
        parts.append(f"scale {PITCH_CLASSES[values['scale_root']]}:{values['scale']}")
    register = ("register_centre", "register_width")
    if any(values[name] != DEFAULTS[name] for name in register):
        parts.append("register {}:{}".format(*(values[name] for name in register)))
    for control in CONTROLS:
        value = values[control.name]
        shown = ("temperature", "scale", "scale_root", *register)
        if control.name not in shown and value != DEFAULTS[control.name]:
            parts.append(f"{control.name.replace('_', ' ')} {value:g}" if isinstance(value, float)
                         else f"{control.name.replace('_', ' ')} {value}")
    return ", ".join(parts)
