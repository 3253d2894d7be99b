"""The JSON API through a real port: reads, the token, every control by name, the buttons, the event stream and
every refusal with its reason. The box is stepped by the test on a fake clock, so each answer is exact."""

import dataclasses
import http.client
import json
import socket

import pytest

from device.config import controls_table
from device.core.scales import note_name
from device.engine.curves import Choices
from device.engine.declaration import CONTROLS
from device.net.api import MAX_JSON_BYTES
from device.net.server import MAX_CONNECTIONS
from tests.net_helpers import TOKEN, NetBox, net_config


@pytest.fixture
def box(tmp_path):
    net_box = NetBox(net_config(tmp_path))
    yield net_box
    net_box.close()


def state(box):
    status, _, body = box.request("GET", "/api/state", token=None)
    assert status == 200
    return body


def a_value_other_than_the_default(control):
    """A value each control can take that is not where it starts (from its own curve)."""
    if isinstance(control.curve, Choices):
        return next(option for option in control.curve.options if option != control.default)
    value = control.value(0.25)
    return value if value != control.default else control.value(0.75)


def test_state_gives_the_stable_fields_and_every_declared_control_by_name(box):
    box.step(3)
    body = state(box)
    assert {"step", "state", "bpm", "note", "model", "controls"} <= set(body)
    assert (body["step"], body["state"], body["bpm"], body["model"]) == (2, "playing", 120.0, "default")
    assert list(body["controls"]) == [control.name for control in CONTROLS]
    assert body["controls"] == box.loop.state.values()


def test_state_names_the_note_sounding_after_each_step(box):
    for _ in range(24):
        box.step(1)
        body = state(box)
        sounding = box.box.midi_out.sounding
        assert (body["note"], body["note_name"]) == (sounding, None if sounding is None else note_name(sounding))


def test_state_before_the_first_step_is_503_with_the_reason(box):
    status, _, body = box.request("GET", "/api/state", token=None)
    assert (status, body) == (503, {"error": "the box has not played its first step yet: ask again in a moment"})


def test_a_change_without_the_token_is_401_and_changes_nothing(box):
    status, headers, body = box.request("POST", "/api/controls", {"temperature": 0.4}, token=None)
    box.step(2)
    assert (status, body["error"]) == (401, "this needs the box's token: Authorization: Bearer TOKEN")
    assert headers["WWW-Authenticate"] == 'Bearer realm="melodybox"'
    assert box.loop.state.temperature == 1.0


@pytest.mark.parametrize("authorization", ["Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN, ""])
def test_a_wrong_token_is_401(box, authorization):
    status, _, _ = box.request("POST", "/api/reset", token=None, headers={"Authorization": authorization})
    assert status == 401


def test_a_control_set_by_name_plays_from_the_next_step(box):
    box.step(2)
    status, _, body = box.request("POST", "/api/controls", {"temperature": 0.4})
    assert (status, body) == (200, {"controls": {"temperature": 0.4}})
    box.step(1)
    assert box.loop.state.temperature == 0.4
    assert state(box)["controls"]["temperature"] == 0.4


def test_every_declared_control_can_be_set_by_its_name(box):
    wanted = {control.name: a_value_other_than_the_default(control) for control in CONTROLS}
    status, _, _ = box.request("POST", "/api/controls", wanted)
    box.step(1)
    assert status == 200
    assert state(box)["controls"] == wanted


def test_text_values_are_read_by_the_control_itself(box):
    status, _, body = box.request("POST", "/api/controls", {"scale": "A:dorian", "density": "0.25"})
    box.step(1)
    assert (status, body["controls"]) == (200, {"scale": "dorian", "scale_root": 9, "density": 0.25})
    assert (box.loop.state.scale, box.loop.state.scale_root, box.loop.state.density) == ("dorian", 9, 0.25)


@pytest.mark.parametrize(("values", "reason"), [
    ({"tempo": 0.4}, "unknown control 'tempo' (known: " + ", ".join(c.name for c in CONTROLS) + ")"),
    ({"temperature": [0.4]}, "temperature: must be a number or text, not list"),
    ({"temperature": None}, "temperature: must be a number or text, not NoneType"),
    ({"temperature": {"value": 1}}, "temperature: must be a number or text, not dict"),
    ({"temperature": True}, "temperature: must be a number"),
    ({"temperature": "hot"}, "temperature: must be a number"),
    ({"temperature": 9}, "temperature: must be 0..3"),
    ({"density": -0.1}, "density: must be 0..1"),
    ({"loop_bars": 3}, "loop_bars: must be one of 1, 2, 4, 8"),
    ({"register_centre": 60.5}, "register_centre: must be a whole number"),
    ({"scale": "Z:major"}, "scale: 'Z' is not a note name (C, C#, Db, D, ..., B) (a scale is NAME or ROOT:NAME, "
     "e.g. C:major)"),
    ({"density": 0.2, "temperature": 99}, "temperature: must be 0..3"),
    ({}, 'expected an object of controls and values, e.g. {"temperature": 0.4}'),
    ([0.4], 'expected an object of controls and values, e.g. {"temperature": 0.4}'),
])
def test_a_wrong_name_type_or_range_is_400_with_the_reason_and_changes_nothing(box, values, reason):
    status, _, body = box.request("POST", "/api/controls", values)
    box.step(2)
    assert (status, body) == (400, {"error": reason})
    assert box.loop.state.values() == {control.name: control.default for control in CONTROLS}


def test_the_temperature_range_is_the_configured_one(tmp_path):
    config = net_config(tmp_path)
    config = dataclasses.replace(config, temperature=dataclasses.replace(config.temperature, low=0.5, high=2.0))
    net_box = NetBox(config)
    try:
        status, _, body = net_box.request("POST", "/api/controls", {"temperature": 0.2})
        assert (status, body) == (400, {"error": "temperature: must be 0.5..2"})
        assert controls_table(config)["temperature"].curve.low == 0.5
    finally:
        net_box.close()


def test_broken_json_is_400_with_the_reason(box):
    status, _, body = box.request("POST", "/api/controls", b'{"temperature": 0.4', headers={
        "Content-Type": "application/json"})
    assert status == 400
    assert body["error"].startswith("the body is not JSON (Expecting")


def test_a_body_over_the_limit_is_413_read_to_its_end_and_changes_nothing(box):
    body = b'{"temperature": 0.4, "padding": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    status, _, reply = box.request("POST", "/api/controls", body)
    box.step(1)
    assert (status, reply) == (413, {"error": f"the body is {len(body)} bytes; this request takes at most "
                                              f"{MAX_JSON_BYTES}"})
    assert box.loop.state.temperature == 1.0
    assert box.request("GET", "/api/controls")[0] == 200  # the server serves on


def test_a_chunked_body_is_411(box):
    connection = http.client.HTTPConnection("127.0.0.1", box.web_port, timeout=10)
    connection.request("POST", "/api/controls", body=iter([b'{"temperature": 0.4}']),
                       headers={"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"})
    reply = connection.getresponse()
    assert (reply.status, json.loads(reply.read())) == (
        411, {"error": "send the body with a Content-Length (no chunked transfer)"})
    connection.close()


@pytest.mark.parametrize(("garbage", "answer"), [
    (b"\x00\xff\x16\x03 nonsense \r\n\r\n", b'{"error": "Bad HTTP/0.9 request type'),  # no status line in 0.9
    (b"GET / HTTP/1.1 extra\r\n\r\n", b"HTTP/1.0 400 "),
    (b"GET / HTTP/7.1\r\n\r\n", b"HTTP/1.0 505 "),
    (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", b"HTTP/1.0 431 "),
])
def test_garbage_instead_of_http_is_answered_with_an_error_and_the_server_serves_on(box, garbage, answer):
    with socket.create_connection(("127.0.0.1", box.web_port), timeout=10) as raw:
        raw.sendall(garbage)
        assert raw.recv(4096).startswith(answer)
    assert box.request("GET", "/api/controls")[0] == 200


def test_more_connections_than_the_bound_are_turned_away_with_503_then_served_again(box):
    held = [socket.create_connection(("127.0.0.1", box.web_port), timeout=10) for _ in range(MAX_CONNECTIONS)]
    try:
        with socket.create_connection(("127.0.0.1", box.web_port), timeout=10) as one_more:
            one_more.sendall(b"GET /api/controls HTTP/1.0\r\n\r\n")
            assert one_more.recv(4096).startswith(b"HTTP/1.0 503")
    finally:
        for connection in held:
            connection.close()
    assert box.request("GET", "/api/controls")[0] == 200


def test_reset_is_the_button(box):
    box.step(4)
    status, _, body = box.request("POST", "/api/reset")
    box.step(1)
    assert (status, body) == (200, {"pressed": "reset"})
    assert box.remote.live.latest().report.reset == "button"


def test_pause_pauses_and_again_resumes(box):
    box.step(2)
    assert box.request("POST", "/api/pause")[0] == 200
    box.step(1)
    assert state(box)["state"] == "paused"
    box.request("POST", "/api/pause")
    box.step(1)
    assert state(box)["state"] == "playing"


def test_the_declaration_describes_every_control_for_the_page(box):
    status, _, body = box.request("GET", "/api/controls", token=None)
    kinds = {control["name"]: control["kind"] for control in body["controls"]}
    assert status == 200
    assert list(kinds) == [control.name for control in CONTROLS]
    assert (kinds["temperature"], kinds["density"], kinds["scale"]) == ("table", "range", "choice")
    assert [button["name"] for button in body["buttons"]] == ["reset", "pause", "capture"]


def test_an_unknown_route_is_404_and_a_wrong_method_405_with_what_it_takes(box):
    assert box.request("GET", "/api/nothing")[:1] == (404,)
    status, headers, body = box.request("DELETE", "/api/controls")
    assert (status, headers["Allow"], body) == (405, "GET, POST", {"error": "/api/controls takes GET, POST"})


@pytest.mark.parametrize(("path", "kind", "start"), [("/", "text/html", b"<!doctype html>"),
                                                     ("/app.js", "text/javascript", b"// Melody Box"),
                                                     ("/style.css", "text/css", b"/* Melody Box")])
def test_the_page_and_its_files_are_served_with_their_types_and_a_strict_policy(box, path, kind, start):
    status, headers, body = box.request("GET", path, token=None)
    assert (status, headers["Content-Type"].split(";")[0]) == (200, kind)
    assert body.startswith(start)
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self': no inline script anywhere
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.parametrize("path", ["/../device/net/api.py", "/static/../api.py", "/%2e%2e/api.py", "/index.html/..",
                                  "//etc/passwd", "/app.js%00.png"])
def test_only_the_files_of_the_page_are_served(box, path):
    assert box.request("GET", path, token=None)[0] == 404


def test_the_event_stream_sends_each_step_as_it_is_played(box):
    box.step(3)
    connection = http.client.HTTPConnection("127.0.0.1", box.web_port, timeout=10)
    connection.request("GET", "/api/events")
    reply = connection.getresponse()
    assert (reply.status, reply.getheader("Content-Type")) == (200, "text/event-stream")
    assert reply.fp.readline() == b"retry: 2000\n"
    reply.fp.readline()
    seen = []
    while len(seen) < 5:
        if len(seen) == 3:
            box.step(2)
        line = reply.fp.readline()
        if line.startswith(b"data: "):
            seen.append(json.loads(line[6:])["step"])
    connection.close()
    assert seen == [0, 1, 2, 3, 4]
