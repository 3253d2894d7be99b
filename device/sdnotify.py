"""systemd's sd_notify protocol with the standard library: READY=1, WATCHDOG=1, STATUS=..., STOPPING=1.

Under a unit with ``Type=notify`` (device/pi/melodybox.service) systemd sets ``NOTIFY_SOCKET``, a
datagram socket: a file path, or an abstract socket written with a leading ``@``. Each message is
one datagram of ``KEY=value`` lines. With ``WatchdogSec=`` systemd also sets ``WATCHDOG_USEC`` (and
``WATCHDOG_PID``); a service that does not send ``WATCHDOG=1`` within that time is killed and
restarted. Outside systemd nothing is set and every call does nothing, so the box calls it always.

How the box uses it (one Notifier, made where the box starts)::

    notifier = Notifier.from_environ()        # reads NOTIFY_SOCKET; disabled if unset
    ...load the model, open the port...
    notifier.ready("playing to 'USB MIDI'")  # READY=1 + STATUS: systemd now counts the start done
    watchdog = Watchdog(notifier, watchdog_interval())   # None interval (no watchdog): never sends
    while playing:
        ...one step...
        watchdog.kick(clock.now())            # sends WATCHDOG=1 when interval seconds have passed
    notifier.stopping()
    notifier.close()

Sending never raises: a failed send (systemd gone, socket full) returns False, and the music goes
on; a box that really stops notifying is what the watchdog is there to catch.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def _address(value: str | None) -> str | bytes | None:
    """The socket address for a NOTIFY_SOCKET value: a path, an abstract name ('@' -> NUL), or None."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # systemd only ever sets absolute paths or abstract names; anything else is not ours


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 messages: half of WATCHDOG_USEC, or None if there is no watchdog.

    None also if WATCHDOG_PID is set to another process (the watchdog is for the main process only,
    ``NotifyAccess=main``), or if WATCHDOG_USEC is not a positive whole number of microseconds.
    """
    environ = os.environ if environ is None else environ
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    return int(usec) / 2 / 1e6


class Notifier:
    """Sends sd_notify messages to one socket address; does nothing when ``address`` is None."""

    def __init__(self, address: str | bytes | None):
        self.address = address
        self._socket: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """A notifier for NOTIFY_SOCKET (path or '@abstract'), disabled if it is unset or not an address."""
        environ = os.environ if environ is None else environ
        return cls(_address(environ.get("NOTIFY_SOCKET")))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``fields`` (e.g. "READY=1") as one datagram. True if sent; False if disabled or it failed."""
        if self.address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(fields).encode(), self.address)
            return True
        except OSError:
            return False

    def ready(self, status: str | None = None) -> bool:
        """READY=1 (the box plays), with a STATUS line if given."""
        return self.send("READY=1", *([_status(status)] if status else []))

    def status(self, text: str) -> bool:
        """STATUS=text: shown by ``systemctl status melodybox``."""
        return self.send(_status(text))

    def watchdog(self) -> bool:
        """WATCHDOG=1: the loop is alive."""
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        """STOPPING=1: the box is shutting down on purpose."""
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status(text: str) -> str:
    return "STATUS=" + " ".join(text.splitlines())  # one line: a newline would start another field


class Watchdog:
    """Rate-limits WATCHDOG=1 to one per ``interval`` seconds (None: never), for calling on every step."""

    def __init__(self, notifier: Notifier, interval: float | None):
        self.notifier = notifier
        self.interval = interval
        self._last: float | None = None

    def kick(self, now: float) -> bool:
        """Send WATCHDOG=1 if ``interval`` seconds (on the caller's clock) passed since the last one sent."""
        if self.interval is None or (self._last is not None and now - self._last < self.interval):
            return False
        sent = self.notifier.watchdog()
        if sent:
            self._last = now
        return sent
