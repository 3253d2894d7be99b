"""Melody Box, the box: a trained melody model stepped one 16th note at a time and played over MIDI.

Runs on a Raspberry Pi or a desktop, without TensorFlow. The app sits on top and builds the box from
its configuration; the packages below each hold one part. Dependencies point down this list: a
package imports only itself and the packages named beside it, never the app and never training/
(tests/test_layout.py checks every import, inside functions too).

The app (may import any package below):
    entry       the `melodybox` command's entry point: signal handlers first, then the CLI
    cli         the command line: flags (every declared control among them) and the subcommands
    assembly    one assembly: the box built from its configuration, hardware injected
    settings    the configuration's sections as frozen dataclasses, with their defaults
    config      a TOML file read into the settings, every value checked
    runner      `melodybox run`: the assembled box played until stopped
    remote      the box on the network: the page, the JSON API, OSC and mDNS built from [web] and [osc]
    generate    `melodybox generate`: a melody to a MIDI file, a piano roll and audio, offline
    status      the status line a person reads while the box plays
    doctor      `melodybox doctor`: what this machine has, and how to fix what is missing
    signals     SIGINT and SIGTERM stop the box cleanly at any moment
    sdnotify    systemd's notify protocol: ready, watchdog, stopping

The parts:
    core/       encoding, time grid, scales, clocks, model features and contract, MIDI reading: imports nothing of ours
    engine/     the control declaration and state, the sampler, generator, guard, dynamics, step model: core
    midi/       MIDI ports, input and output that survive an unplugged cable: core
    transport/  the loop's time: the box's own clock, MIDI clock follow and lead, Link: core, midi
    controls/   knobs and buttons on GPIO, the keyboard, MIDI CC: core, engine, midi
    play/       the real-time loop, call and response, capture: core, engine, midi, transport
    render/     the built-in voice, its synth, piano rolls: core, midi
    net/        the web page and JSON API, OSC, mDNS, surfaces of the declaration: core, engine, controls, play
    harmony/    where the chords come from: a progression, or the chords held on the input: core, engine, midi
    bench/      the benchmarks `melodybox bench` runs, on a Pi too: may import anything of device/
    pi/         the Raspberry Pi install (shell, systemd unit, box.toml), no Python
"""

import importlib.metadata


def package_version() -> str:
    """The installed package's version (pyproject.toml), for `melodybox --version` and `melodybox-train --version`;
    "(not installed)" when run from a checkout that was never installed."""
    try:
        return importlib.metadata.version("melodybox")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
