"""The `melodybox` command: argument parsing and wiring of real hardware, nothing else.

    melodybox run        play live (GPIO knob/button on a Pi, the keyboard on a desktop)
    melodybox generate   write a melody to a MIDI file (and a piano-roll PNG), no clock
    melodybox ports      list MIDI output and input ports
    melodybox doctor     check this machine: runtime, model, GPIO, SPI, MIDI, groups
    melodybox bench      benchmarks (device/bench/run.py)

Expected failures (bad config, missing or mismatched model, missing port) print
one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys

from device.config import (
    CLOCK_MODES,
    DEFAULT_MIDI_FILE,
    DEFAULT_VIRTUAL,
    PLAY_MODES,
    Config,
    ConfigError,
    check,
    load_config,
)
from device.core.contract import ContractError
from device.engine.generator import PrimerError
from device.engine.sampling import DEFAULT_TAIL_CUT
from device.midi.ports import PortError

EXIT_USAGE = 2
EXPECTED_ERRORS = (ConfigError, ContractError, PortError, PrimerError, OSError)


def say(message: str) -> None:
    """One line of news for the person running the box (stderr, so stdout stays for the live view)."""
    print(f"melodybox: {message}", file=sys.stderr, flush=True)


def at_least_one(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="a box.toml (see device/pi/box.toml); flags override it")
    parser.add_argument("--model", metavar="FILE", help="the .tflite model; its .json contract sits beside it "
                        "(default: the model shipped with the box, models/default.tflite)")
    parser.add_argument("--temperature", type=float, metavar="T",
                        help="randomness: 0.05 near-certain .. 1 as trained .. 3 wild (default 1.0)")
    parser.add_argument("--tail-cut", type=float, metavar="C",
                        help="never play a note, hold or rest the model finds less than C times as likely as its "
                        f"first choice: 0 keeps them all, stray wrong notes too (default {DEFAULT_TAIL_CUT})")
    parser.add_argument("--seed", type=int, help="random seed: the same seed plays the same melody")
    parser.add_argument("--primer", metavar="FILE", help="a MIDI file whose first notes warm up the model")
    parser.add_argument("--bpm", type=float, help="tempo in quarter notes per minute (default 120)")


def register_text(text: str) -> tuple[int, int]:
    """``"72:12"`` -> (72, 12): the register's centre pitch and width in semitones."""
    centre, colon, width = text.partition(":")
    try:
        return int(centre), int(width)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not CENTRE:WIDTH, e.g. 72:12") from None


def add_music_arguments(parser: argparse.ArgumentParser) -> None:
    """The musical controls as flags (they override the config's [music] section; see the README's Controls)."""
    parser.add_argument("--scale", metavar="ROOT:NAME", help="scale lock, e.g. C:major, A:minor_pentatonic, "
                        "F#:dorian; chromatic = off (default)")
    parser.add_argument("--strictness", type=float, metavar="0-1", help="scale lock: 0 free .. 1 only in-scale "
                        "pitches (default 1)")
    parser.add_argument("--deja-vu", type=float, metavar="0-1", help="0 always new (default) .. 1 repeat the "
                        "loop of the last --loop-bars bars exactly")
    parser.add_argument("--loop-bars", type=int, metavar="N", help="deja-vu loop length: 1, 2, 4 or 8 bars "
                        "(default 2)")
    parser.add_argument("--density", type=float, metavar="0-1", help="0 sparse .. 0.5 as the model says "
                        "(default) .. 1 a new note on every step")
    parser.add_argument("--register", type=register_text, metavar="CENTRE:WIDTH", help="keep pitches within "
                        "WIDTH semitones around the MIDI pitch CENTRE, e.g. 72:12 (default: all)")
    parser.add_argument("--gate", type=float, metavar="0-1", help="share of a note's last 16th that sounds: "
                        "1 legato (default) .. 0 staccato")
    parser.add_argument("--accent", type=float, metavar="0-1", help="0 every note at midi.velocity (default) .. "
                        "1 strong beats louder, off-beat 16ths softer")
    parser.add_argument("--humanise", type=float, metavar="0-1", help="0 exact velocities (default) .. 1 up to "
                        "+-12 at random, seeded by --seed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="melodybox",
        description="Melody Box: a neural melody generator that plays one 16th note at a time over MIDI.",
        epilog="Start with `melodybox doctor`, then `melodybox run`. Every subcommand has --help.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="also show what the TFLite runtime and the MIDI system print (hidden by default)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="play live until stopped (Ctrl-C / SIGTERM)",
        description="Play live. On a Pi the knob sets the temperature and the button resets (hold: pause); "
        "on a desktop the keyboard does ([ ] temperature, space reset, p pause, q quit). "
        "Without --port/--virtual/--midi-file the box picks a USB-MIDI port, else a virtual port "
        f"'{DEFAULT_VIRTUAL}', else writes {DEFAULT_MIDI_FILE}, and says which.",
    )
    add_model_arguments(run)
    out = run.add_mutually_exclusive_group()
    out.add_argument("--port", metavar="NAME", help="play to the MIDI output whose name contains NAME")
    out.add_argument("--virtual", metavar="NAME", help="open a virtual MIDI output called NAME for other programs")
    out.add_argument("--midi-file", metavar="FILE", help="write what plays to a MIDI file")
    run.add_argument("--channel", type=int, metavar="1-16", help="MIDI channel (default 1)")
    listen = run.add_mutually_exclusive_group()
    listen.add_argument("--input", metavar="NAME", help="listen to the MIDI input whose name contains NAME "
                        "(a drum machine's or DAW's clock, a keyboard)")
    listen.add_argument("--virtual-input", metavar="NAME", help="open a virtual MIDI input called NAME for other "
                        "programs to play into")
    run.add_argument("--clock", choices=CLOCK_MODES, help="internal: the box's own tempo (default); lead: also send "
                     "MIDI clock, Start and Stop; follow: step on the MIDI clock arriving at the input; link: join an "
                     "Ableton Link session (pip install aalink)")
    run.add_argument("--mode", choices=PLAY_MODES, help="solo: play on its own (default); answer: listen to a "
                     "player's call on the input, then answer it (call and response)")
    run.add_argument("--thru", action="store_true", help="answer mode: echo the player's notes to the output")
    run.add_argument("--steps", type=at_least_one, metavar="N",
                     help="stop after N 16th notes (default: run until stopped)")
    run.add_argument("--sim", action="store_true", help="keyboard controls instead of GPIO, even on a Pi")

    generate = commands.add_parser(
        "generate", help="write a melody to a MIDI file (and a piano-roll PNG)",
        description="Generate offline, as fast as the model steps (no clock), to a MIDI file.",
    )
    add_model_arguments(generate)
    generate.add_argument("--bars", type=int, default=8, help="length in bars of music.bar_steps 16th steps "
                          "(default 8 bars; 16 steps each, 4/4)")
    generate.add_argument("-o", "--output", metavar="OUT.mid", required=True, help="the MIDI file to write")
    generate.add_argument("--png", metavar="ROLL.png", help="also draw a piano roll")
    generate.add_argument("--wav", metavar="OUT.wav", help="also render the melody as audio with the built-in "
                          "voice (16-bit mono WAV, 48 kHz)")
    add_music_arguments(generate)

    commands.add_parser("ports", help="list MIDI output and input ports", description="List the MIDI outputs "
                        "and inputs this machine has (mido's backend; ALSA on a Pi, JACK with "
                        "MIDO_BACKEND=...UNIX_JACK).")

    doctor = commands.add_parser(
        "doctor", help="check this machine and say how to fix what is missing",
        description="Check the TFLite runtime, the model and its contract, GPIO and SPI, MIDI ports and "
        "user groups. Exits non-zero if something the box needs is missing.",
    )
    doctor.add_argument("--config", metavar="FILE", help="check with this box.toml")
    doctor.add_argument("--model", metavar="FILE", help="check this model instead of the configured one")

    # `melodybox bench ARGS` hands ARGS to device/bench/run.py untouched (see main); listed here for the help.
    commands.add_parser("bench", help="measure step latency and timing (melodybox bench --help)")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The file's configuration (or the defaults) with the flags given on the command line applied."""
    config = load_config(getattr(args, "config", None))
    midi, model, temperature = config.midi, config.model, config.temperature
    if getattr(args, "port", None) or getattr(args, "virtual", None) or getattr(args, "midi_file", None):
        midi = dataclasses.replace(midi, port=args.port or "", virtual=args.virtual or "",
                                   midi_file=args.midi_file or "")
    if getattr(args, "channel", None) is not None:
        midi = dataclasses.replace(midi, channel=args.channel)
    if getattr(args, "input", None) or getattr(args, "virtual_input", None):
        midi = dataclasses.replace(midi, input=args.input or "", virtual_input=args.virtual_input or "")
    if args.model:
        model = dataclasses.replace(model, path=args.model)
    if getattr(args, "temperature", None) is not None:
        temperature = dataclasses.replace(temperature, initial=args.temperature)
    if getattr(args, "tail_cut", None) is not None:
        temperature = dataclasses.replace(temperature, tail_cut=args.tail_cut)
    tempo = config.tempo if getattr(args, "bpm", None) is None else dataclasses.replace(config.tempo, bpm=args.bpm)
    primer = config.primer
    if getattr(args, "primer", None):
        primer = dataclasses.replace(primer, tokens=(), midi_file=args.primer)
    clock = config.clock
    if getattr(args, "clock", None):
        clock = dataclasses.replace(clock, mode=args.clock)
    play = config.play
    if getattr(args, "mode", None):
        play = dataclasses.replace(play, mode=args.mode)
    if getattr(args, "thru", False):
        play = dataclasses.replace(play, thru=True)
    changed = dataclasses.replace(config, midi=midi, model=model, temperature=temperature, tempo=tempo, primer=primer,
                                  clock=clock, music=music_from_args(config.music, args), play=play)
    return check(changed, "command line")


def music_from_args(music, args: argparse.Namespace):
    """The config's [music] section with the musical flags given on the command line applied."""
    flags = {key: getattr(args, key, None) for key in ("scale", "strictness", "deja_vu", "loop_bars", "density",
                                                        "gate", "accent", "humanise")}
    if getattr(args, "register", None) is not None:
        flags["register_centre"], flags["register_width"] = args.register
    return dataclasses.replace(music, **{key: value for key, value in flags.items() if value is not None})


def cmd_generate(args: argparse.Namespace) -> int:
    from device.assembly import open_generator
    from device.core.encoding import tokens_to_notes, write_midi
    from device.engine.controlstate import ControlState
    from device.render.pianoroll import save_pianoroll

    config = config_from_args(args)
    if args.bars < 1:
        raise ConfigError(f"--bars {args.bars}: must be at least 1")
    model, generator = open_generator(config, args.seed)
    with model:
        controls = ControlState(temperature=config.temperature.initial, **config.music.control_values())
        tokens = [generator.next_token(controls) for _ in range(args.bars * config.music.bar_steps)]
    midi = config.midi
    if (controls.gate, controls.accent, controls.humanise) == (ControlState().gate, 0.0, 0.0):
        write_midi(tokens, args.output, bpm=config.tempo.bpm, velocity=midi.velocity, channel=midi.channel - 1)
    else:  # velocities and gates as the box plays them
        from device.core.timegrid import PULSES_PER_STEP
        from device.engine.dynamics import Dynamics, articulate
        from device.play.capture import midi_file

        notes = articulate(tokens, controls, Dynamics(midi.velocity, args.seed, config.music.bar_steps))
        end = len(tokens) * PULSES_PER_STEP
        midi_file(notes, 0, end, config.tempo.bpm, config.music.bar_steps, midi.channel - 1).save(args.output)
    notes = len(tokens_to_notes(tokens))
    say(f"wrote {args.output}: {notes} notes in {args.bars} bars at temperature {config.temperature.initial}")
    if args.png:
        save_pianoroll(tokens, args.png, bar_steps=config.music.bar_steps)
        say(f"wrote {args.png}")
    if args.wav:
        from device.render.synth import SAMPLERATE, write_wav
        from device.render.voice import render_tokens

        audio = render_tokens(tokens, config.tempo.bpm, velocity=midi.velocity)
        write_wav(args.wav, audio, SAMPLERATE)
        say(f"wrote {args.wav}: {len(audio) / SAMPLERATE:.1f} s of audio at {SAMPLERATE} Hz")
    return 0


def cmd_ports(args: argparse.Namespace) -> int:
    """List the MIDI outputs and inputs; none at all is an answer too (exit 0), with what to try."""
    import mido

    from device.midi.ports import list_input_names, list_output_names

    backend = mido.backend.name
    try:
        names, inputs = list_output_names(), list_input_names()
    except PortError as error:
        print(f"no MIDI ports: {error} (backend {backend})")
        print("Linux: load the sequencer (`sudo modprobe snd-seq`) and plug in a USB-MIDI device, then check "
              "`aconnect -l`; without ALSA (a container), start JACK and set "
              "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK")
        return 0
    for kind, found in (("outputs", names), ("inputs", inputs)):
        print(f"MIDI {kind}:" if found else f"no MIDI {kind} (backend {backend}): plug in a USB-MIDI device")
        for name in found:
            print(f"  {name}")
    return 0


def cmd_bench(bench_args: list[str]) -> int:
    """Run device/bench/run.py's main with the arguments after `bench` (it has its own --help)."""
    if importlib.util.find_spec("device.bench.run") is None:
        say("no benchmarks in this installation (device/bench/run.py is missing)")
        return 1
    from device.bench import run as bench

    return int(bench.main(bench_args) or 0)


def cmd_doctor(args: argparse.Namespace) -> int:
    from device import doctor

    return doctor.run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from device import runner

    return runner.run(config_from_args(args), steps=args.steps, seed=args.seed, sim=args.sim, say=say)


COMMANDS = {"run": cmd_run, "generate": cmd_generate, "ports": cmd_ports, "doctor": cmd_doctor}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["bench"]:
            return cmd_bench(argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        if args.verbose:
            from device.core import stderr as quiet

            quiet.VERBOSE = True
        return COMMANDS[args.command](args)
    except PortError as error:
        say(f"error: {error} (`melodybox ports` lists the outputs, `melodybox doctor` checks the setup)")
        return EXIT_USAGE
    except EXPECTED_ERRORS as error:
        say(f"error: {error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0

