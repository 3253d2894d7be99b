"""`melodybox doctor`: check this machine for what the box needs, and say how to fix what is missing.

Each check gives a status: ``ok``, ``warn`` (the box runs, with less: e.g. no GPIO
on a desktop means keyboard controls) or ``missing`` (the box cannot run as
configured). GPIO, SPI and the user's groups are needed on a Raspberry Pi only.
The exit status is 1 if anything needed is missing, else 0.
"""

from __future__ import annotations

import grp
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import mido

from device.assembly import gpio_pin_factory
from device.config import ConfigError, load_config
from device.core.contract import ContractError, model_file
from device.engine.model import StepModel
from device.midi.ports import PortError, find_name, list_input_names, list_output_names, virtual_ports_supported
from device.render.voice import VoiceUnavailable, open_voice
from device.settings import Config

GROUPS = ("gpio", "spi", "audio")
PI_MODEL_FILE = Path("/proc/device-tree/model")
RUNTIMES = {"ai-edge-litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime"}


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is "ok", "warn" or "missing"; ``fix`` says what to do about it."""

    name: str
    status: str
    detail: str
    fix: str = ""


def on_raspberry_pi(model_file: Path = PI_MODEL_FILE) -> bool:
    """True on a Raspberry Pi (its device tree names the board)."""
    try:
        return "raspberry pi" in model_file.read_text(errors="replace").lower()
    except OSError:
        return False


def check_runtime() -> Check:
    found = []
    for name, module in RUNTIMES.items():
        if importlib.util.find_spec(module) is not None:
            found.append(f"{name} {importlib.metadata.version(name)}")
    if found:
        return Check("TFLite runtime", "ok", ", ".join(found))
    return Check("TFLite runtime", "missing", "neither ai-edge-litert nor tflite-runtime is installed",
                 'pip install -e ".[device]" (installs ai-edge-litert; 64-bit OS needed on a Pi)')


def check_model(path: str, runtime: str) -> Check:
    try:
        with StepModel(path, runtime=runtime or None) as model:
            c = model.contract
            low, high = c.pitch_range
            detail = (f"{path}: {c.precision}, {c.tflite_bytes / 1e6:.2f} MB, pitches {low}..{high}, "
                      f"{len(c.states)} state tensors, loads on {model.runtime_name}")
            return Check("model", "ok", detail)
    except ContractError as error:
        return Check("model", "missing", str(error),
                     "copy a model and its .json contract (models/default.tflite + default.json), or pass --model")


def check_midi(on_pi: bool = False) -> list[Check]:
    if importlib.util.find_spec("rtmidi") is None:
        return [Check("MIDI", "missing", "python-rtmidi is not installed",
                      'pip install -e ".[device]" (on Python 3.13: apt install python3-rtmidi, venv with '
                      "--system-site-packages)")]
    backend = mido.backend.name
    try:
        names = list_output_names()
    except PortError as error:
        fix = ("load the ALSA sequencer (`sudo modprobe snd-seq`; add snd-seq to /etc/modules to keep it), plug in a "
               "USB-MIDI synth or interface, then `aconnect -l`")
        if not on_pi:
            fix += ("; in a container without ALSA: start JACK and set MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK; "
                    "without any MIDI the box plays through its built-in voice or writes a MIDI file")
        return [Check("MIDI outputs", "warn", f"{error} (backend {backend})", fix)]
    devices = [n for n in names if "through" not in n.lower()]
    virtual = "virtual ports work" if virtual_ports_supported() else "no virtual ports"
    if devices:
        return [Check("MIDI outputs", "ok", f"{', '.join(devices)} ({virtual}; backend {backend})")]
    fix = ("plug in a class-compliant USB-MIDI synth or interface, or use the Pi as a USB-MIDI gadget (docs/pi.md, "
           "USB-MIDI out, two ways); `aconnect -l` lists what ALSA sees" if on_pi else
           "plug in a USB-MIDI synth or interface, or connect a software synth or DAW to the box's virtual port "
           "(--virtual); without one the box plays through its built-in voice")
    return [Check("MIDI outputs", "warn", f"no MIDI device plugged in ({virtual}; backend {backend})", fix)]


SOUND_FIXES = {  # what VoiceUnavailable.missing asks for
    "library": 'pip install -e ".[device]" (it brings sounddevice)',
    "portaudio": "`sudo apt install libportaudio2`",
    "device": "PortAudio is installed, and there is no audio output it can open: plug in a sound card or headphones "
              "(or start the desktop's sound server); `aplay -l` lists what ALSA sees",
}
PI_AUDIO = " (the Pi's headphone jack: `sudo raspi-config`, System Options, Audio)"


def check_sound(device: int | str | None = None, on_pi: bool = False) -> Check:
    """The built-in voice: an audio library, PortAudio and an output device (the box's fallback without a MIDI
    synth); ``device``: the sounddevice output to try (None: the default). The fix names what is really missing."""
    try:
        voice = open_voice(device)
    except VoiceUnavailable as error:
        fix = SOUND_FIXES[error.missing] + (PI_AUDIO if on_pi and error.missing == "device" else "")
        return Check("sound", "warn", f"the built-in voice cannot play here ({error.reason})",
                     f"only needed without a MIDI synth: {fix}; otherwise the box plays to a virtual MIDI port or "
                     "writes a MIDI file")
    name = getattr(voice, "name", "") or "the default output"
    voice.close()
    return Check("sound", "ok", f"the built-in voice plays on {name}")


def check_input(config: Config, names: list[str] | None = None) -> Check | None:
    """The configured MIDI input (midi.input) is listed; None if none is configured. ``names``: the inputs listed."""
    fragment = config.midi.input
    if not fragment:
        return None
    try:
        name = find_name(fragment, list_input_names() if names is None else names, "input")
    except PortError as error:
        return Check("MIDI input", "missing", str(error),
                     "plug in the drum machine or USB-MIDI interface (or start the DAW), then `melodybox ports`; "
                     "or use --virtual-input NAME and connect to it")
    return Check("MIDI input", "ok", f"{name!r} (clock.mode = {config.clock.mode})")


def check_link(config: Config) -> Check | None:
    """clock.mode = "link" needs the aalink package; None for the other clocks."""
    if config.clock.mode != "link":
        return None
    if importlib.util.find_spec("aalink") is None:
        return Check("Ableton Link", "missing", "clock.mode = link, and aalink is not installed", "pip install aalink")
    return Check("Ableton Link", "ok", f"aalink {importlib.metadata.version('aalink')}")


def check_gpio(needed: bool) -> Check:
    from gpiozero.exc import BadPinFactory  # lazy: gpiozero is loaded only to look for GPIO

    try:
        factory = gpio_pin_factory()
    except BadPinFactory as error:
        fix = ("sudo apt install python3-lgpio, and make the venv with --system-site-packages (device/pi/install.sh "
               "does)" if needed else "none needed on a desktop: `melodybox run` uses keyboard controls")
        return Check("GPIO", "missing" if needed else "warn", f"no GPIO pin factory ({error})", fix)
    return Check("GPIO", "ok", f"pin factory {type(factory).__name__}")


def check_spi(device: int, needed: bool, dev_dir: Path = Path("/dev")) -> Check:
    path = dev_dir / f"spidev0.{device}"
    if path.exists():
        return Check("SPI", "ok", f"{path} (MCP3008 knob)")
    return Check("SPI", "missing" if needed else "warn", f"{path} not found: the MCP3008 knob cannot be read",
                 "sudo raspi-config nonint do_spi 0 (or dtparam=spi=on in /boot/firmware/config.txt), then reboot")


def check_groups(needed: bool, groups: list[str] | None = None, uid: int | None = None) -> Check:
    uid = os.getuid() if uid is None else uid
    if uid == 0:
        return Check("groups", "ok", "running as root (the service runs as user melodybox)")
    groups = [grp.getgrgid(g).gr_name for g in os.getgroups()] if groups is None else groups
    absent = [g for g in GROUPS if g not in groups]
    if not absent:
        return Check("groups", "ok", f"member of {', '.join(GROUPS)}")
    return Check("groups", "missing" if needed else "warn", f"not in group(s) {', '.join(absent)}",
                 f"sudo usermod -aG {','.join(absent)} $USER, then log out and in again")


def checks(config: Config, on_pi: bool) -> list[Check]:
    """All checks for ``config`` on this machine."""
    found = [Check("Python", "ok", sys.version.split()[0]), check_runtime(),
             check_model(config.model.path, config.model.runtime)]
    found += check_midi(on_pi)
    found += [c for c in [check_input(config), check_link(config)] if c is not None]
    found.append(check_sound(on_pi=on_pi))
    if not on_pi:  # GPIO, SPI and the service's groups are a Pi's business: a desktop plays with the keyboard
        found.append(Check("controls", "ok", "the keyboard (not a Raspberry Pi: no GPIO knob or button)"))
        return found
    if config.controls.kind != "none":
        found.append(check_gpio(needed=True))
    if config.controls.kind == "mcp3008":
        found.append(check_spi(config.controls.spi_device, needed=True))
    found.append(check_groups(needed=True))
    return found


def report(found: list[Check], on_pi: bool) -> str:
    """The checks as text, one line each plus a fix line where there is something to do."""
    lines = [f"melodybox doctor ({'Raspberry Pi' if on_pi else 'a desktop: GPIO, SPI and groups are not checked'})"]
    for check in found:
        lines.append(f"  {check.status:8} {check.name}: {check.detail}")
        if check.fix and check.status != "ok":
            lines.append(f"           fix: {check.fix}")
    missing = [c.name for c in found if c.status == "missing"]
    lines.append(f"missing: {', '.join(missing)}" if missing else "everything the box needs is here")
    return "\n".join(lines)


def run(args) -> int:
    """Entry point for `melodybox doctor [--config FILE] [--model FILE]`."""
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"  missing  config: {error}")
        return 1
    if args.model:
        config = replace(config, model=replace(config.model, path=str(model_file(args.model))))
    on_pi = on_raspberry_pi()
    found = checks(config, on_pi)
    print(report(found, on_pi))
    return 1 if any(c.status == "missing" for c in found) else 0
