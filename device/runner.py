"""`melodybox run`: the assembled box, played until stopped, with signals and the live view.

The box is built by device/assembly.py (real hardware: no parts injected). Every
resource is closed on the way out, and the synth is left silent (the loop silences,
MidiOut.close sends All Notes Off).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager

from device import signals
from device.assembly import Parts, Say, assemble
from device.remote import open_remote
from device.sdnotify import Notifier, Watchdog, watchdog_interval
from device.settings import Config
from device.status import LiveView


@contextmanager
def _stop_on_signals():
    """SIGINT/SIGTERM stop the box from here on (device/signals.py); the previous handlers come back after."""
    previous = signals.install()
    signals.STOP.target = _note_only  # while the box is being built: remember the stop, play nothing after
    try:
        yield signals.STOP
    finally:
        signals.STOP.target = None
        signals.restore(previous)


def _note_only() -> None:
    """A stop asked for while the box is being built: ``requested`` says so; nothing to stop yet."""


def run(config: Config, steps: int | None, seed: int | None, sim: bool, say: Say,
        config_path: str | None = None) -> int:
    """Play until ``steps`` are done, SIGTERM/SIGINT, or q. Returns the exit status (0). ``config_path``: the
    file the configuration came from (the web API shows and edits it), None: none."""
    with ExitStack() as stack:
        stopper = stack.enter_context(_stop_on_signals())  # first: a signal while loading still stops cleanly
        view = LiveView()
        stack.callback(view.close)
        say = view.above(say)  # the status line stays whole: news is printed above it
        systemd = stack.enter_context(Systemd())
        box = stack.enter_context(assemble(config, seed, Parts(sim=sim), say, on_step=systemd.watch(view.update)))
        box.loop.on_tick = systemd.tick
        stack.enter_context(open_remote(config, config_path, box, seed, say))  # the page and OSC, if asked for
        stopper.target = box.loop.stop
        done = 0 if stopper.requested else box.run(steps)
    say(f"stopped after {done} steps; all notes off")
    return 0


class Systemd:
    """The box's side of systemd's notify protocol (device/sdnotify.py): READY=1 at the loop's first report
    (the first step, or the first tick while a followed clock waits for Start: systemd must not time the
    start out while the drum machine is stopped), WATCHDOG=1 from the loop's thread on its ticks (so a hung
    loop stops them and systemd restarts the box), STOPPING=1 on the way out. Outside systemd (no
    NOTIFY_SOCKET) it sends nothing."""

    def __init__(self, environ=None):
        self.notifier = Notifier.from_environ(environ)
        self.watchdog = Watchdog(self.notifier, watchdog_interval(environ))
        self.ready = False

    def watch(self, on_step: Callable | None = None) -> Callable:
        """An on_step for the loop that says READY=1 at the first report, then calls ``on_step``."""
        def step(report) -> None:
            if not self.ready:
                self.ready = True
                self.notifier.ready(f"{report.state} at step {report.step}")
            if on_step is not None:
                on_step(report)

        return step

    def tick(self, tick) -> None:
        """The loop's on_tick: WATCHDOG=1 at most every half of WATCHDOG_USEC, on real time (a stopped
        transport still ticks, and its ticks' times stand still)."""
        if self.ready:
            self.watchdog.kick(time.monotonic())

    def __enter__(self) -> Systemd:
        return self

    def __exit__(self, *exc) -> None:
        self.notifier.stopping()
        self.notifier.close()
