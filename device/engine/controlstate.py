"""The control state: what every control says at one step, as one frozen value.

Any controls implementation (GPIO knob and buttons, the desktop keyboard, MIDI CC,
a script) builds a ``ControlState`` once per step; the loop hands it whole to the
generator and the sampler. A new control is a field here and a mapping in the
controls that set it. Drivers import this module, never the loop.

Events (``reset``, ``pause_toggle``) say "this happened since the last read": each
read consumes them, so an event reaches the loop exactly once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Protocol

# The musical controls' neutral values: with these the box plays what the model says ("off").
# The config's initial values default to these same constants (device/config.py imports them).
DEFAULT_SCALE = "chromatic"  # a name in device.core.scales.SCALES; chromatic = no scale lock
DEFAULT_SCALE_ROOT = 0  # pitch class of the scale's root, 0..11 (0 = C)
DEFAULT_STRICTNESS = 1.0  # 0 free .. 1 only in-scale pitches (acts only with a scale other than chromatic)
DEFAULT_DEJA_VU = 0.0  # 0 always new .. 1 the loop repeats exactly
DEFAULT_LOOP_BARS = 2  # bars in the deja-vu loop: 1, 2, 4 or 8
DEFAULT_DENSITY = 0.5  # 0 fewest new notes .. 0.5 as the model says .. 1 most
DEFAULT_REGISTER_CENTRE = 64  # MIDI pitch at the register's centre
DEFAULT_REGISTER_WIDTH = 128  # semitones from the register's lowest to highest pitch; 128 covers every pitch
DEFAULT_GATE = 1.0  # share of a note's last 16th that sounds: 1 legato (up to the next note) .. 0 one pulse
DEFAULT_ACCENT = 0.0  # 0 every note at midi.velocity .. 1 strong beats loudest, weak 16ths softest
DEFAULT_HUMANISE = 0.0  # 0 exact velocities .. 1 a seeded random offset of up to +-HUMANISE_RANGE (engine/dynamics.py)


@dataclass(frozen=True)
class ControlState:
    """The controls at one step.

    ``temperature``: randomness of sampling, > 0 samples, 0 is greedy (see device.engine.sampling).
    ``reset``: return the generator to its primed state. ``pause_toggle``: pause or resume.
    Musical controls (device.engine.sampling, device.engine.generator; the defaults above are "off"):
    ``scale`` and ``scale_root`` lock pitches to a scale with ``strictness`` 0..1; ``deja_vu`` 0..1
    replays a loop of the last ``loop_bars`` bars; ``density`` 0..1 biases new notes against holds and
    rests; ``register_centre`` (MIDI pitch) and ``register_width`` (semitones) bound the pitches.
    Articulation (device/engine/dynamics.py, played by MidiOut): ``gate`` 0..1, ``accent`` 0..1, ``humanise`` 0..1.
    ``capture``: write the last bars to a MIDI file (device/play/capture.py).
    """

    temperature: float = 1.0
    scale: str = DEFAULT_SCALE
    scale_root: int = DEFAULT_SCALE_ROOT
    strictness: float = DEFAULT_STRICTNESS
    deja_vu: float = DEFAULT_DEJA_VU
    loop_bars: int = DEFAULT_LOOP_BARS
    density: float = DEFAULT_DENSITY
    register_centre: int = DEFAULT_REGISTER_CENTRE
    register_width: int = DEFAULT_REGISTER_WIDTH
    gate: float = DEFAULT_GATE
    accent: float = DEFAULT_ACCENT
    humanise: float = DEFAULT_HUMANISE
    reset: bool = False
    pause_toggle: bool = False
    capture: bool = False

    def without_events(self) -> ControlState:
        """The same controls with the one-shot events cleared."""
        return replace(self, reset=False, pause_toggle=False, capture=False)


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
        state: ControlState | float = ControlState(),
        resets_at: Collection[int] = (),
        pause_toggles_at: Collection[int] = (),
    ):
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
