"""The box's configuration: a TOML file read into the settings (device/settings.py), every value checked.

Every key is optional; a missing key keeps the default. Unknown keys and bad values raise
ConfigError naming the file and the key, e.g. ``box.toml: midi.channel = 17: must be 1..16``.
The musical controls' keys and checks come from the control declaration (engine/declaration.py):
each control's value is read and checked by the control itself, and text such as
``scale = "C:major"`` may set two controls (the scale and its root). Command-line flags override the
file (device/cli.py). Relative paths in a file are taken relative to the file's folder; the
defaults are relative to the working directory. The shipped example is device/pi/box.toml.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from device.controls.cc import CcConfig
from device.controls.gpio import CONTROL_KINDS, LONG_PRESS, ControlsConfig, KnobsConfig
from device.core.chords import ChordError, parse_progression
from device.core.features import MAX_BAR_STEPS
from device.engine.controlstate import ControlState
from device.engine.declaration import CONTROLS, UNSET, Control, ControlError, with_temperature_range
from device.net.address import AddressError, listen_address, send_address
from device.net.auth import TokenError, check_token
from device.settings import (
    CLOCK_LOSS,
    CLOCK_MODES,
    PATH_KEYS,
    PLAY_MODES,
    RUNTIME_NAMES,
    SECTIONS,
    Config,
)

PLACES = {control.place: control for control in CONTROLS}  # (section, key) -> the control set there


class ConfigError(ValueError):
    """The configuration file is missing, not TOML, or holds an unknown key or a bad value."""


def controls_table(config: Config) -> dict[str, Control]:
    """The declared controls by name, the temperature knob's ends from ``[temperature]``."""
    return with_temperature_range(config.temperature.low, config.temperature.high)


def control_values(config: Config) -> dict[str, Any]:
    """Every declared control's value at start, by name, from its place in the config."""
    return {control.name: getattr(getattr(config, control.place[0]), control.place[1]) for control in CONTROLS}


def start_state(config: Config) -> ControlState:
    """The control state the box starts from: the configured values, no events."""
    return ControlState(**control_values(config))


def with_controls(config: Config, values: dict[str, Any]) -> Config:
    """``config`` with the controls named in ``values`` set at their places (values already checked)."""
    changes: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        section, key = next(control.place for control in CONTROLS if control.name == name)
        changes.setdefault(section, {})[key] = value
    return replace(config, **{section: replace(getattr(config, section), **keys) for section, keys in changes.items()})


def with_harmony(config: Config, chords: str | None = None, follow: bool = False, channel: int | None = None,
                 input_folder: str | None = None) -> Config:
    """``config`` with the command line's --chords (a progression, read now), --harmony follow, --harmony-channel
    and --record-input. Chords given or followed there replace the file's other source; both: ConfigError."""
    harmony, capture = config.harmony, config.capture
    if follow and chords is not None:
        raise ConfigError(f"--chords {chords!r} and --harmony follow: choose one (the chords given, or heard)")
    if chords is not None:
        try:
            parse_progression(chords)
        except ChordError as error:
            raise ConfigError(f"--chords {chords!r}: {error}") from None
    if follow or chords is not None:
        harmony = replace(harmony, chords=chords or "", follow=follow)
    if channel is not None:
        harmony = replace(harmony, channel=channel)
    if input_folder:
        capture = replace(capture, input_folder=input_folder)
    return replace(config, harmony=harmony, capture=capture)


def load_config(path: str | Path | None) -> Config:
    """Read a TOML file into a checked Config; ``None`` gives the defaults."""
    if path is None:
        return check(Config(), "defaults")
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not readable ({error})") from None
    return from_toml(text, path)


def from_toml(text: str, path: Path) -> Config:
    """TOML ``text`` read and checked as if it were the file at ``path`` (its name in errors, its folder for paths)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return from_dict(data, source=path.name, base=path.parent)


def changed_keys(old: Config, new: Config) -> list[tuple[str, str]]:
    """(section, key) of every value that differs between two configurations, in the sections' order."""
    return [(section.name, key.name) for section in fields(Config) for key in fields(getattr(old, section.name))
            if getattr(getattr(old, section.name), key.name) != getattr(getattr(new, section.name), key.name)]


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
    changes: dict[str, Any] = {}
    set_by: dict[str, str] = {}  # key -> the key whose value set it (a scale's text sets its root too)
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{source}: unknown key {name}.{key} (known: {', '.join(known)})")
        where = f"{source}: {name}.{key} = {value!r}"
        if (name, key) in PLACES and isinstance(value, str) and PLACES[name, key].text is not None:
            try:
                parsed = PLACES[name, key].parse(value)
            except ControlError as error:
                raise ConfigError(f"{where}: {error}") from None
            for control_name, control_value in parsed.items():
                field = next(c.place[1] for c in CONTROLS if c.name == control_name)
                if field in changes and changes[field] != control_value:
                    raise ConfigError(f"{where}: {name}.{set_by[field]} already sets {field} to {changes[field]!r}")
                changes[field], set_by[field] = control_value, key
            continue
        changes[key] = _typed(value, getattr(default, key), where)
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
        ("temperature.low", t.low, 0 <= t.low < 1, "must be 0 (greedy) or more, and below 1"),
        ("temperature.high", t.high, 1 < t.high <= 10, "must be above 1 and at most 10"),
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
    _check_harmony(config, source)
    _check_pins(c, source, any(getattr(config.knobs, f.name) != UNSET for f in fields(KnobsConfig)))
    _check_controls(config, source)
    _check_shared(config, source)
    _check_network(config, source)
    return config


def _check_network(config: Config, source: str) -> None:
    """[web] and [osc]: addresses to listen on and send to, and a token a header can carry."""
    checks = [("web.listen", config.web.listen, listen_address), ("osc.listen", config.osc.listen, listen_address),
              ("osc.send", config.osc.send, send_address), ("web.token", config.web.token, check_token)]
    for key, value, read in checks:
        if value:
            try:
                read(value)
            except (AddressError, TokenError) as error:
                shown = "(hidden)" if key == "web.token" else repr(value)
                raise ConfigError(f"{source}: {key} = {shown}: {error}") from None


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


def _check_controls(config: Config, source: str) -> None:
    """Every declared control's value at start, checked by the control (the temperature within low..high)."""
    table = controls_table(config)
    for control in CONTROLS:
        section, key = control.place
        value = getattr(getattr(config, section), key)
        try:
            table[control.name].check(value)
        except ControlError as error:
            raise ConfigError(f"{source}: {section}.{key} = {value!r}: {error}") from None
    bar_steps = config.music.bar_steps
    if not 1 <= bar_steps <= MAX_BAR_STEPS:
        raise ConfigError(f"{source}: music.bar_steps = {bar_steps!r}: must be 1..{MAX_BAR_STEPS} steps")


def _check_harmony(config: Config, source: str) -> None:
    """[harmony]: a progression that reads, one source of chords, a channel the input hears; the takes' bars."""
    h, input_channel = config.harmony, config.midi.input_channel
    rules = [
        ("harmony", [h.chords, h.follow], not (h.chords and h.follow), "choose one of chords and follow"),
        ("harmony.channel", h.channel, 0 <= h.channel <= 16, "must be 1..16, or 0 for every channel"),
        ("harmony.channel", h.channel, h.channel in (0, input_channel) or input_channel == 0,
         f"the input hears only midi.input_channel = {input_channel}: make that 0 (every channel)"),
        ("capture.take_end_bars", config.capture.take_end_bars, 1 <= config.capture.take_end_bars <= 16,
         "must be 1..16 bars"),
    ]
    for key, value, ok, message in rules:
        if not ok:
            raise ConfigError(f"{source}: {key} = {value!r}: {message}")
    if h.chords:
        try:
            parse_progression(h.chords)
        except ChordError as error:
            raise ConfigError(f"{source}: harmony.chords = {h.chords!r}: {error}") from None
