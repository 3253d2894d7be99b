"""MIDI input: messages from the port's reader thread to the loop and the clock follower, never blocking.

The port's reader calls ``MidiIn.receive`` on its own thread for every message: a real
port is a device.midi.polled_input.PolledInput (polled on our thread, each message with its
arrival time: see there why never rtmidi's callback); another mido port calls it as its
callback. ``receive`` stamps the message with the box clock's time and sorts it:

- clock and transport messages (clock 0xF8, start, stop, continue, songpos) go to the
  clock queue, read by the follower with ``wait_clock(deadline)``;
- channel messages (notes, CC, pitch bend, ...) on the input channel (all 16: omni) go to
  the event queue, read by the loop with ``drain()``;
- everything else (sysex, active sensing, ...) is ignored.

Both queues are bounded: a flood drops the oldest messages and counts them (``dropped``),
so the callback never blocks and memory never grows. Hot-plug as for the output
(device/midi/reconnect.py): a lost input (``alive`` says it is no longer listed, twice in a row)
never stops the box; ``reopen`` is tried from the loop's thread (in ``drain`` and while the
follower waits), never from the callback.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass

import mido
from mido.ports import BaseInput

from device.core.clock import Clock, MonotonicClock
from device.midi.reconnect import Reconnecting

CLOCK_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})  # to the follower
EVENT_CAPACITY = 256  # channel messages held between two drains (a step is >= 37.5 ms at 400 bpm)
CLOCK_CAPACITY = 1024  # clock messages held for the follower (it reads them as they come)
MISSING_CHECKS = 2  # a port is lost when this many checks in a row do not list it (a listing can fail under load)


@dataclass(frozen=True)
class InputEvent:
    """One received message; ``time``: the box clock's time (seconds) when rtmidi delivered it."""

    time: float
    message: mido.Message


class MidiIn(Reconnecting):
    """The box's MIDI input on ``port`` (a mido input, or None: start disconnected and wait for ``reopen``).

    ``channel``: 0..15 (mido numbering) to keep only that channel's messages, None for omni.
    ``reopen`` returns a fresh input port (raising OSError/rtmidi errors if it cannot);
    ``alive`` says whether the port is still listed. ``keep_events`` False (a box playing solo)
    ignores channel messages. ``warn`` gets one line per new problem
    (a flood, a lost or regained port), always from the caller's thread.
    Counters: ``received``, ``dropped``, ``garbage``, and the reconnect ones (``losses``, ``reconnects``, ...).
    """

    def __init__(
        self,
        port: BaseInput | None,
        clock: Clock | None = None,
        channel: int | None = None,
        reopen: Callable[[], BaseInput] | None = None,
        alive: Callable[[], bool] | None = None,
        retry_seconds: float = 1.0,
        warn: Callable[[str], None] | None = None,
        event_capacity: int = EVENT_CAPACITY,
        clock_capacity: int = CLOCK_CAPACITY,
    ):
        if channel is not None and not 0 <= channel <= 15:
            raise ValueError(f"MIDI input channel must be 0..15 (mido numbering) or None, got {channel}")
        self._start_reconnecting(clock if clock is not None else MonotonicClock(), reopen, alive, retry_seconds,
                                 MISSING_CHECKS)
        self.channel = channel
        self.keep_events = True  # False: channel messages are dropped at once (nobody drains them)
        self._warn = warn or (lambda message: None)
        self._events: collections.deque[InputEvent] = collections.deque()
        self._clock_events: collections.deque[InputEvent] = collections.deque()
        self._capacities = (event_capacity, clock_capacity)
        self._arrived = threading.Condition()
        self.received = 0
        self.dropped = 0
        self._dropped_reported = 0
        self.garbage = 0  # received byte strings that were not a MIDI message
        self._garbage_reported = 0
        self._closed = False
        if port is not None:
            self._attach(port)

    @property
    def name(self) -> str:
        return getattr(self._port, "name", "") or ""

    def receive(self, message: mido.Message, time: float | None = None) -> None:
        """The port's callback (the reader's thread): stamp (``time``, else now), sort, queue. Never blocks on
        the loop, never raises."""
        now = self.clock.now() if time is None else time
        if message.type in CLOCK_TYPES:
            queue, capacity = self._clock_events, self._capacities[1]
        elif self.keep_events and getattr(message, "channel", None) is not None \
                and self.channel in (None, message.channel):
            queue, capacity = self._events, self._capacities[0]
        else:
            return
        with self._arrived:
            self.received += 1
            if len(queue) >= capacity:
                queue.popleft()
                self.dropped += 1
            queue.append(InputEvent(now, message))
            self._arrived.notify()

    def drain(self) -> list[InputEvent]:
        """Everything but clock messages received since the last drain (oldest first), on the input channel."""
        with self._arrived:
            events = list(self._events)
            self._events.clear()
        self.check()
        return events

    def wait_clock(self, deadline: float) -> InputEvent | None:
        """The next clock/transport message, waiting until ``deadline`` (box clock seconds) at most.

        Returns None if none came by then. Blocks only the caller (the follower, on the loop's thread).
        A look without waiting (``deadline`` already past: the follower looking for a Stop right before a
        note) skips the port checks, which can take a listing's time.
        """
        waited = False
        with self._arrived:
            while not self._clock_events:
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    break
                waited = True
                self._arrived.wait(remaining)
            event = self._clock_events.popleft() if self._clock_events else None
        if event is None and waited:
            self.check()
        return event

    def check(self) -> None:
        """At most every retry_seconds: report new drops, ask ``alive`` about the port, reopen a lost one."""
        if self.dropped != self._dropped_reported:
            self._warn(f"MIDI input flooded: dropped {self.dropped - self._dropped_reported} messages")
            self._dropped_reported = self.dropped
        if self.garbage != self._garbage_reported:
            self._warn(f"MIDI input sent {self.garbage - self._garbage_reported} messages that are not MIDI: ignored")
            self._garbage_reported = self.garbage
        if not self._closed:
            self._check_connection()

    def close(self) -> None:
        """Stop receiving and close the port. Idempotent."""
        self._closed = True
        self._drop_port()

    def __enter__(self) -> MidiIn:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _attach(self, port: BaseInput) -> None:
        self._port, self.connected, self._missing = port, True, 0
        if hasattr(port, "on_bytes"):  # a device.midi.polled_input.PolledInput: raw bytes and arrival times
            port.on_bytes(self.receive_stamped_bytes)
            return
        rtmidi_in = getattr(port, "_rt", None)  # mido's rtmidi port: take its raw bytes, to count garbage
        if rtmidi_in is not None and hasattr(rtmidi_in, "set_callback"):
            rtmidi_in.cancel_callback()
            rtmidi_in.set_callback(self.receive_bytes)
        else:
            port.callback = self.receive  # other mido ports call it with parsed messages

    def receive_bytes(self, event, data=None) -> None:
        """rtmidi's callback: ``event`` is (bytes, delta seconds). Bytes that are not one MIDI message are counted."""
        self.receive_stamped_bytes(event[0], None)

    def receive_stamped_bytes(self, data, time: float | None) -> None:
        """Bytes that arrived at ``time`` (box clock seconds; None: now). Bytes that are not one MIDI message
        are counted."""
        try:
            message = mido.Message.from_bytes(data)
        except (ValueError, TypeError, IndexError):
            self.garbage += 1
            return
        self.receive(message, time)

    def _reconnected(self, port: BaseInput) -> bool:
        self._attach(port)
        self._warn(f"MIDI input {self.name!r} is back")
        return True

    def _lose(self, error: BaseException | str) -> None:
        name = self.name
        super()._lose(error)
        self._warn(f"MIDI input {name!r} lost ({error}): playing on, reconnecting when it returns")

    def _release(self, port: BaseInput) -> None:
        port.callback = None
