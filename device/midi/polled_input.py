"""A python-rtmidi MIDI input read by polling on a thread of ours, never through rtmidi's callback.

Why: RtMidi calls its callback on the MIDI system's thread. On JACK that is the client's process
thread, and JACK may cancel it (when the port closes, or when it finds the client too slow) while
the callback waits for Python's GIL: the thread dies holding the GIL's lock and the whole process
hangs. Opening and closing an input under a steady stream of clock messages hung it within a few
rounds through mido (which always sets a callback), and never with the messages read by polling
(measured: docs/playing-with-others.md, "Under the hood"). Polling keeps the MIDI system's threads out
of Python, on JACK and on ALSA alike.

Times: RtMidi gives each message the seconds since the previous one, taken when it arrived (on
JACK, per 1.3 ms cycle). The reader adds them up, so a message's time keeps its real spacing
from the one before, however late the poll found it; a time is never later than the poll that
found the message, nor earlier than the last poll that found nothing. Polling every
POLL_SECONDS delays delivery by about half of that on average, not the times.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import mido

POLL_SECONDS = 0.0005  # between polls of an empty queue: about 2,000 wake-ups a second, < 1 % of a Pi 4 core
IGNORE = {"sysex": False, "timing": False, "active_sense": True}  # mido's choice: clock in, active sensing out


class PolledInput:
    """An open rtmidi input (``rt``, an ``rtmidi.MidiIn`` with a port open and no callback) called ``name``.

    ``on_bytes(deliver)`` starts the reader thread: ``deliver(data, time)`` gets each message's bytes
    (a list of ints, possibly not valid MIDI) and its arrival time on ``now``'s clock (seconds).
    ``callback = f`` does the same with parsed mido messages, ``f(message)`` (not-MIDI bytes dropped), as
    on a mido port. Without either, ``iter_pending()`` yields what arrived. ``close()`` stops the thread
    and closes the port; idempotent.
    """

    def __init__(self, rt, name: str, now: Callable[[], float] = time.monotonic,
                 poll_seconds: float = POLL_SECONDS):
        self._rt, self.name, self._now, self.poll_seconds = rt, name, now, poll_seconds
        self.closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._callback = None

    def on_bytes(self, deliver: Callable[[list[int], float], None]) -> None:
        """Read on a thread from now on: ``deliver(data, time)`` for each message. Once per port."""
        if self._thread is not None:
            raise RuntimeError(f"MIDI input {self.name!r} is already being read")
        self._thread = threading.Thread(target=self._read, args=(deliver,), name=f"midi-in {self.name}", daemon=True)
        self._thread.start()

    @property
    def callback(self):
        return self._callback

    @callback.setter
    def callback(self, function) -> None:
        if function is None:
            self._callback = None
            return
        self._callback = function
        if self._thread is None:
            self.on_bytes(self._parse_and_call)

    def _parse_and_call(self, data: list[int], _time: float) -> None:
        callback = self._callback
        if callback is None:
            return
        try:
            message = mido.Message.from_bytes(data)
        except (ValueError, TypeError, IndexError):
            return
        callback(message)

    def iter_pending(self) -> Iterator[mido.Message]:
        """The parsed messages waiting now (when no reader thread runs)."""
        while True:
            got = self._rt.get_message()
            if got is None:
                return
            try:
                yield mido.Message.from_bytes(got[0])
            except (ValueError, TypeError, IndexError):
                continue

    def _read(self, deliver: Callable[[list[int], float], None]) -> None:
        rt, now, stop = self._rt, self._now, self._stop
        last: float | None = None  # the previous message's time
        empty_at = now()  # the last poll that found nothing
        while not stop.is_set():
            got = rt.get_message()
            polled = now()
            if got is None:
                empty_at = polled
                stop.wait(self.poll_seconds)
                continue
            data, delta = got
            last = arrival_time(polled, empty_at, last, delta)
            deliver(data, last)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        self._rt.close_port()
        self._rt.delete()

    def __enter__(self) -> PolledInput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PolledInput({self.name!r}{', closed' if self.closed else ''})"


def arrival_time(polled: float, empty_at: float, previous: float | None, delta: float) -> float:
    """When a message arrived (seconds): ``delta`` (RtMidi's seconds since the previous message) after
    ``previous`` (that message's time; None: the first, taken at ``polled``), but not after ``polled``
    (the poll that found it) nor before ``empty_at`` (the last poll that found nothing)."""
    if previous is None:
        return polled
    return min(polled, max(empty_at, previous + delta))


def open_polled_input(api: int, name: str | None = None, virtual: bool = False,
                      client_name: str = "Melody Box") -> PolledInput:
    """Open the rtmidi input port called exactly ``name`` (or, ``virtual``, create one called ``name``) on
    rtmidi API ``api``, without a callback. Raises rtmidi's errors (OSError/RtMidiError) or ValueError
    when no port has that name."""
    import rtmidi  # lazy: loaded only where a port opens (generate and the trainer need no MIDI system)

    rt = rtmidi.MidiIn(api, client_name)
    try:
        rt.ignore_types(**IGNORE)
        if virtual:
            rt.open_virtual_port(name)
        else:
            ports = rt.get_ports()
            if name not in ports:
                raise ValueError(f"no MIDI input called {name!r}")
            rt.open_port(ports.index(name))
    except BaseException:
        rt.delete()
        raise
    return PolledInput(rt, name)


def recording(port: PolledInput) -> list[tuple[float, mido.Message]]:
    """Start reading ``port``: the returned list gets (arrival time, message) of each MIDI message, as it comes."""
    heard: list[tuple[float, mido.Message]] = []

    def keep(data: list[int], arrived: float) -> None:
        with contextlib.suppress(ValueError, TypeError, IndexError):  # not MIDI: not kept
            heard.append((arrived, mido.Message.from_bytes(data)))

    port.on_bytes(keep)
    return heard
