"""`melodybox run`: the assembled box, played until stopped, with signals and the live view.

The box is built by device/assembly.py (real hardware: no parts injected). Every
resource is closed on the way out, and the synth is left silent (the loop silences,
MidiOut.close sends All Notes Off).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import ExitStack

from device.assembly import Parts, Say, assemble
from device.config import Config


def run(config: Config, steps: int | None, seed: int | None, sim: bool, say: Say) -> int:
    """Play until ``steps`` are done, SIGTERM/SIGINT, or q. Returns the exit status (0)."""
    from device.sim_controls import LiveView

    with ExitStack() as stack:
        stopper = stack.enter_context(_StopOnSignals())  # first: a signal while loading still stops cleanly
        view = LiveView()
        stack.callback(view.close)
        box = stack.enter_context(assemble(config, seed, Parts(sim=sim), say, on_step=view.update))
        stopper.target = box.loop.stop
        done = 0 if stopper.requested else box.run(steps)
    say(f"stopped after {done} steps; all notes off")
    return 0


class _StopOnSignals:
    """SIGTERM (systemd) and SIGINT (Ctrl-C) set ``requested`` and call ``target`` (the loop's stop,
    once there is a loop); the previous handlers come back on exit."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.requested = False
        self.target: Callable[[], None] | None = None
        self.previous = {}

    def _handle(self, *_) -> None:
        self.requested = True
        if self.target is not None:
            self.target()

    def __enter__(self) -> _StopOnSignals:
        for signum in self.SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
