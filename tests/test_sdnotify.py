"""device/sdnotify.py against a real AF_UNIX datagram socket standing in for systemd."""

import os
import socket
import uuid

import pytest

from device.sdnotify import Notifier, Watchdog, watchdog_interval


@pytest.fixture
def systemd(tmp_path):
    """A bound datagram socket, as systemd's notify socket; yields (its NOTIFY_SOCKET value, receive)."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(0)  # a message must already be there: sendto on a datagram socket is synchronous
        yield str(path), lambda: server.recv(4096).decode()


def nothing_received(receive) -> bool:
    try:
        receive()
    except BlockingIOError:
        return True
    return False


def test_ready_sends_ready_and_the_status_in_one_datagram(systemd):
    address, receive = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": address})
    assert notifier.ready("playing to 'USB MIDI'")
    assert receive() == "READY=1\nSTATUS=playing to 'USB MIDI'"


def test_watchdog_status_and_stopping_are_one_message_each(systemd):
    address, receive = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": address})
    notifier.watchdog()
    notifier.status("port lost\nreopening")
    notifier.stopping()
    assert [receive(), receive(), receive()] == ["WATCHDOG=1", "STATUS=port lost reopening", "STOPPING=1"]


def test_an_abstract_socket_written_with_an_at_sign_is_reached():
    name = f"melodybox-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert server.recv(4096) == b"READY=1"
        notifier.close()


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative/notify"}])
def test_without_a_usable_notify_socket_it_is_disabled_and_sends_nothing(environ):
    notifier = Notifier.from_environ(environ)
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert not notifier.watchdog()


def test_a_vanished_systemd_makes_send_return_false_not_raise(tmp_path):
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert notifier.watchdog() is False


def test_the_watchdog_interval_is_half_of_watchdog_usec_in_seconds():
    assert watchdog_interval({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}) == 5.0
    assert watchdog_interval({"WATCHDOG_USEC": "3000", "WATCHDOG_PID": "42"}, pid=42) == 0.0015


@pytest.mark.parametrize("environ", [
    {},
    {"WATCHDOG_USEC": "0"},
    {"WATCHDOG_USEC": "-5"},
    {"WATCHDOG_USEC": "ten"},
    {"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"},  # meant for another process
])
def test_there_is_no_watchdog_interval_without_a_valid_watchdog_for_this_process(environ):
    assert watchdog_interval(environ, pid=1234) is None


def test_watchdog_kick_sends_at_most_once_per_interval_on_the_callers_clock(systemd):
    address, receive = systemd
    watchdog = Watchdog(Notifier.from_environ({"NOTIFY_SOCKET": address}), interval=5.0)
    sent = [watchdog.kick(now) for now in (100.0, 100.125, 104.9, 105.0, 109.99, 110.0)]
    assert sent == [True, False, False, True, False, True]
    assert [receive() for _ in range(3)] == ["WATCHDOG=1"] * 3
    assert nothing_received(receive)


def test_a_loop_that_stops_kicking_stops_the_watchdog_messages(systemd):
    address, receive = systemd
    watchdog = Watchdog(Notifier.from_environ({"NOTIFY_SOCKET": address}), interval=5.0)
    for step in range(80):  # 10 s of 16th notes at 120 bpm, then the loop hangs: no more kicks
        watchdog.kick(step * 0.125)
    assert [receive() for _ in range(2)] == ["WATCHDOG=1"] * 2
    assert nothing_received(receive)


def test_without_a_watchdog_interval_kick_never_sends(systemd):
    address, receive = systemd
    watchdog = Watchdog(Notifier.from_environ({"NOTIFY_SOCKET": address}), interval=None)
    assert not any(watchdog.kick(now) for now in (0.0, 100.0, 1000.0))
    assert nothing_received(receive)
