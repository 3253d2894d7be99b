"""Stopping by signal at any moment: SIGINT (Ctrl-C) and SIGTERM (systemd) from the process's first instant.

``install()`` runs before anything heavy is imported (device/entry.py), so a signal that
arrives while numpy or the model loads is neither ignored nor turned into a traceback:

- while the program is still importing (no ``target`` yet), the handler raises ``SystemExit(0)``:
  the process unwinds at once and quietly;
- while `melodybox run` builds the box, ``target`` only notes the request (``requested``): the
  box is closed again without playing a note, and says so;
- once the loop plays, the handler calls ``target`` (the loop's thread-safe stop): the loop ends
  after its current tick and silences the synth.

Standard library only. A process started in the background by a non-interactive shell
inherits SIGINT as ignored; installing a handler here makes ``kill -INT`` work there too.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """Whether a stop was asked for, and what to call when one is (None: leave at once)."""

    def __init__(self):
        self.requested = False
        self.target: Callable[[], None] | None = None

    def handle(self, signum, frame) -> None:
        self.requested = True
        if self.target is None:
            raise SystemExit(0)
        self.target()


STOP = Stop()


def install() -> dict:
    """Route SIGINT and SIGTERM to ``STOP``; returns the handlers they had (for ``restore``)."""
    return {signum: signal.signal(signum, STOP.handle) for signum in SIGNALS}


def restore(previous: dict) -> None:
    """Put back the handlers ``install`` replaced."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)
