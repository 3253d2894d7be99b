"""The control state: what every control says at one step, as one frozen value.

Any controls implementation (GPIO knobs and buttons, the desktop keyboard, MIDI CC, the network,
a script) builds a ``ControlState`` once per step; the loop hands it whole to the generator and the
sampler. Its fields are made from the declaration (engine/declaration.py): one per musical control,
in the declaration's order and with its default (so ``ControlState()`` is every control at its
default, and ``ControlState(0.5)`` sets the temperature), then the buttons' one-shot events.

Events (``reset``, ``pause_toggle``, ``capture``) say "this happened since the last read": each read
consumes them, so an event reaches the loop exactly once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import make_dataclass, replace
from typing import Any, Protocol

from device.engine.declaration import BUTTONS, CONTROLS


def _without_events(self) -> Any:
    """The same controls with the one-shot events cleared."""
    return replace(self, **{button.event: False for button in BUTTONS})


def _values(self) -> dict[str, Any]:
    """Every musical control's value by name, in the declaration's order (no events)."""
    return {control.name: getattr(self, control.name) for control in CONTROLS}


ControlState = make_dataclass(
    "ControlState",
    [(control.name, type(control.default), control.default) for control in CONTROLS]
    + [(button.event, bool, False) for button in BUTTONS],
    frozen=True,
    namespace={"without_events": _without_events, "values": _values,
               "__doc__": "The controls at one step: every declared control's value, then the events."},

)
ControlState.__module__ = __name__  # where a reader (and repr, pickle) finds it


class Controls(Protocol):
    """What the loop needs from any controls implementation."""

    def read(self) -> ControlState:
        """Called once per step by the loop (and once before the first note); consumes the events."""
        ...

    def beat(self, step: int, playing: bool) -> None:
        """Feedback (an LED) for 16th step ``step`` of the transport."""
        ...

    def error(self, active: bool) -> None:
        """Show (True) or clear (False) an error, e.g. the MIDI port is lost."""
        ...

    def waiting(self, active: bool) -> None:
        """Feedback (an LED) while the transport is stopped, waiting for Start or Continue: True on each tick
        it delivers then (about once a step), False once at the first step after it runs again."""
        ...

    def close(self) -> None: ...


class FixedControls:
    """Controls for tests, benchmarks and headless runs: a fixed state and scripted events.

    ``state``: the ControlState every read returns (its own events ignored).
    ``resets_at`` / ``pause_toggles_at``: the read numbers (0 = the first read) that report that event.
    Records ``reads`` (count), ``beats`` [(step, playing)], ``errors`` and ``waits`` [active, ...] (changes only).
    """

    def __init__(
        self,
        state: ControlState | float | None = None,
        resets_at: Collection[int] = (),
        pause_toggles_at: Collection[int] = (),
    ):
        if state is None:
            state = ControlState()
        self.state = state if isinstance(state, ControlState) else ControlState(temperature=float(state))
        self.resets_at = frozenset(resets_at)
        self.pause_toggles_at = frozenset(pause_toggles_at)
        self.reads = 0
        self.beats: list[tuple[int, bool]] = []
        self.errors: list[bool] = []
        self.waits: list[bool] = []
        self.closed = False

    def read(self) -> ControlState:
        number = self.reads
        self.reads += 1
        return replace(self.state, reset=number in self.resets_at, pause_toggle=number in self.pause_toggles_at)

    def beat(self, step: int, playing: bool) -> None:
        self.beats.append((step, playing))

    def error(self, active: bool) -> None:
        if not self.errors or self.errors[-1] != active:
            self.errors.append(active)

    def waiting(self, active: bool) -> None:
        if not self.waits or self.waits[-1] != active:
            self.waits.append(active)

    def close(self) -> None:
        self.closed = True


class ControlsOverlay:
    """Controls laid over ``inner`` (a MIDI CC map, the network): a subclass sets ``overrides[control]``, which
    holds over ``inner``'s value until that control moves on ``inner`` (the control moved last wins). Feedback
    (beat, error, waiting) and close go through to ``inner``."""

    def __init__(self, inner: Controls):
        self.inner = inner
        self.overrides: dict[str, Any] = {}  # control -> value set here, until the inner control moves
        self._last_inner: ControlState | None = None

    def inner_state(self) -> ControlState:
        """``inner``'s state (read once a step), forgetting the overrides of the controls that moved there since."""
        state = self.inner.read()
        if self._last_inner is not None:
            for name in list(self.overrides):
                if getattr(state, name) != getattr(self._last_inner, name):
                    del self.overrides[name]  # the box's own knob (or a key, a CC) moved: it wins again
        self._last_inner = state
        return state

    def beat(self, step: int, playing: bool) -> None:
        self.inner.beat(step, playing)

    def error(self, active: bool) -> None:
        self.inner.error(active)

    def waiting(self, active: bool) -> None:
        self.inner.waiting(active)

    def close(self) -> None:
        self.inner.close()
