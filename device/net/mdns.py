"""Telling the local network where the box is: mDNS/DNS-SD with zeroconf, where the machine has it.

A box listening beyond this machine advertises ``melodybox.local`` with the page as ``_http._tcp``
("Melody Box", path /) and its OSC input as ``_osc._udp``, so a phone or TouchDesigner finds it
without its address. Optional: without the zeroconf package it says so in one line and plays on.
Registration (which probes the network for a second or two) runs on a thread of its own; a box
listening on loopback only advertises nothing.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable

from device.net.address import Address

HOST_NAME = "melodybox.local."
SERVICE_NAME = "Melody Box"
HTTP_TYPE, OSC_TYPE = "_http._tcp.local.", "_osc._udp.local."


def machine_addresses() -> list[str]:
    """This machine's IPv4 addresses but loopback (from ifaddr, which zeroconf brings)."""
    import ifaddr  # lazy: an optional extra's dependency, loaded only when the box advertises itself

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ipaddress.ip_address(ip.ip).is_loopback and ip.ip not in found:
                found.append(ip.ip)
    return found


def advertised_addresses(listen: Address) -> list[str]:
    """The addresses a box listening on ``listen`` is reached at from the network ([] for loopback or IPv6)."""
    if listen.loopback or listen.ipv6:
        return []
    if listen.everywhere:
        return machine_addresses()
    try:
        return [str(ipaddress.IPv4Address(listen.host))]
    except ValueError:
        return []  # a host name: its address is not ours to say


class Advertiser:
    """Registers the services on a thread of its own; ``close()`` says goodbye on the network (idempotent)."""

    def __init__(self, services: list[tuple[str, int]], addresses: list[str], say: Callable[[str], None]):
        self.services, self.addresses, self.say = services, addresses, say
        self.registered: list[str] = []  # the names the services got (a second box becomes "Melody Box (2)")
        self._zeroconf = None
        self._thread = threading.Thread(target=self._register, name="melodybox-mdns", daemon=True)
        self._thread.start()

    def _register(self) -> None:
        from zeroconf import Error, ServiceInfo, Zeroconf  # lazy: optional (the device extra has it), absent = a line

        try:
            self._zeroconf = Zeroconf(interfaces=self.addresses)
            for service_type, port in self.services:
                info = ServiceInfo(service_type, f"{SERVICE_NAME}.{service_type}", port=port, server=HOST_NAME,
                                   properties={"path": "/"} if service_type == HTTP_TYPE else {},
                                   parsed_addresses=self.addresses)
                self._zeroconf.register_service(info, allow_name_change=True)
                self.registered.append(info.name)
            self.say(f"advertised on the local network as {HOST_NAME.rstrip('.')} ({', '.join(self.addresses)})")
        except (Error, OSError, RuntimeError, ValueError) as error:  # no multicast here, a name taken, a timeout
            self.say(f"mDNS: not advertised ({type(error).__name__}: {error})")

    def close(self) -> None:
        self._thread.join(5.0)
        zeroconf, self._zeroconf = self._zeroconf, None
        if zeroconf is not None:
            zeroconf.unregister_all_services()
            zeroconf.close()


def advertise(web: tuple[Address, int] | None, osc: tuple[Address, int] | None,
              say: Callable[[str], None]) -> Advertiser | None:
    """Advertise the page (``web``: where it listens, its port) and the OSC input, if reachable from the network.
    None when there is nothing to advertise or zeroconf is not installed (said in one line)."""
    listening = [(kind, address, port) for kind, pair in ((HTTP_TYPE, web), (OSC_TYPE, osc)) if pair
                 for address, port in [pair] if advertised_addresses(address)]
    if not listening:
        return None
    try:
        import zeroconf  # noqa: F401  # lazy: optional; its absence is one line, not an error
    except ImportError:
        say("mDNS: not advertised (the zeroconf package is not installed: pip install zeroconf)")
        return None
    addresses = sorted({a for _, address, _ in listening for a in advertised_addresses(address)})
    return Advertiser([(kind, port) for kind, _, port in listening], addresses, say)
