"""Network addresses from the command line and box.toml: ``[HOST:]PORT`` to listen on, ``HOST:PORT`` to send to.

A listening address without a host is this machine only (127.0.0.1): a box is reachable from the
network only when told so (``0.0.0.0:8080``, or one of its addresses). IPv6 hosts go in brackets
(``[::1]:8080``). Port 0 listens on any free port (the box says which). Standard library only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

LOOPBACK_HOST = "127.0.0.1"  # the default host: this machine only
MAX_PORT = 65535


class AddressError(ValueError):
    """Text that is not [HOST:]PORT or HOST:PORT; the message says why."""


@dataclass(frozen=True)
class Address:
    """A host (name, IPv4 or IPv6 without brackets) and a port (0..65535; 0: any free port)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def ipv6(self) -> bool:
        return ":" in self.host

    @property
    def loopback(self) -> bool:
        """Reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def everywhere(self) -> bool:
        """Every interface of this machine (0.0.0.0 or ::)."""
        return self.host in ("0.0.0.0", "::")


def _split(text: str) -> tuple[str, str]:
    """(host, port) text of ``HOST:PORT``, ``[V6]:PORT`` or ``PORT`` (host "")."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise AddressError(f"{text!r} is not [IPV6]:PORT, e.g. [::1]:8080")
        return host, rest[1:]
    host, colon, port = text.rpartition(":")
    if colon and ":" in host:
        raise AddressError(f"{text!r}: an IPv6 host goes in brackets, e.g. [::1]:8080")
    return host, port


def _port(text: str, whole: str, lowest: int) -> int:
    if not text.isdigit() or not lowest <= int(text) <= MAX_PORT:
        raise AddressError(f"{whole!r}: the port must be a number {lowest}..{MAX_PORT}")
    return int(text)


def _host(text: str, whole: str) -> str:
    if not text or any(c.isspace() or c in "/?#@[]" for c in text):
        raise AddressError(f"{whole!r}: {text!r} is not a host name or address")
    return text


def listen_address(text: str) -> Address:
    """``[HOST:]PORT`` to listen on; the host defaults to 127.0.0.1 (this machine only)."""
    host, port = _split(text)
    return Address(_host(host, text) if host else LOOPBACK_HOST, _port(port, text, 0))


def send_address(text: str) -> Address:
    """``HOST:PORT`` to send to: both needed, the port 1..65535."""
    host, port = _split(text)
    if not host:
        raise AddressError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:9001")
    return Address(_host(host, text), _port(port, text, 1))
