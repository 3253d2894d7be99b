"""mDNS: a box reachable from the network advertises melodybox.local with _http._tcp and _osc._udp; on loopback it
advertises nothing; without zeroconf it says so in one line. The real advertisement is browsed in a network
namespace of its own with loopback alone (unshare), so no packet leaves this machine."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from device.net import mdns
from device.net.address import listen_address

ROOT = Path(__file__).resolve().parents[1]
BROWSE = """
import json, sys, time
from zeroconf import ServiceBrowser, ServiceListener, Zeroconf
from device.net import mdns
from device.net.address import listen_address
said = []
advertiser = mdns.advertise((listen_address("0.0.0.0:8080"), 8080), (listen_address("0.0.0.0:9000"), 9000), said.append)
found = {}
class Listener(ServiceListener):
    def add_service(self, zc, kind, name):
        info = zc.get_service_info(kind, name, timeout=3000)
        found[name] = [info.port, info.server, info.parsed_addresses(), {k.decode(): v.decode() for k, v in
                       info.properties.items()}]
    update_service = remove_service = lambda *args: None
browser = Zeroconf(interfaces=["10.99.0.1"])
ServiceBrowser(browser, [mdns.HTTP_TYPE, mdns.OSC_TYPE], Listener())
deadline = time.monotonic() + 15
while (len(found) < 2 or not said) and time.monotonic() < deadline:
    time.sleep(0.05)
browser.close()
advertiser.close()
print(json.dumps({"found": found, "said": said}))
"""
NAMESPACE = ("ip link set lo up && ip link set lo multicast on && ip addr add 10.99.0.1/32 dev lo && "
             "ip route add 224.0.0.0/4 dev lo && exec {python} -c \"$BROWSE\"")


def test_a_box_on_loopback_advertises_nothing_and_says_nothing():
    said = []
    assert mdns.advertise((listen_address("127.0.0.1:8080"), 8080), (listen_address("9000"), 9000), said.append) is None
    assert said == []


def test_an_address_that_is_not_this_machines_is_not_advertised():
    assert mdns.advertised_addresses(listen_address("box.example:8080")) == []
    assert mdns.advertised_addresses(listen_address("192.168.1.20:8080")) == ["192.168.1.20"]


def test_without_zeroconf_it_says_so_in_one_line_and_the_box_plays_on(monkeypatch):
    monkeypatch.setitem(sys.modules, "zeroconf", None)  # as if the package were not installed
    said = []
    assert mdns.advertise((listen_address("192.168.1.20:8080"), 8080), None, said.append) is None
    assert said == ["mDNS: not advertised (the zeroconf package is not installed: pip install zeroconf)"]


def test_the_page_and_osc_are_found_as_melodybox_local_on_the_network():
    command = ["unshare", "--net", "sh", "-c", NAMESPACE.format(python=sys.executable)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env={"PYTHONPATH": str(ROOT), "BROWSE": BROWSE, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    except FileNotFoundError:
        pytest.skip("unshare is not installed (util-linux)")
    if done.returncode != 0 and ("Operation not permitted" in done.stderr or "unshare failed" in done.stderr):
        pytest.skip(f"no network namespace here to browse in: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["found"] == {
        "Melody Box._http._tcp.local.": [8080, "melodybox.local.", ["10.99.0.1"], {"path": "/"}],
        "Melody Box._osc._udp.local.": [9000, "melodybox.local.", ["10.99.0.1"], {}],
    }
    assert result["said"] == ["advertised on the local network as melodybox.local (10.99.0.1)"]
