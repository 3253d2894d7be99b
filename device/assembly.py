"""One assembly: the box built from its configuration.

`melodybox run`, `melodybox generate`, `melodybox bench` and the tests all build the
box here, so what is tested is what runs. Hardware is injected through ``Parts``:
a part left None is built for real from the configuration (the monotonic clock, the
configured or chosen MIDI output, GPIO or keyboard controls). Everything opened is
closed again, in reverse order, and the synth is left silent.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from mido.ports import BaseInput, BaseOutput

from device.config import controls_table, start_state
from device.controls.cc import open_cc_controls
from device.controls.gpio import GpioControls
from device.controls.keyboard import HELP, SimControls
from device.core.clock import Clock, MonotonicClock
from device.core.timegrid import DEFAULT_BAR_STEPS
from device.engine.controlstate import Controls
from device.engine.dynamics import Dynamics
from device.engine.generator import Generator, primer_from_midi
from device.engine.guard import CollapseGuard
from device.engine.model import StepModel
from device.engine.sampling import Sampler
from device.harmony.source import open_harmony
from device.midi import ports
from device.midi.fanout import share
from device.midi.midi_in import MidiIn
from device.midi.midi_out import MidiOut
from device.play.answer import Answer
from device.play.capture import open_capture
from device.play.loop import Loop, StepReport
from device.play.takes import open_takes
from device.render.voice import VoiceUnavailable, listen_hint, open_voice
from device.settings import DEFAULT_VIRTUAL, DEFAULT_VIRTUAL_INPUT, RECORDING_STEM, Config, MidiConfig
from device.transport.base import Transport
from device.transport.follow import FollowTransport
from device.transport.internal import InternalTransport
from device.transport.lead import ClockOut
from device.transport.link import LinkTransport

Say = Callable[[str], None]


def say_nothing(message: str) -> None:
    """A ``say`` that says nothing (tests, benchmarks)."""


@dataclass(frozen=True)
class Parts:
    """What the assembly takes from outside instead of building it. None: build the real one.

    ``output``: a mido output port to play to, instead of the configured one; ``reopen``
    returns a fresh one when it is lost (None: a lost injected port stays lost).
    ``controls``: a Controls implementation, instead of GPIO / keyboard from the config.
    ``pin_factory``: gpiozero's pin factory for GPIO controls (MockFactory in tests).
    ``sim``: keyboard controls even where there is GPIO. ``keys``: the file descriptor keys
    are read from (-1: stdin if it is a terminal; None: no keyboard).
    ``on_quit``: what the keyboard's q does (default: SIGINT to this process).
    ``input``: a mido input port to listen to instead of the configured one; ``input_reopen``
    returns a fresh one when it is lost.
    """
    clock: Clock | None = None
    output: BaseOutput | None = None
    reopen: Callable[[], BaseOutput] | None = None
    controls: Controls | None = None
    transport: Transport | None = None
    pin_factory: Any = None
    sim: bool = False
    keys: int | None = -1
    on_quit: Callable[[], None] | None = None
    input: BaseInput | None = None
    input_reopen: Callable[[], BaseInput] | None = None


class Box:
    """The assembled box. ``run(steps)`` plays; ``close()`` (idempotent) releases everything, silent."""
    def __init__(self, stack: ExitStack, model, generator: Generator, midi_out: MidiOut, controls: Controls,
                 transport: Transport, loop: Loop, midi_in: MidiIn | None = None):
        self._stack = stack
        self.midi_in = midi_in  # the MIDI input (None: none configured); the loop drains it
        self.model, self.generator, self.midi_out = model, generator, midi_out
        self.controls, self.transport, self.loop = controls, transport, loop

    def run(self, steps: int | None = None) -> int:
        """Play ``steps`` 16th steps (None: until ``loop.stop()``). Returns the steps done."""
        return self.loop.run(steps)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def assemble(config: Config, seed: int | None = None, parts: Parts = Parts(), say: Say = say_nothing,
             on_step: Callable[[StepReport], None] | None = None) -> Box:
    """Build the box from ``config``: model, generator, MIDI out, controls, transport, loop.

    Raises ContractError / ModelError / PrimerError / PortError (each naming the file or port)
    before anything is played; whatever was opened by then is closed again.
    """
    clock = parts.clock or MonotonicClock()
    with ExitStack() as stack:
        model, generator = open_generator(config, seed)
        stack.callback(model.close)
        say(f"model {config.model.path} on {model.runtime_name}, {tempo_text(config)}")
        midi_out = open_midi_out(config.midi, config.tempo.bpm, clock, parts, say, config.music.bar_steps)
        stack.callback(midi_out.close)
        controls = parts.controls or open_controls(config, parts, say)
        stack.callback(controls.close)
        own = tuple(name for name in [getattr(midi_out.port, "virtual_name", "")] if name)  # never heard back
        midi_in = open_midi_in(config, clock, parts, say, own)
        if midi_in is not None:
            stack.callback(midi_in.close)
        transport = parts.transport or open_transport(config, clock, midi_in, say)
        if hasattr(transport, "close"):  # a Link session is left on close
            stack.callback(transport.close)
        readers = input_readers(config) if midi_in is not None else []  # the answer, the chords, the takes
        loop_controls, cc_tap = open_cc_controls(config.cc, controls_table(config), midi_in, controls,
                                                 keep_rest=bool(readers))  # CCs over knobs and keys
        apart = config.harmony.channel - 1 if config.harmony.follow and config.harmony.channel else None
        readers = share(cc_tap or midi_in, readers, {"answer": apart})  # no call is heard on the chords' channel
        capture = open_capture(config, midi_out, say)
        stack.callback(capture.close)
        harmony = open_harmony(config, start_state(config).harmony, readers.get("harmony"), say)
        takes = open_takes(config, readers.get("takes"), lambda: transport.bpm, say)
        if takes is not None:
            stack.callback(takes.close)
        loop = Loop(generator, midi_out, loop_controls, transport, on_step=on_step,
                    clock_out=open_clock_out(config, midi_out, say),
                    guard=CollapseGuard(config.guard, config.music.bar_steps),
                    answer=open_answer(config, readers.get("answer"), midi_out, transport, say),
                    dynamics=Dynamics(config.midi.velocity, seed, config.music.bar_steps), capture=capture,
                    harmony=harmony, hearers=[part for part in (harmony, takes) if part is not None])
        if midi_in is not None and not readers and cc_tap is None:
            midi_in.keep_events = False  # solo: nobody drains the notes, so they are not kept
        return Box(stack.pop_all(), model, generator, midi_out, controls, transport, loop, midi_in)


def tempo_text(config: Config) -> str:
    """Where the tempo comes from, for the first line: the box's own, or a followed clock's or a Link session's."""
    if config.clock.mode == "follow":
        return "tempo from the MIDI clock it follows"
    if config.clock.mode == "link":
        return f"tempo from the Link session ({config.tempo.bpm:g} bpm if it is empty)"
    return f"{config.tempo.bpm:g} bpm"


def open_generator(config: Config, seed: int | None, open_on_a_note: bool = True):
    """Load the model, prime it, and return (model, generator). Raises ContractError/ModelError/PrimerError.
    ``open_on_a_note``: the live box's melodies open with a note (engine/generator.py); a file's keep the model's
    own opening."""
    model = StepModel(config.model.path, runtime=config.model.runtime or None, num_threads=config.model.num_threads,
                      bar_steps=config.music.bar_steps)
    try:
        primer = list(config.primer.tokens)
        if config.primer.midi_file:
            primer = primer_from_midi(config.primer.midi_file, config.primer.max_steps)
        sampler = Sampler(seed=seed, pitch_range=model.contract.pitch_range, tail_cut=config.temperature.tail_cut)
        return model, Generator(model, sampler, primer, open_on_a_note=open_on_a_note)
    except BaseException:
        model.close()
        raise


def open_midi_out(midi: MidiConfig, bpm: float, clock: Clock, parts: Parts, say: Say,
                  bar_steps: int = DEFAULT_BAR_STEPS) -> MidiOut:
    """A MidiOut on the injected port if there is one, else on the configured or chosen output (``open_port``)."""
    port, reopen, alive = parts.output, parts.reopen, None
    if port is None:
        port, reopen, alive = open_port(midi, bpm, clock, say, bar_steps)
    return MidiOut(port, channel=midi.channel - 1, velocity=midi.velocity, reopen=reopen, clock=clock, alive=alive)


def open_midi_in(config: Config, clock: Clock, parts: Parts, say: Say, own: tuple[str, ...] = ()) -> MidiIn | None:
    """The injected or configured MIDI input; following a clock without one opens a virtual input. None: no input.
    ``own``: the box's own virtual output(s), never listed nor opened as an input (the box would hear itself)."""
    midi = config.midi
    port, reopen, alive = parts.input, parts.input_reopen, None
    if port is None and midi.input:
        port = ports.open_input(midi.input, own)
        name = port.name
        say(f"listening to MIDI input {name!r}")
        reopen, alive = (lambda: ports.open_input(midi.input, own)), (lambda: ports.input_present(name))
    elif port is None and (midi.virtual_input or config.clock.mode == "follow" or input_readers(config)):
        name = ports.virtual_name("input", midi.virtual_input, DEFAULT_VIRTUAL_INPUT, say)
        port = ports.open_virtual_input(name)
        say(f"listening on a new virtual MIDI input {name!r}: connect a drum machine, a DAW or a keyboard to it")
    elif port is None:
        return None
    channel = midi.input_channel - 1 if midi.input_channel else None
    return MidiIn(port, clock, channel, reopen=reopen, alive=alive, warn=say)


def input_readers(config: Config) -> list[str]:
    """The parts that hear the notes on the MIDI input, by name: "answer" (call and response), "harmony" (the
    chords, --harmony follow), "takes" (--record-input)."""
    wanted = {"answer": config.play.mode == "answer", "harmony": config.harmony.follow,
              "takes": bool(config.capture.input_folder)}
    return [name for name, wants in wanted.items() if wants]


def open_transport(config: Config, clock: Clock, midi_in: MidiIn | None, say: Say) -> Transport:
    """The box's own clock, the MIDI clock arriving at ``midi_in`` (clock.mode = "follow"), or a Link session."""
    if config.clock.mode == "link":
        say(f"joining an Ableton Link session (tempo {config.tempo.bpm:g} bpm if it is empty)")
        return LinkTransport(config.tempo.bpm, say=say)
    if config.clock.mode != "follow" or midi_in is None:
        return InternalTransport(clock, config.tempo.bpm)
    say(f"following MIDI clock from {midi_in.name!r}: press play on the drum machine or DAW "
        f"(clock lost: {config.clock.on_clock_loss})")
    return FollowTransport(midi_in, clock, config.tempo.bpm, config.clock.on_clock_loss, say=say)


def open_answer(config: Config, midi_in: MidiIn | None, midi_out: MidiOut, transport: Transport,
                say: Say) -> Answer | None:
    """Call and response (play.mode = "answer") on the input, or None (solo)."""
    play = config.play
    if play.mode != "answer" or midi_in is None:
        return None
    bars = "bar" if play.call_end_bars == 1 else "bars"
    say(f"call and response: play a call into {midi_in.name!r}; the box answers on the next bar line after "
        f"{play.call_end_bars} {bars} of silence" + (" (thru: your notes go to the output too)" if play.thru else ""))
    return Answer(midi_in, midi_out, transport, config.music.bar_steps, play.call_end_bars, play.max_call_bars,
                  play.thru)


def open_clock_out(config: Config, midi_out: MidiOut, say: Say) -> ClockOut | None:
    """Lead (clock.mode = "lead"): MIDI clock, Start and Stop with the notes. A MIDI file gets none."""
    if config.clock.mode != "lead":
        return None
    if isinstance(midi_out.port, ports.MidiFileOutput):
        say("clock.mode = lead: no MIDI clock in a MIDI file (notes only)")
        return None
    say("leading: MIDI clock (24 per quarter), Start and Stop go out with the notes")
    return ClockOut(midi_out)


def open_port(midi: MidiConfig, bpm: float, clock: Clock, say: Say, bar_steps: int = DEFAULT_BAR_STEPS):
    """Open the configured output, or choose one; say which. Returns (port, reopen, alive)."""
    if midi.port:
        port = ports.open_output(midi.port)
        say(f"playing to MIDI output {port.name!r}")
        return port, (lambda: ports.open_output(midi.port)), (lambda: ports.output_present(port.name))
    if midi.virtual:
        port = ports.open_virtual(ports.virtual_name("output", midi.virtual, DEFAULT_VIRTUAL, say))
        say(f"playing to a new virtual MIDI output {midi.virtual!r}: connect a synth to it")
        return port, None, None
    if midi.midi_file:
        say(f"writing what plays to {midi.midi_file}")
        return ports.MidiFileOutput(midi.midi_file, bpm, clock, bar_steps=bar_steps), None, None
    return _choose_port(bpm, clock, say, bar_steps)


def _choose_port(bpm: float, clock: Clock, say: Say, bar_steps: int = DEFAULT_BAR_STEPS):
    """No output configured: a plugged-in MIDI device, else the built-in voice on the sound card,
    else a virtual MIDI port, else a new MIDI file (never overwriting an older one)."""
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
    try:
        voice = open_voice()
        say("no MIDI device found: playing through the built-in voice on the sound card "
            "(--virtual NAME gives other programs a MIDI port instead)")
        return voice, open_voice, voice.alive
    except VoiceUnavailable as error:
        no_sound = error.reason
    if ports.virtual_ports_supported():
        name = ports.virtual_name("output", "", DEFAULT_VIRTUAL, say)
        say(f"no MIDI device and no sound ({no_sound}): playing to a new virtual MIDI output {name!r}; "
            "connect a synth to it")
        return ports.open_virtual(name), None, None
    port = ports.MidiFileOutput.new(".", RECORDING_STEM, bpm, clock, bar_steps)
    say(f"no MIDI ports here ({why}) and no sound ({no_sound}): writing what plays to {port.path}; "
        f"{listen_hint(port.path)}")
    return port, None, None


def gpio_pin_factory():
    """gpiozero's default pin factory (lgpio on a Pi). Raises gpiozero.exc.BadPinFactory without GPIO.

    The assembly is the one place that picks real hardware: gpiozero's software SPI also
    looks the factory up globally, so it is set there too.
    """
    from gpiozero import Device  # lazy: gpiozero is loaded only where the box looks for GPIO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpiozero warns for every factory it fails to load
        Device.ensure_pin_factory()
    return Device.pin_factory


def gpio_errors() -> tuple[type[Exception], ...]:
    """gpiozero's errors, and lgpio.error if lgpio is loaded: gpiozero lets it through (e.g. wrong permissions).

    lgpio is looked up, never imported: where it is absent or was not loaded, its error cannot occur.
    """
    from gpiozero.exc import GPIOZeroError  # lazy: gpiozero is loaded only where the box looks for GPIO

    lgpio_error = getattr(sys.modules.get("lgpio"), "error", None)
    if isinstance(lgpio_error, type) and issubclass(lgpio_error, Exception):
        return GPIOZeroError, lgpio_error
    return (GPIOZeroError,)


def open_controls(config: Config, parts: Parts, say: Say) -> Controls:
    """GPIO controls if this machine has GPIO and the config wants them, else keyboard controls."""
    start = start_state(config)  # [music] and temperature.initial: where the controls start
    table = controls_table(config)
    reason = "--sim" if parts.sim else "controls.kind = none" if config.controls.kind == "none" else None
    if reason is None:
        from gpiozero.exc import BadPinFactory  # lazy: gpiozero is loaded only where the box looks for GPIO

        try:
            factory = parts.pin_factory or gpio_pin_factory()
            controls = GpioControls(config.controls, table, factory, knobs=config.knobs, start=start)
            say(f"GPIO controls: {config.controls.kind} knob, button on GPIO{config.controls.button_pin}")
            return controls
        except BadPinFactory:
            reason = "no GPIO on this machine"
        except gpio_errors() as error:
            reason = f"GPIO failed ({type(error).__name__}: {error})"
    on_quit = parts.on_quit or (lambda: os.kill(os.getpid(), signal.SIGINT))
    controls = SimControls(table, keys=parts.keys, on_quit=on_quit, start=start)
    if controls.keyboard:
        say(f"{reason}: keyboard controls ({HELP})")
    else:
        say(f"{reason}, and no keyboard (stdin is not a terminal): temperature stays {config.temperature.initial}")
    return controls
