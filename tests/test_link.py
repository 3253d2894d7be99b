"""device.transport.link: the Link transport on a scripted timeline; two real Link peers here (needs aalink)."""

import importlib.util
import os
import subprocess
import sys
import time

import pytest

from device.config import from_dict
from device.doctor import check_link
from device.transport.link import LinkTransport, LinkUnavailable
from tests.recording import ROOT


class ScriptedLink:
    """Stands in for aalink.Link: ``sync`` resolves to the next beat of a script."""

    def __init__(self, beats, tempo=120.0):
        self.beats, self.tempo, self.num_peers = list(beats), tempo, 0
        self.quantum = self.enabled = None

    async def sync(self, fraction):
        return self.beats.pop(0)


def pulses(transport, count):
    return [transport.next_tick() for _ in range(count)]


def test_pulse_n_is_beat_n_over_24_of_the_session():
    transport = LinkTransport(120, link=ScriptedLink([i / 24 for i in range(8)]))
    assert [tick.pulse for tick in pulses(transport, 8)] == list(range(8))
    assert transport.link.quantum == 4 and transport.link.enabled is True


def test_a_step_pulse_missed_while_busy_is_played_late_and_the_rest_are_not_made_up():
    transport = LinkTransport(120, link=ScriptedLink([b / 24 for b in (4, 5, 8, 9, 10)]))
    assert [tick.pulse for tick in pulses(transport, 4)] == [4, 5, 6, 9]
    assert transport.skipped == 2  # 7 and 8


def test_only_the_newest_step_of_a_long_stall_plays():
    transport = LinkTransport(120, link=ScriptedLink([b / 24 for b in (0, 40)]))
    assert [tick.pulse for tick in pulses(transport, 2)] == [0, 36]


def test_a_pulse_is_never_delivered_twice():
    transport = LinkTransport(120, link=ScriptedLink([b / 24 for b in (3, 3, 2, 4)]))
    assert [tick.pulse for tick in pulses(transport, 2)] == [3, 4]


def test_ticks_before_beat_0_are_not_running():
    transport = LinkTransport(120, link=ScriptedLink([b / 24 for b in (-2, -1, 0)]))
    assert [tick.running for tick in pulses(transport, 3)] == [False, False, True]


def test_the_tempo_is_the_sessions():
    link = ScriptedLink([0.0], tempo=97.5)
    assert LinkTransport(120, link=link).bpm == 97.5


PEER = """
import asyncio, sys, time
from aalink import Link
async def main():
    link = Link(90.0)
    link.quantum = 4
    link.enabled = True
    print("ready", flush=True)
    while sys.stdin.readline().strip() == "beat?":
        print(time.monotonic(), link.beat, link.tempo, flush=True)
asyncio.run(main())
"""


def test_two_peers_on_this_machine_share_tempo_and_phase():
    pytest.importorskip("aalink")
    peer = subprocess.Popen([sys.executable, "-c", PEER], cwd=ROOT, env=os.environ, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout.readline().strip() == "ready"
        said = []
        transport = LinkTransport(120.0, say=said.append)
        try:
            end = time.monotonic() + 10
            ticks = []
            while time.monotonic() < end and not transport.peers:
                ticks.append(transport.next_tick())
            if not transport.peers:
                pytest.skip("Link peers found no one here in 10 s (no multicast on this machine's network?)")
            ticks += pulses(transport, 48)  # half a second at 90 bpm: the session's tempo has reached both
            peer.stdin.write("beat?\n")
            peer.stdin.flush()
            peer_time, peer_beat, peer_tempo = map(float, peer.stdout.readline().split())
            ours = transport.link.beat - (time.monotonic() - peer_time) * transport.bpm / 60
        finally:
            transport.close()
    finally:
        peer.stdin.close()
        peer.wait(timeout=10)
    # One session, one tempo: the peer's 90 when it was there first (Link's rule; a loaded machine can
    # make the box's session the older one, then both play 120).
    assert transport.bpm == pytest.approx(peer_tempo) and peer_tempo in (pytest.approx(90.0), pytest.approx(120.0))
    assert said[0].startswith("Link: 1 other app(s) in the session")
    assert all(b.pulse > a.pulse for a, b in zip(ticks, ticks[1:], strict=False))
    offset = (ours - peer_beat) % 4  # the same place in the bar (quantum 4), give or take the readings' delay
    assert min(offset, 4 - offset) < 0.1, (ours, peer_beat)


def test_without_aalink_the_link_clock_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "aalink", None)  # import aalink fails, as where it is not installed
    with pytest.raises(LinkUnavailable, match=r"--clock link needs the aalink package: pip install aalink"):
        LinkTransport(120)


def test_doctor_says_the_link_clock_needs_aalink(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    check = check_link(from_dict({"clock": {"mode": "link"}}))
    assert (check.status, check.fix) == ("missing", "pip install aalink")


def test_doctor_checks_no_link_for_the_other_clocks():
    assert check_link(from_dict({"clock": {"mode": "follow"}})) is None
