"""OSC (Open Sound Control) over UDP: every declared control and button in, the box's notes and steps out.

In (``--osc [HOST:]PORT``): ``/melodybox/<control> value`` for every declared control (engine/declaration.py;
a value as a number or text, e.g. ``/melodybox/scale "A:dorian"``), and ``/melodybox/reset``,
``/melodybox/pause``, ``/melodybox/capture``. A bundle's messages act at once (its time tag is not
waited for). Each value is checked by its control and handed to the loop through the changes queue;
anything else (junk, an unknown address, a wrong type or range) is ignored with a log line, at most
one a second with a count of those left unsaid: a flood of junk can neither stop the receiver nor
flood the log. Datagrams are read on one thread of ours with python-osc's strict type readers; nothing
is ever sent back to a sender.

Out (``--osc-send HOST:PORT``): ``/melodybox/note pitch velocity`` for every note the box plays (velocity
0 ends it) and ``/melodybox/step n`` after each step. The loop only drops them into a bounded queue
(never waits); a thread of ours sends them with python-osc.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types

from device.engine.declaration import BUTTONS, Control, ControlError
from device.net.address import Address
from device.net.changes import Changes

PREFIX = "/melodybox/"
MAX_DATAGRAM = 65536
MAX_BUNDLE_DEPTH = 4
SEND_QUEUE = 1024  # messages waiting to go out; more are dropped (a receiver that cannot keep up loses some)
READERS = {"i": osc_types.get_int, "f": osc_types.get_float, "s": osc_types.get_string, "d": osc_types.get_double,
           "h": osc_types.get_int64, "b": osc_types.get_blob}
CONSTANTS = {"T": True, "F": False, "N": None}


class OscError(ValueError):
    """A datagram that is not OSC this box reads; the message says why."""


def read_datagram(data: bytes, depth: int = 0) -> list[tuple[str, list[Any]]]:
    """The messages of an OSC datagram (a message, or a bundle of them) as (address, arguments); OscError if not."""
    try:
        if data.startswith(b"#bundle\x00"):
            if depth >= MAX_BUNDLE_DEPTH:
                raise OscError("bundles nested too deep")
            messages, index = [], 16  # "#bundle\0" and the 8-byte time tag
            while index < len(data):
                size, index = osc_types.get_int(data, index)
                if size <= 0 or index + size > len(data):
                    raise OscError("a bundle element's size is wrong")
                messages += read_datagram(data[index:index + size], depth + 1)
                index += size
            return messages
        address, index = osc_types.get_string(data, 0)
        if not address.startswith("/"):
            raise OscError("not an OSC message (no address)")
        if index >= len(data):
            return [(address, [])]
        tags, index = osc_types.get_string(data, index)
        if not tags.startswith(","):
            raise OscError("no type tags")
        arguments = []
        for tag in tags[1:]:
            if tag in CONSTANTS:
                arguments.append(CONSTANTS[tag])
            elif tag in READERS:
                if index >= len(data):  # python-osc reads a float with no bytes left as 0.0: it is missing
                    raise OscError(f"the {tag!r} argument is missing (the message is cut short)")
                value, index = READERS[tag](data, index)
                arguments.append(value)
            else:
                raise OscError(f"argument type {tag!r} is not read here")
        return [(address, arguments)]
    except (osc_types.ParseError, UnicodeDecodeError) as error:
        raise OscError(f"not OSC ({error})") from None


class RateLimitedSay:
    """A ``say`` that says at most one line a second, then how many it left unsaid."""

    def __init__(self, say: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        self.say, self.clock = say, clock
        self._next, self._unsaid = 0.0, 0

    def __call__(self, line: str) -> None:
        now = self.clock()
        if now < self._next:
            self._unsaid += 1
            return
        more = f" (and {self._unsaid} more ignored)" if self._unsaid else ""
        self._next, self._unsaid = now + 1.0, 0
        self.say(line + more)


class OscReceiver:
    """Receives OSC on ``address`` (UDP) on a thread of its own; turns messages into checked changes."""

    def __init__(self, address: Address, table: Mapping[str, Control], changes: Changes,
                 say: Callable[[str], None]):
        self.table, self.changes, self.log = table, changes, RateLimitedSay(say)
        self.buttons = {PREFIX + button.name: button.name for button in BUTTONS}
        family = socket.AF_INET6 if address.ipv6 else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.socket.bind((address.host, address.port))
        except OSError:
            self.socket.close()
            raise
        self.socket.settimeout(0.2)
        self.received = self.ignored = 0
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="melodybox-osc-in", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                data, sender = self.socket.recvfrom(MAX_DATAGRAM)
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return  # closed
            self.received += 1
            try:
                for address, arguments in read_datagram(data):
                    self.handle(address, arguments)
            except OscError as error:
                self.ignored += 1
                self.log(f"OSC from {sender[0]}: {error}: ignored")

    def handle(self, address: str, arguments: list[Any]) -> None:
        """One message: a control's value or a button; anything else is ignored with a log line."""
        if address in self.buttons:
            if not self.changes.press(self.buttons[address]):
                self._ignore(address, "the box is busy with changes")
            return
        name = address[len(PREFIX):] if address.startswith(PREFIX) else None
        if name not in self.table:
            self._ignore(address, f"unknown address (controls: {PREFIX}<{'|'.join(self.table)}>, buttons: "
                         f"{', '.join(self.buttons)})")
            return
        if len(arguments) != 1 or not isinstance(arguments[0], bool | int | float | str):
            self._ignore(address, "needs one value, a number or text")
            return
        try:
            values = self.table[name].parse(arguments[0])
        except ControlError as error:
            self._ignore(address, f"{arguments[0]!r}: {error}")
            return
        if not self.changes.put(values):
            self._ignore(address, "the box is busy with changes")

    def _ignore(self, address: str, reason: str) -> None:
        self.ignored += 1
        self.log(f"OSC {address[:80]}: {reason}: ignored")

    def close(self) -> None:
        """Stop receiving (idempotent)."""
        self._closing.set()
        self._thread.join(1.0)
        self.socket.close()


class OscSender:
    """Sends the box's notes and steps to ``address`` from a thread of its own; the loop only queues them."""

    def __init__(self, address: Address):
        family = socket.AF_INET6 if address.ipv6 else socket.AF_INET
        self.target = (address.host, address.port)
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.sent = self.dropped = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="melodybox-osc-out", daemon=True)
        self._thread.start()

    def note(self, pulse: int, pitch: int, velocity: int) -> None:
        """MidiOut's recorder: a note-on, or its end (velocity 0). On the loop's thread: queued only."""
        self._put(("/melodybox/note", (pitch, velocity)))

    def on_step(self, report) -> None:
        """The loop's on_step: ``/melodybox/step n`` for a step the transport ran (not while it is stopped)."""
        if report.running:
            self._put(("/melodybox/step", (report.step,)))

    def _put(self, message) -> None:
        if self._queue.qsize() >= SEND_QUEUE:
            self.dropped += 1
            return
        self._queue.put(message)

    def _run(self) -> None:
        while (message := self._queue.get()) is not None:
            address, arguments = message
            builder = OscMessageBuilder(address)
            for argument in arguments:
                builder.add_arg(int(argument), OscMessageBuilder.ARG_TYPE_INT)
            try:
                self.socket.sendto(builder.build().dgram, self.target)
                self.sent += 1
            except OSError:  # nobody listens, a full buffer, no route: the box plays on
                self.dropped += 1

    def close(self) -> None:
        """Send what is queued, then stop (idempotent)."""
        self._queue.put(None)
        self._thread.join(1.0)
        self.socket.close()
