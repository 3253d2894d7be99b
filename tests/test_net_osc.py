"""OSC through real UDP sockets: python-osc's client sends to the box every declared control and the buttons, junk is
ignored with a few log lines and stops nothing, and the box's notes and steps arrive at a receiver here."""

import random
import socket

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from device.engine.curves import Choices
from device.engine.declaration import CONTROLS
from device.net.osc import RateLimitedSay, read_datagram
from tests.net_helpers import NetBox, free_port, net_config, wait_for


@pytest.fixture
def box(tmp_path):
    net_box = NetBox(net_config(tmp_path, web=False, osc_listen="127.0.0.1:0"))
    yield net_box
    net_box.close()


def send(box, *messages):
    """Send OSC messages (address, value or None) to the box, and wait until its receiver has read them."""
    client = SimpleUDPClient("127.0.0.1", box.remote.osc_port)
    before = box.remote.receiver.received
    for address, value in messages:
        client.send_message(address, [] if value is None else value)
    wait_for(lambda: box.remote.receiver.received >= before + len(messages))


def other_value(control):
    if isinstance(control.curve, Choices):
        return next(option for option in control.curve.options if option != control.default)
    return control.value(0.25)


def test_every_declared_control_is_received_at_its_address(box):
    wanted = {control.name: other_value(control) for control in CONTROLS}
    send(box, *[(f"/melodybox/{name}", value) for name, value in wanted.items()])
    box.step(1)
    got = box.loop.state.values()
    assert got.keys() == wanted.keys()
    for name, value in wanted.items():  # an OSC float is 32 bits
        assert got[name] == (pytest.approx(value, rel=1e-6) if isinstance(value, float) else value), name


def test_text_is_read_by_the_control(box):
    send(box, ("/melodybox/scale", "A:dorian"), ("/melodybox/scale_root", "F#"))
    box.step(1)
    assert (box.loop.state.scale, box.loop.state.scale_root) == ("dorian", 6)


def test_the_buttons_press_reset_pause_and_capture(box):
    box.step(3)
    send(box, ("/melodybox/reset", None))
    box.step(1)
    assert box.remote.live.latest().report.reset == "button"
    send(box, ("/melodybox/pause", None))
    box.step(1)
    assert box.remote.live.latest().report.state == "paused"
    before = len(box.loop.capture.written)
    send(box, ("/melodybox/capture", None))
    box.step(20)
    wait_for(lambda: len(box.loop.capture.written) > before)


def test_a_bundles_messages_act_at_once(box):
    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, value in (("/melodybox/density", 0.75), ("/melodybox/gate", 0.25)):
        message = OscMessageBuilder(address)
        message.add_arg(value)
        bundle.add_content(message.build())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(bundle.build().dgram, ("127.0.0.1", box.remote.osc_port))
    wait_for(lambda: box.remote.receiver.received >= 1)
    box.step(1)
    assert (box.loop.state.density, box.loop.state.gate) == (0.75, 0.25)


@pytest.mark.parametrize(("address", "value", "said"), [
    ("/melodybox/temperature", 9.0, "OSC /melodybox/temperature: 9.0: must be 0..3: ignored"),
    ("/melodybox/temperature", "hot", "OSC /melodybox/temperature: 'hot': must be a number: ignored"),
    ("/melodybox/loop_bars", 3, "OSC /melodybox/loop_bars: 3: must be one of 1, 2, 4, 8: ignored"),
    ("/melodybox/density", [0.1, 0.2], "OSC /melodybox/density: needs one value, a number or text: ignored"),
    ("/melodybox/density", b"\x01\x02", "OSC /melodybox/density: needs one value, a number or text: ignored"),
    ("/melodybox/tempo", 0.5, "OSC /melodybox/tempo: unknown address (controls: /melodybox/<"),
    ("/other/thing", 1, "OSC /other/thing: unknown address"),
])
def test_wrong_addresses_types_and_ranges_are_ignored_with_a_log_line(box, address, value, said):
    send(box, (address, value))
    box.step(2)
    assert box.loop.state.values() == {control.name: control.default for control in CONTROLS}
    assert [line for line in box.said if line.startswith("OSC")][0].startswith(said)


def out_of_range(value) -> bytes:
    message = OscMessageBuilder("/melodybox/temperature")
    message.add_arg(value)
    return message.build().dgram


def test_two_thousand_junk_packets_change_nothing_stop_nothing_and_say_little(box):
    rng = random.Random(18)
    good = out_of_range(0.5)
    wrong = [out_of_range(value) for value in (9.0, -1.0, float("nan"), float("inf"), "hot", True)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(2000):
            kind = i % 4
            if kind == 0:
                data = rng.randbytes(rng.randint(0, 200))
            elif kind == 1:  # a real message cut short
                data = good[:rng.randint(0, len(good) - 4)]  # (a float cut within is read padded, as sent by Reaktor)
            elif kind == 2:
                data = b"#bundle\x00" + rng.randbytes(rng.randint(0, 64))
            else:
                data = rng.choice(wrong)
            sender.sendto(data, ("127.0.0.1", box.remote.osc_port))
            if i % 100 == 99:  # in batches the socket's buffer holds: every packet reaches the box
                wait_for(lambda sent=i + 1: box.remote.receiver.received >= sent)
    box.step(2)
    assert box.remote.receiver.received == 2000
    assert box.loop.state.temperature == 1.0
    assert len([line for line in box.said if line.startswith("OSC")]) <= 3  # one a second at most
    send(box, ("/melodybox/temperature", 0.5))
    box.step(1)
    assert box.loop.state.temperature == 0.5


def test_a_flood_of_log_lines_is_one_a_second_with_a_count():
    now, said = [0.0], []
    say = RateLimitedSay(said.append, clock=lambda: now[0])
    for _ in range(5):
        say("junk")
    now[0] = 1.0
    say("junk")
    assert said == ["junk", "junk (and 4 more ignored)"]


@pytest.mark.parametrize("data", [b"", b"/x", b"/x\x00\x00,z\x00\x00", b"#bundle\x00" + bytes(8) + b"\x7f\xff\xff\xff",
                                  b"/\xff\x00\x00,f\x00\x00" + bytes(4), b"no slash\x00\x00\x00\x00"])
def test_a_datagram_that_is_not_osc_is_refused_in_words(data):
    with pytest.raises(ValueError):
        read_datagram(data)


def test_the_notes_and_steps_the_box_plays_are_sent(tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", free_port(socket.SOCK_DGRAM)))
    listener.settimeout(5)
    net_box = NetBox(net_config(tmp_path, web=False, osc_send=f"127.0.0.1:{listener.getsockname()[1]}"))
    try:
        net_box.step(32)
        played = [(m.note, m.velocity if m.type == "note_on" else 0) for m in net_box.port.messages
                  if m.type in ("note_on", "note_off")]
        wanted = len(played) + 32
        heard = [OscMessage(listener.recvfrom(65536)[0]) for _ in range(wanted)]
    finally:
        net_box.close()
        listener.close()
    assert [m.params[0] for m in heard if m.address == "/melodybox/step"] == list(range(32))
    assert [tuple(m.params) for m in heard if m.address == "/melodybox/note"] == played
    assert all(isinstance(p, int) for m in heard for p in m.params)
