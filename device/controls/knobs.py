"""What a knob position (0..1) means for each control: one mapping for pots, encoders, MIDI CC and keys.

Every control the musician turns is a field of ControlState. A potentiometer on the
MCP3008 (device/controls/gpio.py), a CC on the MIDI input (device/controls/cc.py) and the desktop
keys (device/controls/keyboard.py) all give a position 0..1 (fully counter-clockwise .. fully
clockwise); ``value`` turns it into the field's value, ``position`` is its inverse (for
encoders and keys that start from the configured value). Buttons are not knobs: the
events (reset, pause, capture) are in ``BUTTONS``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from device.config import TemperatureConfig
from device.core.scales import CHROMATIC, SCALES
from device.engine.controlstate import ControlState
from device.engine.dejavu import LOOP_BARS
from device.engine.sampling import temperature_from_knob

# The knobs, in the order the status line and the docs list them.
KNOBS = ("temperature", "density", "deja_vu", "strictness", "register_centre", "register_width", "gate", "accent",
         "humanise", "loop_bars", "scale", "scale_root")
BUTTONS = ("reset", "pause", "capture")  # one-shot events (ControlState reset, pause_toggle, capture)
SCALE_NAMES = (CHROMATIC, *(name for name in SCALES if name != CHROMATIC))  # a scale knob: off fully left
PITCHES = 128  # MIDI pitches: the register centre knob covers 0..127, the width knob 0..128 semitones
UNIT = ("density", "deja_vu", "strictness", "gate", "accent", "humanise")  # 0..1 as turned


def _choice(position: float, count: int) -> int:
    """The index (0..count-1) a position 0..1 falls on, the travel split in ``count`` equal parts."""
    return min(count - 1, max(0, int(position * count)))


def value(name: str, position: float, temperature: TemperatureConfig) -> Any:
    """The value of control ``name`` (a ControlState field) with its knob at ``position`` (0..1)."""
    position = min(1.0, max(0.0, float(position)))
    if name == "temperature":
        return temperature_from_knob(position, temperature.low, temperature.high)
    if name in UNIT:
        return position
    if name == "register_centre":
        return round(position * (PITCHES - 1))
    if name == "register_width":
        return round(position * PITCHES)
    if name == "loop_bars":
        return LOOP_BARS[_choice(position, len(LOOP_BARS))]
    if name == "scale":
        return SCALE_NAMES[_choice(position, len(SCALE_NAMES))]
    if name == "scale_root":
        return _choice(position, 12)
    raise ValueError(f"unknown control {name!r} (known: {', '.join(KNOBS)})")


def position(name: str, current: Any, temperature: TemperatureConfig) -> float:
    """The knob position (0..1) that gives ``current`` for control ``name`` (the middle of a choice's part)."""
    if name == "temperature":
        from device.controls.gpio import knob_from_temperature

        return knob_from_temperature(current, temperature.low, temperature.high)
    if name in UNIT:
        return float(current)
    if name == "register_centre":
        return current / (PITCHES - 1)
    if name == "register_width":
        return current / PITCHES
    choices = {"loop_bars": LOOP_BARS, "scale": SCALE_NAMES, "scale_root": tuple(range(12))}
    if name in choices:
        options = choices[name]
        return (options.index(current) + 0.5) / len(options)
    raise ValueError(f"unknown control {name!r} (known: {', '.join(KNOBS)})")


def steps(name: str) -> int | None:
    """How many settings a stepped control has (a key press moves one), None for a continuous one."""
    return {"loop_bars": len(LOOP_BARS), "scale": len(SCALE_NAMES), "scale_root": 12}.get(name)


def start_state(music_values: dict[str, Any], temperature: TemperatureConfig) -> ControlState:
    """The state the box starts from: the configured temperature and [music] values, no events."""
    return replace(ControlState(temperature.initial), **music_values)
