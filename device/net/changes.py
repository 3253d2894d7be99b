"""Changes from the network to the loop: checked on the servers' threads, taken by the loop once per step.

The web API and OSC hand the loop validated changes through ``Changes``, a bounded queue: a full queue
refuses a change (the API answers 503) and never makes anyone wait, the loop least of all.
``NetControls`` is the loop's Controls: a ControlsOverlay (engine/controlstate.py) over the box's other
controls (knob, keys, MIDI CC), as controls/cc.py's CcControls is; it drains the queue once per step in
``read()`` and lays the changes over the inner state, in order, so the control moved last wins: a knob
turned after a change from the network takes over again. A change is {control name: value} and/or {button event: True}
(engine/controlstate.py's ``reset``, ``pause_toggle``, ``capture``).

Every name, check and reason comes from the control declaration: ``parse_controls`` reads a mapping of
names to values (JSON, OSC) with each control's own ``parse``, and says what is wrong in words.
"""

from __future__ import annotations

import queue
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from device.engine.controlstate import Controls, ControlsOverlay, ControlState
from device.engine.declaration import BUTTONS, Control, ControlError

CAPACITY = 256  # changes waiting for the loop; at 8 steps a second the loop takes them all each step
EVENTS = {button.name: button.event for button in BUTTONS}  # button name -> ControlState event field
EVENT_FIELDS = frozenset(EVENTS.values())
PLAIN = (bool, int, float, str)  # what a control's value may be given as (JSON, OSC)


def parse_controls(table: Mapping[str, Control], values: Any) -> dict[str, Any]:
    """{control: value} for ``values`` ({name: value as a number or text}), every one checked by its control;
    ControlError naming the first wrong one, e.g. ``temperature: must be 0.05..3``."""
    if not isinstance(values, Mapping) or not values:
        raise ControlError("expected an object of controls and values, e.g. {\"temperature\": 0.4}")
    parsed: dict[str, Any] = {}
    for name, value in values.items():
        if name not in table:
            raise ControlError(f"unknown control {name!r} (known: {', '.join(table)})")
        if not isinstance(value, PLAIN):
            raise ControlError(f"{name}: must be a number or text, not {type(value).__name__}")
        try:
            parsed |= table[name].parse(value)
        except ControlError as error:
            raise ControlError(f"{name}: {error}") from None
    return parsed


class Changes:
    """The bounded queue between the servers (any number of threads) and the loop (one)."""

    def __init__(self, capacity: int = CAPACITY):
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(capacity)

    def put(self, change: Mapping[str, Any]) -> bool:
        """Queue a checked change for the next step; False if the queue is full (nothing queued)."""
        try:
            self._queue.put_nowait(dict(change))
            return True
        except queue.Full:
            return False

    def press(self, button: str) -> bool:
        """Queue a button's event (reset, pause, capture) for the next step; False if the queue is full."""
        return self.put({EVENTS[button]: True})

    def drain(self) -> list[dict[str, Any]]:
        """Every change queued since the last drain, oldest first (the loop's thread)."""
        taken = []
        while True:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                return taken


class NetControls(ControlsOverlay):
    """The loop's Controls: ``inner``'s state with the network's changes over it (last moved wins)."""

    def __init__(self, inner: Controls, changes: Changes):
        super().__init__(inner)
        self.changes = changes

    def read(self) -> ControlState:
        """The inner controls' state with the changes since the last read applied in order; events are added to
        the inner ones (a reset pressed on the box and one from the network in one step are one reset)."""
        state = self.inner_state()
        pressed, toggles = set(), 0
        for change in self.changes.drain():
            for name, value in change.items():
                if name == "pause_toggle":
                    toggles += 1  # two presses in one step pause and resume: nothing changes
                elif name in EVENT_FIELDS:
                    pressed.add(name)
                else:
                    self.overrides[name] = value
        if not (self.overrides or pressed or toggles):
            return state
        events = {name: True for name in pressed} | {"pause_toggle": state.pause_toggle != (toggles % 2 == 1)}
        return replace(state, **self.overrides, **events)

    def close(self) -> None:
        """Nothing of its own to release: the box closes its inner controls."""
