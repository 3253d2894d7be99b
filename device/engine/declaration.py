"""Every musical control of the box, declared once: name, default, range and unit, knob curve, help, keys, CC.

``CONTROLS`` is the one table. Everything a musician turns is made from it: the control state
(engine/controlstate.py), the knob and encoder mapping (controls/gpio.py), the MIDI CC map
(controls/cc.py), the keyboard (controls/keyboard.py), the command-line flags and the TOML keys with
their checks (cli.py, config.py), the status line (status.py) and the network surfaces. A new control
is one entry here and its effect where it acts.

A knob (a potentiometer, an encoder, a CC, a key press) gives a position 0..1, fully counter-clockwise
to fully clockwise; the control's curve turns it into a value and back. Values from text (a flag, OSC,
JSON, TOML) go through ``Control.check`` or ``Control.parse``, which say what is wrong in words a
musician reads, e.g. ``must be 0..1``. The buttons (reset, pause, capture) are one-shot events, declared
in ``BUTTONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from device.core.scales import CHROMATIC, PITCH_CLASSES, SCALES, ScaleError, pitch_class, scale_name
from device.engine.curves import Choices, ControlError, Geometric, Linear, clamp, from_text
from device.engine.dejavu import LOOP_BARS

UNSET = -1  # no knob channel, no CC number
PITCHES = 128  # MIDI pitches 0..127


def percent(value: float) -> str:
    """A 0..1 value as a whole percentage, for the status line."""
    return str(round(value * 100))


@dataclass(frozen=True)
class Control:
    """One musical control.

    ``name``: the control state's field, the TOML key, the flag (``--name-with-dashes``), the OSC address
    (``/melodybox/name``) and the JSON key. ``curve``: the knob's travel and the range a value must lie in.
    ``unit``: what the values are, for people (``0 sparse .. 1 busy``). ``help``: one line a musician
    understands. ``key``: the keyboard letter, lower case turns it down and upper case up ("" none).
    ``cc``: the default MIDI CC number on the input (-1 none). ``pot``: can have a potentiometer of its own
    in ``[knobs]``. ``section``/``toml_key``: where the TOML file sets its value at start. ``label``: its
    mark on the status line; ``show``: its text there, from the whole control state (None: not shown on
    its own, another control shows it); ``legend``: what the mark means, in the status line's legend.
    ``text``: reads a value from text (flags, OSC, TOML strings) and may set other controls too
    (``C:major`` sets the scale and its root); it returns {name: value}. ``metavar``: how ``--help`` names
    its value (default: the range, e.g. ``0-1``).
    """

    name: str
    default: Any
    curve: Linear | Geometric | Choices
    unit: str
    help: str
    key: str = ""
    cc: int = UNSET
    pot: bool = True
    section: str = "music"
    toml_key: str = ""
    label: str = ""
    show: Callable[[Any], str] | None = None
    legend: str = ""
    text: Callable[[str], dict[str, Any]] | None = None
    metavar: str = ""  # how --help names its value (default: its range, e.g. 0-1)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def value_name(self) -> str:
        """How --help names its value: ``metavar``, else the range (``0-1``, ``1,2,4,8``)."""
        return self.metavar or self.curve.range_text.replace(", ", ",")

    @property
    def place(self) -> tuple[str, str]:
        """(section, key) of its value in the TOML file."""
        return self.section, self.toml_key or self.name

    def value(self, position: float) -> Any:
        """The value with its knob at ``position`` (0..1)."""
        return self.curve.value(position)

    def position(self, value: Any) -> float:
        """The knob position (0..1) that gives ``value`` (the middle of a choice's part)."""
        return clamp(self.curve.position(value))

    def check(self, value: Any) -> Any:
        """``value`` if this control can take it (whole numbers are taken for numbers), else ControlError."""
        return self.curve.check(value)

    def parse(self, value: Any) -> dict[str, Any]:
        """{name: value} for ``value`` given as text or as a value (flags, OSC, JSON, TOML); ControlError if
        it cannot be one. Text may set more than this control (``C:major``: the scale and its root)."""
        if isinstance(value, str):
            if self.text is not None:
                return self.text(value)
            value = from_text(value)
        return {self.name: self.check(value)}

    def status(self, state: Any) -> str | None:
        """Its text on the status line for the control state ``state`` (None: another control shows it)."""
        return None if self.show is None else self.label + self.show(state)


@dataclass(frozen=True)
class Button:
    """A one-shot event: ``event`` is the control state's field that says it happened since the last read."""

    name: str
    event: str
    help: str
    keys: tuple[str, ...]
    cc: int


def _scale_text(text: str) -> dict[str, Any]:
    """``C:major`` -> the scale and its root; ``major`` or ``chromatic`` -> the scale alone."""
    root, colon, name = text.partition(":")
    try:
        if not colon:
            return {"scale": scale_name(root)}
        return {"scale": scale_name(name), "scale_root": pitch_class(root)}
    except ScaleError as error:
        raise ControlError(f"{error} (a scale is NAME or ROOT:NAME, e.g. C:major)") from None


def _root_text(text: str) -> dict[str, Any]:
    """``F#`` or ``6`` -> the scale root's pitch class."""
    number = from_text(text)
    if isinstance(number, int):
        return {"scale_root": ROOT.check(number)}
    try:
        return {"scale_root": pitch_class(text)}
    except ScaleError as error:
        raise ControlError(str(error)) from None


def _harmony_text(text: str) -> dict[str, Any]:
    """``0.8`` -> how strongly the melody keeps to the chords; ``off`` -> 0 (the chords are ignored)."""
    word = text.strip().lower()
    if word == "off":
        return {"harmony": 0.0}
    if word == "follow":
        raise ControlError("follow is where the chords come from, not how strongly they are kept to: "
                           "--harmony follow on the command line, harmony.follow = true in box.toml")
    return {"harmony": BY_NAME["harmony"].check(from_text(text))}


def _show_scale(state: Any) -> str:
    return "off" if state.scale == CHROMATIC else f"{PITCH_CLASSES[state.scale_root]}:{state.scale}"


SCALE_NAMES = (CHROMATIC, *(name for name in SCALES if name != CHROMATIC))  # a scale knob: off fully left
# The temperature knob's ends, unless [temperature] says: fully left 0 plays greedy (the likeliest token every step)
TEMPERATURE_LOW, TEMPERATURE_HIGH = 0.0, 3.0

ROOT = Control("scale_root", 0, Choices(tuple(range(12))), "C=0, C#=1 .. B=11",
               "the scale's root note: C, C#, D, ... B (or 0..11)", key="n", text=_root_text,
               metavar="NOTE")
CONTROLS: tuple[Control, ...] = (
    Control("temperature", 1.0, Geometric(TEMPERATURE_LOW, TEMPERATURE_HIGH), "0 greedy .. 1 as trained .. wild",
            "randomness: 0 plays the likeliest note every step, 1 as the model learned, high wild", key="t", cc=16,
            pot=False, section="temperature", toml_key="initial", label="T", show=lambda s: f"{s.temperature:.2f}",
            legend="temperature"),
    Control("density", 0.5, Linear(0, 1), "0 sparse .. 0.5 as the model says .. 1 busy",
            "how often a new note starts: 0 sparse, 0.5 as the model says, 1 a new note on every 16th", key="d",
            cc=17, label="D", show=lambda s: percent(s.density), legend="density %"),
    Control("deja_vu", 0.0, Linear(0, 1), "0 always new .. 1 repeat exactly",
            "0 always new .. 1 repeat the loop of the last --loop-bars bars exactly", key="v", cc=18, label="V",
            show=lambda s: f"{percent(s.deja_vu)}/{s.loop_bars}", legend="deja-vu %/loop bars"),
    Control("loop_bars", 2, Choices(LOOP_BARS), "bars", "the deja-vu loop's length in bars: 1, 2, 4 or 8",
            key="l"),
    Control("scale", CHROMATIC, Choices(SCALE_NAMES), "chromatic = off, or " + ", ".join(SCALE_NAMES[1:]),
            "scale lock: NAME or ROOT:NAME, e.g. C:major, A:minor_pentatonic, F#:dorian; chromatic = off",
            key="k", show=_show_scale, legend="scale (off: chromatic)", text=_scale_text, metavar="ROOT:NAME"),
    ROOT,
    Control("strictness", 1.0, Linear(0, 1), "0 free .. 1 only in-scale",
            "scale lock: 0 free .. 1 only the scale's pitches", key="s", cc=19, label="S",
            show=lambda s: percent(s.strictness), legend="strictness %"),
    Control("register_centre", 64, Linear(0, PITCHES - 1, whole=True), "MIDI pitch",
            "the register's centre, a MIDI pitch (60 = middle C)", key="o", cc=20, label="R",
            show=lambda s: f"{s.register_centre}/{s.register_width}", legend="register centre/width"),
    Control("register_width", PITCHES, Linear(0, PITCHES, whole=True), "semitones, 128 = every pitch",
            "semitones from the register's lowest to its highest pitch; 128 = every pitch", key="w", cc=21),
    Control("gate", 1.0, Linear(0, 1), "0 staccato .. 1 legato",
            "share of a note's last 16th that sounds: 1 legato .. 0 staccato (one pulse)", key="g", cc=22,
            label="G", show=lambda s: percent(s.gate), legend="gate %"),
    Control("accent", 0.0, Linear(0, 1), "0 even .. 1 strong beats loudest",
            "0 every note at the MIDI velocity .. 1 strong beats louder, off-beat 16ths softer", key="a", cc=23,
            label="A", show=lambda s: percent(s.accent), legend="accent %"),
    Control("humanise", 0.0, Linear(0, 1), "0 exact .. 1 up to +-12 velocity",
            "0 exact velocities .. 1 up to +-12 at random (seeded by --seed)", key="h", label="H",
            show=lambda s: percent(s.humanise), legend="humanise %"),
    Control("swing", 0.0, Linear(0, 1), "0 straight .. 1 every second 16th half a 16th late",
            "how late every second 16th plays, as on an MPC: 0 straight, 0.5 a triplet feel, 1 half a 16th late",
            key="f", label="SW", show=lambda s: percent(s.swing), legend="swing %"),
    Control("harmony", 0.85, Linear(0, 1), "0 ignores the chords .. 1 only chord tones on the beat",
            "how closely the melody keeps to the chords (--chords; or follow: those held on the MIDI input): chord "
            "tones on the beat, between them the key's (the chord's first); 0 or off ignores the chords, 1 allows "
            "nothing else", key="m",
            label="HA", show=lambda s: percent(s.harmony), legend="harmony %", text=_harmony_text,
            metavar="0-1/off/follow"),
)
BUTTONS: tuple[Button, ...] = (
    Button("reset", "reset", "start a new melody from the primed state", (" ", "r"), 32),
    Button("pause", "pause_toggle", "pause or resume (the transport runs on)", ("p",), 33),
    Button("capture", "capture", "write the last bars to a MIDI file", ("c",), 34),
)
BY_NAME: dict[str, Control] = {control.name: control for control in CONTROLS}
DEFAULTS: dict[str, Any] = {control.name: control.default for control in CONTROLS}


def with_temperature_range(low: float, high: float) -> dict[str, Control]:
    """The controls by name, the temperature knob's ends set to ``low`` and ``high`` (0 <= low < 1 < high; low 0:
    the knob fully left plays greedy)."""
    return BY_NAME | {"temperature": replace(BY_NAME["temperature"], curve=Geometric(low, high))}


@dataclass(frozen=True)
class Shorthand:
    """One flag that sets two controls at once: ``--register 72:12`` is centre 72, width 12."""

    flag: str
    metavar: str
    controls: tuple[str, ...]
    help: str
    example: str
    separator: str = ":"

    def parse(self, text: str) -> dict[str, Any]:
        parts = text.split(self.separator)
        if len(parts) != len(self.controls):
            raise ControlError(f"{text!r} is not {self.metavar}, e.g. {self.example}")
        values = {}
        for name, part in zip(self.controls, parts, strict=True):
            values |= BY_NAME[name].parse(part)
        return values


SHORTHANDS = (Shorthand("--register", "CENTRE:WIDTH", ("register_centre", "register_width"),
                        "keep pitches within WIDTH semitones around the MIDI pitch CENTRE, e.g. 72:12 (default: all)",
                        "72:12"),)
