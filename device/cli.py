"""The `melodybox` command: argument parsing and wiring of real hardware, nothing else.

    melodybox run        play live (GPIO knob/button on a Pi, the keyboard on a desktop)
    melodybox generate   write a melody to a MIDI file (and a piano-roll PNG), no clock
    melodybox ports      list MIDI output and input ports
    melodybox doctor     check this machine: runtime, model, GPIO, SPI, MIDI, groups
    melodybox bench      benchmarks (device/bench/run.py)

Expected failures (bad config, missing or mismatched model, missing port) print
one line to stderr, ``melodybox: error: ...``, and exit with status 2. The conventions `melodybox-train`
keeps too (training/cli.py): --verbose before or after the subcommand, --version, the help and status 0
without arguments, values named by what they are (N, FILE, NAME), and ``--model NAME`` for models/NAME.tflite.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys

import mido

from device import package_version
from device.config import ConfigError, check, controls_table, load_config, with_controls, with_harmony
from device.core import stderr
from device.core.contract import ContractError, model_file
from device.engine.declaration import BUTTONS, CONTROLS, DEFAULTS, SHORTHANDS, ControlError
from device.engine.generator import PrimerError
from device.engine.sampling import DEFAULT_TAIL_CUT
from device.harmony.flags import add_harmony_arguments, harmony_flags
from device.midi.ports import PortError, list_input_names, list_output_names
from device.net.auth import TOKEN_ENV
from device.settings import CLOCK_MODES, DEFAULT_MIDI_FILE, DEFAULT_VIRTUAL, PLAY_MODES, Config

EXIT_USAGE = 2
EXPECTED_ERRORS = (ConfigError, ContractError, PortError, PrimerError, OSError)
VERBOSE_HELP = "also show what the TFLite runtime and the MIDI system print (hidden by default)"
MODEL_HELP = ("the .tflite model (its .json contract sits beside it), or the name of one in models/: mine is "
              "models/mine.tflite, as `melodybox-train export --name mine` writes it and `train --from mine` finds it")


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
    parser.add_argument("--model", metavar="MODEL", help=f"{MODEL_HELP} (default: the model shipped with the box, "
                        "models/default.tflite)")
    parser.add_argument("--tail-cut", type=float, metavar="C",
                        help="never play a note, hold or rest the model finds less than C times as likely as its "
                        f"first choice: 0 keeps them all, stray wrong notes too (default {DEFAULT_TAIL_CUT})")
    parser.add_argument("--seed", type=int, metavar="N", help="random seed: the same seed plays the same melody")
    parser.add_argument("--primer", metavar="FILE", help="a MIDI file whose first notes warm up the model")
    parser.add_argument("--bpm", type=float, metavar="BPM", help="tempo in quarter notes per minute (default 120)")


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    """Every declared control as a flag (engine/declaration.py), with the shorthands such as --register: where the
    controls start, over the config file. Their text is read and checked in ``config_from_args``."""
    group = parser.add_argument_group("musical controls", "where each control starts (knobs, keys and MIDI CC "
                                      "move them while playing; docs/controls.md)")
    for control in CONTROLS:
        group.add_argument(control.flag, dest=control.name, metavar=control.value_name,
                           help=f"{control.help} (default {_default_text(control)})")
    for shorthand in SHORTHANDS:
        group.add_argument(shorthand.flag, dest=shorthand.flag[2:], metavar=shorthand.metavar, help=shorthand.help)


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """The web page and OSC (docs/network.md): where they listen and send; [web] and [osc] in box.toml."""
    group = parser.add_argument_group("network", "a live web page, a JSON API and OSC (docs/network.md)")
    group.add_argument("--web", metavar="[HOST:]PORT", help="serve the page and the JSON API here (host 127.0.0.1, "
                       "this machine only, unless given: 0.0.0.0:8080 is the whole network)")
    group.add_argument("--web-token", metavar="TOKEN", help=f"what changes need (default: ${TOKEN_ENV}, [web] token, "
                       "else one kept in the box's state folder)")
    group.add_argument("--osc", metavar="[HOST:]PORT", help="receive OSC: /melodybox/<control> value, "
                       "/melodybox/reset, /melodybox/pause, /melodybox/capture")
    group.add_argument("--osc-send", metavar="HOST:PORT", help="send OSC: /melodybox/note pitch velocity for every "
                       "note played (velocity 0 ends it), /melodybox/step n")


def network_from_args(args: argparse.Namespace, config: Config, environ=None) -> Config:
    """``config`` with --web, --web-token, --osc and --osc-send applied; the token from the flag, else the
    environment (MELODYBOX_WEB_TOKEN), else the file's."""
    environ = os.environ if environ is None else environ
    web, osc = config.web, config.osc
    token = getattr(args, "web_token", None) or environ.get(TOKEN_ENV) or web.token
    web = dataclasses.replace(web, listen=getattr(args, "web", None) or web.listen, token=token)
    osc = dataclasses.replace(osc, listen=getattr(args, "osc", None) or osc.listen,
                              send=getattr(args, "osc_send", None) or osc.send)
    return dataclasses.replace(config, web=web, osc=osc)


def _default_text(control) -> str:
    default = DEFAULTS[control.name]
    return f"{default:g}" if isinstance(default, float) else str(default)


def controls_from_args(args: argparse.Namespace, config: Config) -> dict:
    """{control name: value} for the control flags given, read and checked by each control (the temperature within
    the config's low..high). ConfigError names the flag, e.g. ``--density 2: must be 0..1``."""
    table = controls_table(config)
    given = [(s.flag, s.parse, getattr(args, s.flag[2:], None)) for s in SHORTHANDS]
    given += [(c.flag, table[c.name].parse, getattr(args, c.name, None)) for c in CONTROLS]
    values = {}
    for flag, parse, text in given:
        if text is not None:
            try:
                values |= parse(text)
            except ControlError as error:
                raise ConfigError(f"{flag} {text}: {error}") from None
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="melodybox",
        description="Melody Box: a neural melody generator that plays one 16th note at a time over MIDI.",
        epilog="Start with `melodybox doctor`, then `melodybox run`. Every subcommand has --help.",
    )
    parser.add_argument("--version", action="version", version=f"melodybox {package_version()}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
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
    add_network_arguments(run)
    add_control_arguments(run)

    generate = commands.add_parser(
        "generate", help="write a melody to a MIDI file (and a piano-roll PNG)",
        description="Generate offline, as fast as the model steps (no clock), to a MIDI file.",
    )
    add_model_arguments(generate)
    generate.add_argument("--bars", type=int, default=8, metavar="N", help="length in bars of music.bar_steps 16th "
                          "steps (default 8 bars; 16 steps each, 4/4)")
    generate.add_argument("-o", "--output", metavar="OUT.mid", required=True, help="the MIDI file to write")
    generate.add_argument("--png", metavar="ROLL.png", help="also draw a piano roll")
    generate.add_argument("--wav", metavar="OUT.wav", help="also render the melody as audio with the built-in "
                          "voice (16-bit mono WAV, 48 kHz)")
    add_control_arguments(generate)
    add_harmony_arguments(run, generate)

    listing = commands.add_parser("controls", help="list every control: range, default, flag, config key, keys, CC",
                                  description="Every musical control the box has, as the knobs, keys, MIDI CC, "
                                  "flags and box.toml know it.")
    listing.add_argument("--markdown", action="store_true", help="as a Markdown table (docs/controls.md)")
    commands.add_parser("ports", help="list MIDI output and input ports", description="List the MIDI outputs "
                        "and inputs this machine has (mido's backend; ALSA on a Pi, JACK with "
                        "MIDO_BACKEND=...UNIX_JACK).")

    doctor = commands.add_parser(
        "doctor", help="check this machine and say how to fix what is missing",
        description="Check the TFLite runtime, the model and its contract, GPIO and SPI, MIDI ports and "
        "user groups. Exits non-zero if something the box needs is missing.",
    )
    doctor.add_argument("--config", metavar="FILE", help="check with this box.toml")
    doctor.add_argument("--model", metavar="MODEL", help=f"check this model instead of the configured one: "
                        f"{MODEL_HELP}")

    # `melodybox bench ARGS` hands ARGS to device/bench/run.py untouched (see main); listed here for the help.
    commands.add_parser("bench", help="measure step latency and timing (melodybox bench --help)")
    for command in commands.choices.values():  # --verbose after the subcommand too, as before it
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
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
        model = dataclasses.replace(model, path=str(model_file(args.model)))
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
                                  clock=clock, play=play)
    changed = network_from_args(args, changed)
    args, harmony = harmony_flags(args)
    changed = with_harmony(changed, **harmony)
    return check(with_controls(changed, controls_from_args(args, changed)), "command line")


def cmd_generate(args: argparse.Namespace) -> int:
    from device import generate  # lazy: a subcommand loads what only it needs

    return generate.run(config_from_args(args), args, say)


def cmd_ports(args: argparse.Namespace) -> int:
    """List the MIDI outputs and inputs; none at all is an answer too (exit 0), with what to try."""
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
    from device.bench import run as bench  # lazy: the benchmarks load only for `melodybox bench`

    return int(bench.main(bench_args) or 0)


def cmd_doctor(args: argparse.Namespace) -> int:
    from device import doctor  # lazy: a subcommand loads what only it needs

    return doctor.run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from device import runner  # lazy: a subcommand loads what only it needs

    return runner.run(config_from_args(args), steps=args.steps, seed=args.seed, sim=args.sim, say=say,
                      config_path=args.config)


def controls_rows() -> list[list[str]]:
    """One row per declared control: name, range and unit (default), knob travel, flag, config key, keys, CC."""
    rows = []
    for control in CONTROLS:
        keys = f"{control.key} {control.key.upper()}" if control.key else "-"
        rows.append([control.name, f"{control.value_name}: {control.unit} ({_default_text(control)})",
                     control.curve.travel_text, control.flag, ".".join(control.place), keys,
                     str(control.cc) if control.cc >= 0 else "-"])
    return rows


CONTROLS_HEADER = ["control", "range: meaning (default)", "knob travel", "flag", "config key", "keys", "CC"]


def cmd_controls(args: argparse.Namespace) -> int:
    """Print every control (the declaration, engine/declaration.py): a block each for people, or a Markdown table."""
    rows = controls_rows()
    if args.markdown:
        print("| " + " | ".join(CONTROLS_HEADER) + " |")
        print("|" + "---|" * len(CONTROLS_HEADER))
        for row in rows:
            print("| " + " | ".join(f"`{cell}`" if i in (3, 4) else cell for i, cell in enumerate(row)) + " |")
        return 0
    for control, (name, meaning, travel, flag, key, keys, cc) in zip(CONTROLS, rows, strict=True):
        print(f"{name}: {control.help}\n    {meaning}\n    knob: {travel}; {flag} VALUE; box.toml {key}; "
              f"keys {keys}; CC {cc}")
    print("buttons: " + "; ".join(f"{b.name} ({b.help}): keys {'/'.join(repr(k) for k in b.keys)}, CC {b.cc}"
                                  for b in BUTTONS))
    return 0


COMMANDS = {"run": cmd_run, "generate": cmd_generate, "ports": cmd_ports, "doctor": cmd_doctor,
            "controls": cmd_controls}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["bench"] or argv[:2] == ["--verbose", "bench"]:
            stderr.VERBOSE = argv[0] == "--verbose"
            return cmd_bench(argv[argv.index("bench") + 1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        if args.verbose:
            stderr.VERBOSE = True
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # the reader went away (`melodybox controls | head`): nothing more to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the interpreter's last flush does not fail
        return 0
    except PortError as error:
        say(f"error: {error} (`melodybox ports` lists the outputs, `melodybox doctor` checks the setup)")
        return EXIT_USAGE
    except EXPECTED_ERRORS as error:
        say(f"error: {error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0

