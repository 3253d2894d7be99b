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
(device/midi/midi_out.py): a lost input (``alive`` says it is no longer listed, twice in a row:
on JACK a listing opens a client, which can fail on a loaded machine) never stops the box;
``reopen`` is tried at most every ``retry_seconds``, from the loop's thread (in ``drain``
and while the follower waits), never from the callback.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass

import mido
from mido.ports import BaseInput

from device.core.clock import Clock, MonotonicClock
from device.midi.ports import PORT_ERRORS

CLOCK_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})  # to the follower
EVENT_CAPACITY = 256  # channel messages held between two drains (a step is >= 37.5 ms at 400 bpm)
CLOCK_CAPACITY = 1024  # clock messages held for the follower (it reads them as they come)
MISSING_CHECKS = 2  # a port is lost when this many checks in a row do not list it (a listing can fail under load)


@dataclass(frozen=True)
class InputEvent:
    """One received message; ``time``: the box clock's time (seconds) when rtmidi delivered it."""

    time: float
    message: mido.Message


class MidiIn:
    """The box's MIDI input on ``port`` (a mido input, or None: start disconnected and wait for ``reopen``).

    ``channel``: 0..15 (mido numbering) to keep only that channel's messages, None for omni.
    ``reopen`` returns a fresh input port (raising OSError/rtmidi errors if it cannot);
    ``alive`` says whether the port is still listed. ``keep_events`` False (a box playing solo)
    ignores channel messages. ``warn`` gets one line per new problem
    (a flood, a lost or regained port), always from the caller's thread.
    Counters: ``received``, ``dropped``, ``garbage``, ``losses``, ``reconnects``.
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
        self.clock = clock if clock is not None else MonotonicClock()
        self.channel = channel
        self.keep_events = True  # False: channel messages are dropped at once (nobody drains them)
        self._reopen, self._alive = reopen, alive
        self.retry_seconds = float(retry_seconds)
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
        self.losses = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self._closed = False
        self._port: BaseInput | None = None
        self.connected = False
        self._next_check = self.clock.now() + self.retry_seconds
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
        """
        with self._arrived:
            while not self._clock_events:
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
            event = self._clock_events.popleft() if self._clock_events else None
        if event is None:
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
        now = self.clock.now()
        if self._closed or now < self._next_check:
            return
        self._next_check = now + self.retry_seconds
        if self.connected:
            self._missing = 0 if self._alive is None or self._alive() else self._missing + 1
            if self._missing >= MISSING_CHECKS:
                self._lose("the port is no longer listed")
            return
        if self._reopen is None:
            return
        try:
            port = self._reopen()
        except PORT_ERRORS as error:
            self.last_error = str(error)
            return
        self._attach(port)
        self.reconnects += 1
        self._warn(f"MIDI input {self.name!r} is back")

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

    def _lose(self, why: str) -> None:
        name = self.name
        self.losses += 1
        self.last_error = why
        self._drop_port()
        self._warn(f"MIDI input {name!r} lost ({why}): playing on, reconnecting when it returns")

    def _drop_port(self) -> None:
        port, self._port, self.connected = self._port, None, False
        if port is None:
            return
        try:
            port.callback = None
            port.close()
        except PORT_ERRORS as error:  # the device is gone; nothing more to release
            self.last_error = str(error)
