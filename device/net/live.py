"""The box as the network sees it: the loop's last steps, as the loop reported them, and their JSON.

``Live.on_step`` is the loop's on_step (device/play/loop.py): on the loop's thread it only stores the
StepReport with a number and the note sounding after it, in a bounded deque (no lock, no I/O, nothing
that can wait). The servers read from there on their own threads; nothing here ever asks the loop.

``report_json`` is one step as the API and the event stream give it (stable names)::

    {"step": 812, "state": "playing", "bpm": 120.0, "note": 67, "note_name": "G4", "model": "default",
     "controls": {"temperature": 1.0, ...every declared control...}, "token": 67, "paused": false,
     "running": true, "connected": true, "reset": "", "bar_steps": 16}

``note`` is the pitch sounding after the step (null: none). ``controls_json`` describes every declared
control for the page and the API: its kind of input (a range, a table of knob positions, or choices),
unit, help and default, made from the declaration, so a new control appears everywhere by itself.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from typing import Any, NamedTuple

from device.core import encoding
from device.core.scales import note_name
from device.engine.curves import Choices, Geometric, Linear
from device.engine.declaration import BUTTONS, Control

BACKLOG_STEPS = 256  # steps kept for a page that opens (16 bars of 4/4): its roll starts full
TABLE_POSITIONS = 200  # a geometric control's slider: this many steps of knob travel


class Seen(NamedTuple):
    """One report as stored: its number (1, 2, ...), the report, the note sounding after it, the model's name."""

    number: int
    report: Any
    note: int | None
    model: str


class Live:
    """The last ``backlog`` reports of the loop; ``model`` is the name of the model playing (set by the library)."""

    def __init__(self, bar_steps: int, model: str = "", backlog: int = BACKLOG_STEPS):
        self.bar_steps = bar_steps
        self.model = model
        self._seen: deque[Seen] = deque(maxlen=backlog)
        self._numbers = itertools.count(1)
        self._note: int | None = None

    def on_step(self, report) -> None:
        """The loop's on_step (its thread): remember the report and the note sounding after it."""
        token = report.token
        if report.reset or not report.running or report.paused:
            self._note = None  # the loop silenced the synth
        if token is not None and token != encoding.NO_EVENT:
            self._note = token if encoding.is_note_on(token) else None
        self._seen.append(Seen(next(self._numbers), report, self._note, self.model))

    def latest(self) -> Seen | None:
        """The last report seen, or None before the first."""
        seen = self._seen
        return seen[-1] if seen else None

    def since(self, number: int) -> tuple[Seen, ...]:
        """The reports kept with a number above ``number``, oldest first."""
        return tuple(seen for seen in tuple(self._seen) if seen.number > number)


def report_json(seen: Seen, bar_steps: int) -> dict[str, Any]:
    """One step in the API's stable names (module docstring)."""
    report = seen.report
    return {"step": report.step, "state": report.state, "bpm": round(report.bpm, 3), "note": seen.note,
            "note_name": None if seen.note is None else note_name(seen.note), "model": seen.model,
            "controls": report.controls.values(), "token": report.token, "paused": report.paused,
            "running": report.running, "connected": report.connected, "reset": report.reset, "bar_steps": bar_steps}


def control_json(control: Control) -> dict[str, Any]:
    """A control for the page: ``kind`` "range" (min, max, step), "table" (the values along the knob's travel)
    or "choice" (options), with its unit, help and default."""
    curve = control.curve
    described: dict[str, Any] = {"name": control.name, "unit": control.unit, "help": control.help,
                                 "default": control.default}
    if isinstance(curve, Choices):
        return described | {"kind": "choice", "options": list(curve.options)}
    if isinstance(curve, Geometric):
        values = [round(control.value(i / TABLE_POSITIONS), 4) for i in range(TABLE_POSITIONS + 1)]
        return described | {"kind": "table", "values": values}
    assert isinstance(curve, Linear)
    step = 1 if curve.whole else (curve.high - curve.low) / 100
    return described | {"kind": "range", "min": curve.low, "max": curve.high, "step": step}


def controls_json(table: Mapping[str, Control]) -> dict[str, Any]:
    """Every declared control (``table``: the configured ones by name) and the buttons."""
    return {"controls": [control_json(control) for control in table.values()],
            "buttons": [{"name": button.name, "help": button.help} for button in BUTTONS]}
