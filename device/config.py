"""The box's configuration: a TOML file read into frozen dataclasses.

Every key is optional; a missing key keeps the default below. Unknown keys and
bad values raise ConfigError naming the file and the key, e.g.
``box.toml: midi.channel = 17: must be 1..16``. Command-line flags override the
file with ``dataclasses.replace`` (see device/cli.py). Relative paths in a file
are taken relative to the file's folder; the defaults are relative to the
working directory. The shipped example is device/pi/box.toml.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from device.core.features import MAX_BAR_STEPS
from device.core.scales import ScaleError, parse_scale
from device.core.timegrid import DEFAULT_BAR_STEPS
from device.engine import controlstate as neutral
from device.engine.dejavu import LOOP_BARS
from device.engine.guard import GuardSettings
from device.engine.sampling import DEFAULT_TAIL_CUT

CONTROL_KINDS = ("mcp3008", "encoder", "none")
DEFAULT_VIRTUAL = "Melody Box"  # the virtual output opened when no MIDI device is plugged in
DEFAULT_VIRTUAL_INPUT = "Melody Box In"  # the virtual input opened to follow a clock when no input is configured
DEFAULT_MIDI_FILE = "melodybox-YYYYmmdd-HHMMSS.mid"  # the name pattern when there is no port and no sound
RUNTIME_NAMES = ("", "ai-edge-litert", "tflite-runtime")
# The model shipped with the box, found from any folder: models/ beside the device package (a checkout or an
# editable install). The Pi install copies it elsewhere and says so in its box.toml.
SHIPPED_MODEL = str(Path(__file__).resolve().parents[1] / "models" / "default.tflite")


class ConfigError(ValueError):
    """The configuration file is missing, not TOML, or holds an unknown key or a bad value."""


@dataclass(frozen=True)
class MidiConfig:
    """Where the notes go: one of port (a fragment of an output port's name), virtual (a new port
    with this name) or midi_file (a .mid written as it plays); all empty: chosen at start."""

    port: str = ""
    virtual: str = ""
    midi_file: str = ""
    channel: int = 1  # 1..16, as printed on synths
    velocity: int = 100  # 1..127
    input: str = ""  # a fragment of an input port's name (a drum machine's clock, a keyboard); "" none
    virtual_input: str = ""  # or: open a virtual input with this name for other programs to play into
    input_channel: int = 0  # 1..16, or 0 = omni (every channel)


@dataclass(frozen=True)
class TempoConfig:
    bpm: float = 120.0  # quarter notes per minute, 20..400


CLOCK_MODES = ("internal", "lead", "follow", "link")
CLOCK_LOSS = ("stop", "continue")


@dataclass(frozen=True)
class ClockConfig:
    """Where the tempo comes from: the box's own clock (internal), the same and MIDI clock sent on the
    output (lead), MIDI clock arriving at the input (follow), or an Ableton Link session (link: needs
    the aalink package). ``on_clock_loss``: what follow does when
    pulses stop for 0.5 s while running: stop (silence, wait) or continue (free-run at the last tempo)."""

    mode: str = "internal"
    on_clock_loss: str = "stop"


PLAY_MODES = ("solo", "answer")


@dataclass(frozen=True)
class PlayConfig:
    """What the box plays: on its own (solo), or answers a player's call on the MIDI input (answer; see
    device/play/answer.py). The call ends after ``call_end_bars`` bars of silence or at ``max_call_bars`` bars,
    which also bounds the answer; ``thru`` echoes the player's notes to the output (answer mode)."""

    mode: str = "solo"
    call_end_bars: int = 1
    max_call_bars: int = 8
    thru: bool = False


@dataclass(frozen=True)
class ModelConfig:
    path: str = SHIPPED_MODEL  # the .tflite; its .json contract sits beside it
    runtime: str = ""  # "" picks the first installed of ai-edge-litert, tflite-runtime
    num_threads: int = 1


@dataclass(frozen=True)
class PrimerConfig:
    """Tokens fed to the model after a reset, before it plays: a list, or the first steps of a MIDI file."""

    tokens: tuple[int, ...] = ()
    midi_file: str = ""
    max_steps: int = 64  # steps read from midi_file


@dataclass(frozen=True)
class TemperatureConfig:
    """The knob maps 0..1 to low..high (1.0 in the middle); the box starts at ``initial``."""

    low: float = 0.05
    high: float = 3.0
    initial: float = 1.0
    tail_cut: float = DEFAULT_TAIL_CUT  # a choice under this share of the likeliest one's chance never plays


@dataclass(frozen=True)
class ControlsConfig:
    """GPIO controls; pin numbers are BCM (GPIO) numbers, as in docs/wiring.png."""

    kind: str = "mcp3008"  # "mcp3008" (potentiometer on an ADC), "encoder" (rotary encoder) or "none"
    button_pin: int = 17
    led_pin: int = 27
    encoder_a_pin: int = 5
    encoder_b_pin: int = 6
    encoder_steps: int = 24  # encoder detents from lowest to highest temperature
    adc_channel: int = 0  # MCP3008 input CH0..CH7
    spi_device: int = 0  # SPI0 chip select: 0 = CE0 (GPIO8), 1 = CE1 (GPIO7)
    hold_time: float = 1.0  # seconds: a press held this long pauses/resumes instead of resetting
    hysteresis: float = 0.02  # knob travel (0..1) a reading must move before the temperature follows
    capture_pin: int = -1  # an optional second button (to GND) that captures the last bars; -1: none
    long_press: str = "pause"  # what holding the button for hold_time does: "pause" (pause/resume) or "capture"


LONG_PRESS = ("pause", "capture")
UNSET = -1  # a knob channel, CC number or pin that is not connected


@dataclass(frozen=True)
class KnobsConfig:
    """More potentiometers on the MCP3008 (device/controls/knobs.py says what each knob's travel means): the input
    CH0..CH7 each control's wiper is on, -1 for none. The temperature knob is controls.adc_channel."""

    density: int = UNSET
    deja_vu: int = UNSET
    strictness: int = UNSET
    register_centre: int = UNSET
    register_width: int = UNSET
    gate: int = UNSET
    accent: int = UNSET
    humanise: int = UNSET
    loop_bars: int = UNSET
    scale: int = UNSET
    scale_root: int = UNSET


@dataclass(frozen=True)
class CcConfig:
    """MIDI CC numbers (0..119; -1 none) on the MIDI input (midi.input) for each control. The defaults are
    a Korg nanoKONTROL2 in CC mode: knobs 1-8 send CC 16-23 (general purpose / undefined in the MIDI spec,
    so no synth parameter moves with them) and the first three Solo buttons CC 32-34. Buttons act when
    the value crosses 64 upwards. ``root_from_notes``: the last note played on the input sets the scale root."""

    temperature: int = 16
    density: int = 17
    deja_vu: int = 18
    strictness: int = 19
    register_centre: int = 20
    register_width: int = 21
    gate: int = 22
    accent: int = 23
    humanise: int = UNSET
    loop_bars: int = UNSET
    scale: int = UNSET
    scale_root: int = UNSET
    reset: int = 32
    pause: int = 33
    capture: int = 34
    root_from_notes: bool = False


@dataclass(frozen=True)
class CaptureConfig:
    """Capture (device/play/capture.py): the last ``bars`` bars written as a MIDI file in ``folder``."""

    folder: str = "captures"  # relative to the working directory (the config file's folder in a file)
    bars: int = 4  # 1..64


@dataclass(frozen=True)
class MusicConfig:
    """The musical controls at start (controls may change them while playing); the defaults are "off".
    See the README's "Controls" and device/engine/sampling.py, device/engine/generator.py."""

    scale: str = neutral.DEFAULT_SCALE  # "chromatic" (no lock) or ROOT:NAME, e.g. "C:major", "F#:dorian"
    strictness: float = neutral.DEFAULT_STRICTNESS  # 0 free .. 1 only in-scale pitches
    deja_vu: float = neutral.DEFAULT_DEJA_VU  # 0 always new .. 1 the loop repeats exactly
    loop_bars: int = neutral.DEFAULT_LOOP_BARS  # 1, 2, 4 or 8
    density: float = neutral.DEFAULT_DENSITY  # 0 sparse .. 0.5 as the model says .. 1 busy
    register_centre: int = neutral.DEFAULT_REGISTER_CENTRE  # MIDI pitch
    register_width: int = neutral.DEFAULT_REGISTER_WIDTH  # semitones, lowest to highest pitch (128: all)
    gate: float = neutral.DEFAULT_GATE  # 0 staccato (one pulse of the last 16th) .. 1 legato
    accent: float = neutral.DEFAULT_ACCENT  # 0 every note at midi.velocity .. 1 strong beats loudest
    humanise: float = neutral.DEFAULT_HUMANISE  # 0 exact .. 1 velocities vary at random (seeded)
    bar_steps: int = DEFAULT_BAR_STEPS  # 16th steps per bar: 16 for 4/4, 12 for 3/4

    def control_values(self) -> dict[str, Any]:
        """These values as ControlState fields: ``dataclasses.replace(state, **music.control_values())``."""
        root, name = parse_scale(self.scale)
        return {"scale": name, "scale_root": root, "strictness": self.strictness, "deja_vu": self.deja_vu,
                "loop_bars": self.loop_bars, "density": self.density, "register_centre": self.register_centre,
                "register_width": self.register_width, "gate": self.gate, "accent": self.accent,
                "humanise": self.humanise}


@dataclass(frozen=True)
class Config:
    midi: MidiConfig = field(default_factory=MidiConfig)
    tempo: TempoConfig = field(default_factory=TempoConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    primer: PrimerConfig = field(default_factory=PrimerConfig)
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    controls: ControlsConfig = field(default_factory=ControlsConfig)
    music: MusicConfig = field(default_factory=MusicConfig)
    play: PlayConfig = field(default_factory=PlayConfig)
    guard: GuardSettings = field(default_factory=GuardSettings)
    knobs: KnobsConfig = field(default_factory=KnobsConfig)
    cc: CcConfig = field(default_factory=CcConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)


SECTIONS = {f.name: f.default_factory for f in fields(Config)}
PATH_KEYS = {("midi", "midi_file"), ("model", "path"), ("primer", "midi_file"), ("capture", "folder")}


def load_config(path: str | Path | None) -> Config:
    """Read a TOML file into a checked Config; ``None`` gives the defaults."""
    if path is None:
        return check(Config(), "defaults")
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not readable ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return from_dict(data, source=path.name, base=path.parent)


def from_dict(data: dict[str, Any], source: str = "config", base: Path | None = None) -> Config:
    """Build a checked Config from parsed TOML; ``source`` names it in errors."""
    sections = {}
    for name, values in data.items():
        if name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: {name} must be a [{name}] table")
        sections[name] = _section(SECTIONS[name](), name, values, source, base)
    return check(Config(**sections), source)


def _section(default: Any, name: str, values: dict[str, Any], source: str, base: Path | None) -> Any:
    known = {f.name: f for f in fields(default)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{source}: unknown key {name}.{key} (known: {', '.join(known)})")
        changes[key] = _typed(value, getattr(default, key), f"{source}: {name}.{key} = {value!r}")
        if (name, key) in PATH_KEYS and changes[key] and base is not None:
            changes[key] = str(base / changes[key])
    return replace(default, **changes)


TYPE_NAMES = {int: "a whole number", float: "a number", str: "text in quotes", bool: "true or false",
              tuple: "a list of whole numbers"}


def _typed(value: Any, default: Any, where: str) -> Any:
    """Check ``value`` has the type of ``default`` (ints are accepted for floats)."""
    if isinstance(default, bool) != isinstance(value, bool):
        raise ConfigError(f"{where}: must be {TYPE_NAMES[type(default)]}")
    if isinstance(default, bool):
        return value
    if isinstance(default, float) and isinstance(value, int | float):
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: must be a list of integers")
        return tuple(value)
    if not isinstance(value, type(default)):
        raise ConfigError(f"{where}: must be {TYPE_NAMES[type(default)]}")
    return value


def check(config: Config, source: str = "config") -> Config:
    """Check value ranges; raise ConfigError naming the first bad key. Returns ``config``."""
    m, t, c, p, g = config.midi, config.temperature, config.controls, config.primer, config.guard
    rules = [
        ("guard.rest_bars", g.rest_bars, 0 <= g.rest_bars <= 64, "must be 0 (off)..64 bars"),
        ("guard.one_pitch_bars", g.one_pitch_bars, 0 <= g.one_pitch_bars <= 64, "must be 0 (off)..64 bars"),
        ("guard.cycle_bars", g.cycle_bars, 0 <= g.cycle_bars <= 64, "must be 0 (off)..64 bars"),
        ("guard.max_cycle_steps", g.max_cycle_steps, 1 <= g.max_cycle_steps <= 64, "must be 1..64 steps"),
        ("guard.reset_minutes", g.reset_minutes, 0 <= g.reset_minutes <= 7 * 24 * 60,
         "must be 0 (never)..10080 minutes"),
        ("midi.channel", m.channel, 1 <= m.channel <= 16, "must be 1..16"),
        ("midi.velocity", m.velocity, 1 <= m.velocity <= 127, "must be 1..127"),
        ("midi", [m.port, m.virtual, m.midi_file], sum(map(bool, [m.port, m.virtual, m.midi_file])) <= 1,
         "choose at most one of port, virtual, midi_file"),
        ("midi.input_channel", m.input_channel, 0 <= m.input_channel <= 16, "must be 1..16, or 0 for omni"),
        ("midi", [m.input, m.virtual_input], not (m.input and m.virtual_input),
         "choose at most one of input, virtual_input"),
        ("clock.mode", config.clock.mode, config.clock.mode in CLOCK_MODES,
         f"must be one of {', '.join(repr(c) for c in CLOCK_MODES)}"),
        ("play.mode", config.play.mode, config.play.mode in PLAY_MODES,
         f"must be one of {', '.join(repr(m) for m in PLAY_MODES)}"),
        ("play.call_end_bars", config.play.call_end_bars, 1 <= config.play.call_end_bars <= 16, "must be 1..16 bars"),
        ("play.max_call_bars", config.play.max_call_bars, 1 <= config.play.max_call_bars <= 32, "must be 1..32 bars"),
        ("play.thru", config.play.thru, config.play.mode == "answer" or not config.play.thru,
         'echoes the player in answer mode only (play.mode = "answer")'),
        ("clock.on_clock_loss", config.clock.on_clock_loss, config.clock.on_clock_loss in CLOCK_LOSS,
         f"must be one of {', '.join(repr(c) for c in CLOCK_LOSS)}"),
        ("tempo.bpm", config.tempo.bpm, 20 <= config.tempo.bpm <= 400, "must be 20..400"),
        ("model.runtime", config.model.runtime, config.model.runtime in RUNTIME_NAMES,
         f"must be one of {', '.join(repr(r) for r in RUNTIME_NAMES)}"),
        ("model.num_threads", config.model.num_threads, 1 <= config.model.num_threads <= 16, "must be 1..16"),
        ("primer.tokens", list(p.tokens), all(0 <= v < 130 for v in p.tokens), "tokens must be 0..129"),
        ("primer.max_steps", p.max_steps, 1 <= p.max_steps <= 4096, "must be 1..4096"),
        ("temperature.low", t.low, 0 < t.low < 1, "must be between 0 and 1"),
        ("temperature.high", t.high, 1 < t.high <= 10, "must be above 1 and at most 10"),
        ("temperature.initial", t.initial, t.low <= t.initial <= t.high, f"must be {t.low}..{t.high} (low..high)"),
        ("temperature.tail_cut", t.tail_cut, 0 <= t.tail_cut <= 0.5, "must be 0..0.5"),
        ("controls.kind", c.kind, c.kind in CONTROL_KINDS, f"must be one of {', '.join(CONTROL_KINDS)}"),
        ("controls.adc_channel", c.adc_channel, 0 <= c.adc_channel <= 7, "must be 0..7"),
        ("controls.spi_device", c.spi_device, c.spi_device in (0, 1), "must be 0 (CE0) or 1 (CE1)"),
        ("controls.hold_time", c.hold_time, 0.2 <= c.hold_time <= 10, "must be 0.2..10 seconds"),
        ("controls.hysteresis", c.hysteresis, 0 <= c.hysteresis < 0.5, "must be 0..0.5"),
        ("controls.encoder_steps", c.encoder_steps, 2 <= c.encoder_steps <= 1000, "must be 2..1000"),
    ]
    for key in ("button_pin", "led_pin", "encoder_a_pin", "encoder_b_pin"):
        value = getattr(c, key)
        rules.append((f"controls.{key}", value, 0 <= value <= 27, "must be a BCM GPIO number 0..27"))
    rules += [
        ("controls.capture_pin", c.capture_pin, c.capture_pin == UNSET or 0 <= c.capture_pin <= 27,
         "must be a BCM GPIO number 0..27, or -1 for none"),
        ("controls.long_press", c.long_press, c.long_press in LONG_PRESS,
         f"must be one of {', '.join(repr(v) for v in LONG_PRESS)}"),
        ("capture.bars", config.capture.bars, 1 <= config.capture.bars <= 64, "must be 1..64 bars"),
        ("capture.folder", config.capture.folder, bool(config.capture.folder), "must name a folder"),
    ]
    rules += [(f"knobs.{f.name}", getattr(config.knobs, f.name), getattr(config.knobs, f.name) in range(-1, 8),
               "must be an MCP3008 channel 0..7, or -1 for none") for f in fields(KnobsConfig)]
    rules += [(f"cc.{f.name}", getattr(config.cc, f.name), getattr(config.cc, f.name) in range(-1, 120),
               "must be a CC number 0..119, or -1 for none") for f in fields(CcConfig) if f.name != "root_from_notes"]
    if m.midi_file:  # checked before anything plays: a recording must not be lost when it is saved at the end
        folder = Path(m.midi_file).parent
        rules.append(("midi.midi_file", m.midi_file, folder.is_dir(), f"the folder {str(folder)!r} does not exist"))
    for key, value, ok, message in rules:
        if not ok:
            raise ConfigError(f"{source}: {key} = {value!r}: {message}")
    _check_pins(c, source, any(getattr(config.knobs, f.name) != UNSET for f in fields(KnobsConfig)))
    _check_music(config.music, source)
    _check_shared(config, source)
    return config


def _check_pins(c: ControlsConfig, source: str, more_knobs: bool = False) -> None:
    """Two functions on one GPIO would fight; the MCP3008 (a pot, or ``more_knobs`` on [knobs]) takes SPI0's pins."""
    used = {}
    if c.kind == "mcp3008" or more_knobs:
        used |= {"SPI0 SCLK": 11, "SPI0 MOSI": 10, "SPI0 MISO": 9, f"SPI0 CE{c.spi_device}": 8 - c.spi_device}
    used |= {"controls.button_pin": c.button_pin, "controls.led_pin": c.led_pin}
    if c.capture_pin != UNSET:
        used["controls.capture_pin"] = c.capture_pin
    if c.kind == "encoder":
        used |= {"controls.encoder_a_pin": c.encoder_a_pin, "controls.encoder_b_pin": c.encoder_b_pin}
    seen: dict[int, str] = {}
    for key, pin in used.items():
        if pin in seen:
            raise ConfigError(f"{source}: {key} = {pin}: GPIO{pin} is already used by {seen[pin]}")
        seen[pin] = key


def _check_shared(config: Config, source: str) -> None:
    """Two controls on one MCP3008 channel, or on one CC number, would move together."""
    knobs = {"controls.adc_channel": config.controls.adc_channel} if config.controls.kind == "mcp3008" else {}
    knobs |= {f"knobs.{f.name}": getattr(config.knobs, f.name) for f in fields(KnobsConfig)}
    ccs = {f"cc.{f.name}": getattr(config.cc, f.name) for f in fields(CcConfig) if f.name != "root_from_notes"}
    for used, what in ((knobs, "channel"), (ccs, "CC")):
        seen: dict[int, str] = {}
        for key, number in used.items():
            if number == UNSET:
                continue
            if number in seen:
                raise ConfigError(f"{source}: {key} = {number}: {what} {number} is already used by {seen[number]}")
            seen[number] = key


def _check_music(music: MusicConfig, source: str) -> None:
    """The musical controls' ranges (see MusicConfig)."""
    try:
        parse_scale(music.scale)
    except ScaleError as error:
        raise ConfigError(f"{source}: music.scale = {music.scale!r}: {str(error).partition(': ')[2]}") from None
    rules = [
        ("strictness", 0 <= music.strictness <= 1, "must be 0..1"),
        ("deja_vu", 0 <= music.deja_vu <= 1, "must be 0..1"),
        ("loop_bars", music.loop_bars in LOOP_BARS, f"must be one of {', '.join(map(str, LOOP_BARS))}"),
        ("density", 0 <= music.density <= 1, "must be 0..1"),
        ("register_centre", 0 <= music.register_centre <= 127, "must be a MIDI pitch 0..127"),
        ("register_width", 0 <= music.register_width <= 128, "must be 0..128 semitones"),
        ("gate", 0 <= music.gate <= 1, "must be 0..1"),
        ("accent", 0 <= music.accent <= 1, "must be 0..1"),
        ("humanise", 0 <= music.humanise <= 1, "must be 0..1"),
        ("bar_steps", 1 <= music.bar_steps <= MAX_BAR_STEPS, f"must be 1..{MAX_BAR_STEPS} steps"),
    ]
    for key, ok, message in rules:
        if not ok:
            raise ConfigError(f"{source}: music.{key} = {getattr(music, key)!r}: {message}")
