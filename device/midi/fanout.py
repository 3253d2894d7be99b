"""One MIDI input, several readers: each reader drains every event, on its own.

The input's channel messages are drained by one reader at a time (``MidiIn.drain``). When several parts
of the box listen to the same input (call and response hears a call, the chord listener hears chords, the
input recorder keeps takes), each gets a ``reader()`` of one ``Fanout``: a reader's ``drain()`` pulls what
arrived into every reader's queue, then hands over its own. Queues are bounded like the input's, so a reader
that never drains cannot grow memory; everything else (``name``, ``connected``, ...) is the input's.
``Skipping`` leaves one channel out for a reader (call and response does not hear the chords' channel as a call).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from device.midi.midi_in import EVENT_CAPACITY, InputEvent


class Fanout:
    """Shares ``source`` (anything with ``drain() -> list[InputEvent]``) between readers made by ``reader()``."""

    def __init__(self, source):
        self.source = source
        self._queues: list[deque[InputEvent]] = []

    def reader(self) -> Reader:
        """A new reader: it gets every event that arrives from now on."""
        queue: deque[InputEvent] = deque(maxlen=EVENT_CAPACITY)
        self._queues.append(queue)
        return Reader(self, queue)

    def pull(self) -> None:
        """Take what arrived at the source into every reader's queue."""
        for event in self.source.drain():
            for queue in self._queues:
                queue.append(event)


class Reader:
    """One reader of a Fanout: ``drain()`` the events since its last drain, oldest first."""

    def __init__(self, fanout: Fanout, queue: deque[InputEvent]):
        self._fanout, self._queue = fanout, queue

    def drain(self) -> list[InputEvent]:
        self._fanout.pull()
        events = list(self._queue)
        self._queue.clear()
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fanout.source, name)  # name, connected, check, ... of the input itself


class Skipping:
    """``source`` (anything with ``drain()``) without the events of MIDI channel ``channel`` (0..15)."""

    def __init__(self, source, channel: int):
        self.source, self.channel = source, channel

    def drain(self) -> list[InputEvent]:
        return [e for e in self.source.drain() if getattr(e.message, "channel", None) != self.channel]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def share(source, names: Sequence[str], skip: dict[str, int | None] | None = None) -> dict[str, Any]:
    """A reader of ``source`` for each of ``names`` (``source`` itself for one name), leaving MIDI channel
    ``skip[name]`` (0..15; None: none) out of that name's reader."""
    fanout = Fanout(source) if len(names) > 1 else None
    readers = {name: fanout.reader() if fanout else source for name in names}
    skip = skip or {}
    return {name: reader if skip.get(name) is None else Skipping(reader, skip[name])
            for name, reader in readers.items()}
