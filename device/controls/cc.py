"""MIDI CC on the input port as controls: any control on a CC number, over the box's own knobs and keys.

``[cc]`` in box.toml gives each control a CC number (``CcConfig``: one field per declared control and
button, its default from the declaration, engine/declaration.py; -1: none). The defaults fit a Korg
nanoKONTROL2 in CC mode, a common 8-knob controller: its knobs 1-8 send CC 16-23, which the MIDI spec
leaves to general purpose or undefined, so no synth parameter moves with them if the controller also
reaches a synth; its first three Solo buttons send CC 32-34 (reset, pause, capture).
A knob's value 0..127 is a position 0..1 (the control's curve); a button acts when its value
crosses 64 upwards (a momentary button's press). With ``root_from_notes`` the last note played on the
input sets the scale root.

``CcControls`` wraps the box's other controls (GPIO or keys): the control moved last wins,
so a knob turned after a CC takes over again. ``InputTap`` sits between the MIDI input and
its other reader (call and response hears notes): it keeps the mapped CCs for the controls
and passes everything else on, so both read the one input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import fields, make_dataclass, replace
from typing import Any

from device.engine.controlstate import Controls, ControlsOverlay, ControlState
from device.engine.declaration import BUTTONS, CONTROLS, UNSET, Control
from device.midi.midi_in import EVENT_CAPACITY, InputEvent

EVENTS = {button.name: button.event for button in BUTTONS}  # button -> ControlState field
PRESSED = 64  # a button's value at or above this is pressed
CC_MAX = 127

CcConfig = make_dataclass(
    "CcConfig",
    [(control.name, int, control.cc) for control in CONTROLS] + [(button.name, int, button.cc) for button in BUTTONS]
    + [("root_from_notes", bool, False)],
    frozen=True,
)
CcConfig.__module__ = __name__
CcConfig.__doc__ = """MIDI CC numbers (0..119; -1 none) on the MIDI input (midi.input) for each declared control and
button. The defaults are a Korg nanoKONTROL2 in CC mode: knobs 1-8 send CC 16-23 (general purpose / undefined in the
MIDI spec, so no synth parameter moves with them) and the first three Solo buttons CC 32-34. Buttons act when the
value crosses 64 upwards. ``root_from_notes``: the last note played on the input sets the scale root."""


class CcMap:
    """CC number -> control name (``knobs``) or button name (``buttons``), from ``[cc]``."""

    def __init__(self, cc: CcConfig):
        self.knobs = {getattr(cc, c.name): c.name for c in CONTROLS if getattr(cc, c.name) != UNSET}
        self.buttons = {getattr(cc, b.name): b.name for b in BUTTONS if getattr(cc, b.name) != UNSET}
        self.root_from_notes = cc.root_from_notes

    def wants(self, event: InputEvent) -> bool:
        """True for a CC this map uses, and (root_from_notes) for a note-on."""
        message = event.message
        if message.type == "control_change":
            return message.control in self.knobs or message.control in self.buttons
        return self.root_from_notes and message.type == "note_on" and message.velocity > 0

    @property
    def empty(self) -> bool:
        return not (self.knobs or self.buttons or self.root_from_notes)


class InputTap:
    """One MIDI input, two readers: ``take()`` the events the CC map wants, ``drain()`` the rest.

    ``source``: anything with ``drain() -> list[InputEvent]`` (device.midi.midi_in.MidiIn). ``keep_rest``:
    hold the other events for ``drain()`` (a reader exists); else they are dropped. Note-ons go both ways.
    """

    def __init__(self, source, cc_map: CcMap, keep_rest: bool = False):
        self.source, self.cc_map, self.keep_rest = source, cc_map, keep_rest
        self._taken: deque[InputEvent] = deque(maxlen=EVENT_CAPACITY)
        self._rest: deque[InputEvent] = deque(maxlen=EVENT_CAPACITY)

    def _pull(self) -> None:
        for event in self.source.drain():
            wanted = self.cc_map.wants(event)
            if wanted:
                self._taken.append(event)
            if self.keep_rest and (not wanted or event.message.type == "note_on"):
                self._rest.append(event)

    def take(self) -> list[InputEvent]:
        """The events for the controls since the last take, oldest first."""
        self._pull()
        taken = list(self._taken)
        self._taken.clear()
        return taken

    def drain(self) -> list[InputEvent]:
        """The other events (notes for call and response), oldest first."""
        self._pull()
        rest = list(self._rest)
        self._rest.clear()
        return rest

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)  # name, connected, check, ... of the input itself


class CcControls(ControlsOverlay):
    """The loop's Controls: ``inner``'s state with the CCs from ``tap`` over it (last moved wins); ``table``: the
    declared controls by name, whose curves turn a CC's value into the control's."""

    def __init__(self, inner: Controls, tap: InputTap, table: Mapping[str, Control]):
        super().__init__(inner)
        self.tap, self._table = tap, table
        self._button_values: dict[int, int] = {}  # CC number -> last value (edges)

    def read(self) -> ControlState:
        """The inner controls' state, with the CCs since the last read applied in order."""
        state = self.inner_state()
        events = {}
        for event in self.tap.take():
            events |= self._apply(event.message)
        return replace(state, **self.overrides, **{name: True for name in events})

    def _apply(self, message) -> dict[str, bool]:
        """One message: a knob CC sets its override; a button CC crossing 64 upwards returns its event."""
        cc_map = self.tap.cc_map
        if message.type == "note_on":
            self.overrides["scale_root"] = message.note % 12
            return {}
        number, level = message.control, message.value
        if number in cc_map.knobs:
            name = cc_map.knobs[number]
            self.overrides[name] = self._table[name].value(level / CC_MAX)
            return {}
        before = self._button_values.get(number, 0)
        self._button_values[number] = level
        if level >= PRESSED > before:
            return {EVENTS[cc_map.buttons[number]]: True}
        return {}


def cc_table(cc: CcConfig) -> list[tuple[str, int]]:
    """(control, CC number) for every mapped control of ``[cc]``, in the config's order (docs, help)."""
    return [(f.name, getattr(cc, f.name)) for f in fields(cc) if f.name != "root_from_notes"
            and getattr(cc, f.name) != UNSET]


def open_cc_controls(cc: CcConfig, table: Mapping[str, Control], midi_in, controls: Controls,
                     keep_rest: bool) -> tuple[Controls, InputTap | None]:
    """``controls`` with the configured CCs of ``midi_in`` over them, and the tap (None: no input or no CC map).

    ``keep_rest``: another reader wants the other events (call and response hears the notes)."""
    cc_map = CcMap(cc)
    if midi_in is None or cc_map.empty:
        return controls, None
    tap = InputTap(midi_in, cc_map, keep_rest=keep_rest)
    return CcControls(controls, tap, table), tap
