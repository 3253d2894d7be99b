"""Wiring the real box for `melodybox run`: model, MIDI output, controls, clock and loop.

Only this module (with device/cli.py) builds real hardware; everything it wires
takes its hardware injected. Every resource is closed on the way out, and the
synth is left silent (the loop silences, MidiOut.close sends All Notes Off).
"""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Callable
from contextlib import ExitStack

from device.config import Config, MidiConfig

DEFAULT_VIRTUAL = "Melody Box"
DEFAULT_MIDI_FILE = "melodybox-out.mid"

Say = Callable[[str], None]


def open_generator(config: Config, seed: int | None):
    """Load the model, prime it, and return (model, generator). Raises ContractError/ModelError/PrimerError."""
    from device.generator import Generator, primer_from_midi
    from device.model import StepModel
    from device.sampling import Sampler

    model = StepModel(config.model.path, runtime=config.model.runtime or None, num_threads=config.model.num_threads)
    try:
        primer = list(config.primer.tokens)
        if config.primer.midi_file:
            primer = primer_from_midi(config.primer.midi_file, config.primer.max_steps)
        sampler = Sampler(seed=seed, pitch_range=model.contract.pitch_range)
        return model, Generator(model, sampler, primer)
    except BaseException:
        model.close()
        raise


def open_port(midi: MidiConfig, bpm: float, clock, say: Say):
    """Open the configured output, or choose one; say which. Returns (port, reopen, alive)."""
    from device import ports

    if midi.port:
        port = ports.open_output(midi.port)
        say(f"playing to MIDI output {port.name!r}")
        return port, (lambda: ports.open_output(midi.port)), (lambda: ports.output_present(port.name))
    if midi.virtual:
        port = ports.open_virtual(midi.virtual)
        say(f"playing to a new virtual MIDI output {midi.virtual!r}: connect a synth to it")
        return port, None, None
    if midi.midi_file:
        say(f"writing what plays to {midi.midi_file}")
        return ports.MidiFileOutput(midi.midi_file, bpm, clock), None, None
    return _choose_port(bpm, clock, say)


def _choose_port(bpm: float, clock, say: Say):
    """No output configured: a real device if one is plugged in, else a virtual port, else a file."""
    from device import ports

    try:
        names = ports.list_output_names()
        why = "no MIDI outputs"
    except ports.PortError as error:
        names, why = [], str(error)
    devices = [n for n in names if "through" not in n.lower()]  # ALSA's "Midi Through" goes nowhere
    if devices:
        name = devices[0]
        say(f"playing to MIDI output {name!r} (the first one found; choose with --port)")
        return ports.open_output(name), (lambda: ports.open_output(name)), (lambda: ports.output_present(name))
    if ports.virtual_ports_supported():
        say(f"no MIDI device found: playing to a new virtual MIDI output {DEFAULT_VIRTUAL!r}; connect a synth to it")
        return ports.open_virtual(DEFAULT_VIRTUAL), None, None
    say(f"no MIDI ports here ({why}): writing what plays to {DEFAULT_MIDI_FILE}")
    return ports.MidiFileOutput(DEFAULT_MIDI_FILE, bpm, clock), None, None


def gpio_pin_factory():
    """gpiozero's default pin factory (lgpio on a Pi). Raises gpiozero.exc.BadPinFactory without GPIO.

    The CLI is the one place that picks real hardware: gpiozero's software SPI also
    looks the factory up globally, so it is set there too.
    """
    from gpiozero import Device

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpiozero warns for every factory it fails to load
        Device.ensure_pin_factory()
    return Device.pin_factory


def open_controls(config: Config, sim: bool, say: Say):
    """GPIO controls if this machine has GPIO and the config wants them, else keyboard controls."""
    from device.sim_controls import HELP, SimControls

    reason = "--sim" if sim else "controls.kind = none" if config.controls.kind == "none" else None
    if reason is None:
        from gpiozero.exc import BadPinFactory, GPIOZeroError

        from device.controls import GpioControls

        try:
            controls = GpioControls(config.controls, config.temperature, gpio_pin_factory())
            say(f"GPIO controls: {config.controls.kind} knob, button on GPIO{config.controls.button_pin}")
            return controls
        except BadPinFactory:
            reason = "no GPIO on this machine"
        except GPIOZeroError as error:
            reason = f"GPIO failed ({type(error).__name__}: {error})"
    controls = SimControls(config.temperature, on_quit=lambda: os.kill(os.getpid(), signal.SIGINT))
    if controls.keyboard:
        say(f"{reason}: keyboard controls ({HELP})")
    else:
        say(f"{reason}, and no keyboard (stdin is not a terminal): temperature stays {config.temperature.initial}")
    return controls


def run(config: Config, steps: int | None, seed: int | None, sim: bool, say: Say) -> int:
    """Play until ``steps`` are done, SIGTERM/SIGINT, or q. Returns the exit status (0)."""
    from device.clock import MonotonicClock, StepSchedule
    from device.loop import Loop
    from device.midi_out import MidiOut
    from device.sim_controls import LiveView

    clock = MonotonicClock()
    with ExitStack() as stack:
        stopper = stack.enter_context(_StopOnSignals())  # first: a signal while loading still stops cleanly
        model, generator = open_generator(config, seed)
        stack.callback(model.close)
        say(f"model {config.model.path} on {model.runtime_name}, {config.tempo.bpm:g} bpm")
        port, reopen, alive = open_port(config.midi, config.tempo.bpm, clock, say)
        midi = config.midi
        midi_out = MidiOut(port, channel=midi.channel - 1, velocity=midi.velocity, reopen=reopen, clock=clock,
                           alive=alive)
        stack.callback(midi_out.close)
        controls = open_controls(config, sim, say)
        stack.callback(controls.close)
        view = LiveView()
        stack.callback(view.close)
        loop = Loop(generator, midi_out, controls, StepSchedule(clock, config.tempo.bpm), on_step=view.update,
                    temperature=config.temperature.initial)
        stopper.target = loop.stop
        done = 0 if stopper.requested else loop.run(steps)
    say(f"stopped after {done} steps; all notes off")
    return 0


class _StopOnSignals:
    """SIGTERM (systemd) and SIGINT (Ctrl-C) set ``requested`` and call ``target`` (the loop's stop,
    once there is a loop); the previous handlers come back on exit."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.requested = False
        self.target: Callable[[], None] | None = None
        self.previous = {}

    def _handle(self, *_) -> None:
        self.requested = True
        if self.target is not None:
            self.target()

    def __enter__(self) -> _StopOnSignals:
        for signum in self.SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
