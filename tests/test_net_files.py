"""What the API reaches on disk, through a real port: captures (by names from the listing only), the box.toml the
box started with (checked as at start, written atomically) and the models folder (a switch between two steps with
no stuck note; uploads checked as at start). The box is stepped by the test on a fake clock."""

import io
import json
import os
import stat
import uuid

import mido
import pytest

from device.config import load_config
from device.core.timegrid import PULSES_PER_STEP
from device.net.api import MAX_MODEL_BYTES
from tests.net_helpers import NetBox, copy_model, net_config
from tests.recording import max_polyphony, shipped_model_path, sounding_notes


@pytest.fixture
def box(tmp_path):
    net_box = NetBox(net_config(tmp_path))
    yield net_box
    net_box.close()


def multipart(fields: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type, as curl -F or a browser's FormData send them."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, (filename, data) in fields.items():
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(box, fields):
    body, content_type = multipart(fields)
    return box.request("POST", "/api/models", body, headers={"Content-Type": content_type})


# --- captures -------------------------------------------------------------------------------------------------


def test_capture_returns_the_name_of_the_file_written_at_the_next_bar_line(box):
    box.step(5)
    status, _, body = box.while_stepping(lambda: box.request("POST", "/api/capture"))
    assert status == 200
    path = box.loop.capture.folder / body["name"]
    assert path.is_file()
    assert mido.MidiFile(path).length > 0


def test_a_capture_downloads_by_its_name_from_the_listing(box):
    box.step(5)
    name = box.while_stepping(lambda: box.request("POST", "/api/capture"))[2]["name"]
    status, _, listing = box.request("GET", "/api/captures", token=None)
    assert (status, [capture["name"] for capture in listing["captures"]]) == (200, [name])
    status, headers, data = box.request("GET", f"/api/captures/{name}", token=None)
    assert (status, headers["Content-Type"], headers["Content-Disposition"]) == (
        200, "audio/midi", f'attachment; filename="{name}"')
    assert data == (box.loop.capture.folder / name).read_bytes()
    assert mido.MidiFile(file=io.BytesIO(data)).type == 0


@pytest.mark.parametrize("name", ["../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e/secret.mid",
                                  "/etc/passwd", "secret.mid", "capture-20260101-000000.mid/..", "",
                                  "capture-20260101-000000.MID", "capture-20260101-000000.mid%00"])
def test_nothing_but_a_capture_from_the_listing_is_reachable(box, tmp_path, name):
    folder = box.loop.capture.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.mid").write_bytes(b"not for you")
    (tmp_path / "secret.mid").write_bytes(b"not for you either")
    status, _, body = box.request("GET", f"/api/captures/{name}", token=None)
    assert (status, body) == (404, {"error": "no capture by that name: GET /api/captures lists them"})


def test_a_link_named_like_a_capture_is_not_in_the_listing(box, tmp_path):
    folder = box.loop.capture.folder
    folder.mkdir(parents=True, exist_ok=True)
    (tmp_path / "outside.txt").write_text("outside")
    (folder / "capture-20260101-000000.mid").symlink_to(tmp_path / "outside.txt")
    assert box.request("GET", "/api/captures")[2] == {"captures": []}
    assert box.request("GET", "/api/captures/capture-20260101-000000.mid")[0] == 404


def test_a_capture_without_a_bar_line_says_why(tmp_path):
    net_box = NetBox(net_config(tmp_path))
    try:
        net_box.remote.live.bar_steps = 1  # a short wait: two bars of one step at 120 bpm, and 2 s
        status, _, body = net_box.request("POST", "/api/capture")  # nothing steps: no bar line comes
        assert (status, body) == (504, {"error": "no bar line came (is the transport stopped?): the capture is "
                                                  "written at the next one"})
    finally:
        net_box.close()


# --- the configuration ----------------------------------------------------------------------------------------


@pytest.fixture
def configured(tmp_path):
    net_config(tmp_path)  # the models folder
    path = tmp_path / "box.toml"
    path.write_text(f'[model]\npath = "models/default.tflite"\n\n[tempo]\nbpm = 120\n\n[music]\ndensity = 0.5\n\n'
                    f'[capture]\nfolder = "captures"\n\n[web]\nlisten = "127.0.0.1:0"\ntoken = "{"t" * 24}"\n')
    path.chmod(0o640)
    net_box = NetBox(load_config(path), config_path=str(path))
    net_box.token = "t" * 24
    yield net_box, path
    net_box.close()


def test_a_box_started_without_a_config_file_says_so_with_409(box):
    for method, body in (("GET", None), ("PUT", b"[tempo]\nbpm = 90\n")):
        status, _, reply = box.request(method, "/api/config", body)
        assert (status, reply) == (409, {"error": "the box was started without --config: there is no file to show "
                                                  "or change (start it with --config box.toml)"})


def test_the_config_is_shown_with_the_token_only(configured):
    net_box, path = configured
    assert net_box.request("GET", "/api/config", token=None)[0] == 401
    status, headers, text = net_box.request("GET", "/api/config", token=net_box.token)
    assert (status, headers["Content-Type"], text) == (200, "application/toml; charset=utf-8", path.read_bytes())


def test_a_new_config_is_checked_written_and_says_what_applies_now_and_what_at_the_next_start(configured):
    net_box, path = configured
    new = path.read_text().replace("bpm = 120", "bpm = 90").replace("density = 0.5", "density = 0.8")
    status, _, reply = net_box.request("PUT", "/api/config", new.encode(), token=net_box.token)
    net_box.step(1)
    assert (status, reply) == (200, {"path": str(path), "written": True, "now": ["music.density"],
                                     "next_start": ["tempo.bpm"]})
    assert path.read_text() == new
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert net_box.loop.state.density == 0.8
    assert net_box.loop.transport.bpm == 120.0


def test_a_config_with_a_wrong_value_is_400_naming_the_key_and_the_file_stays(configured):
    net_box, path = configured
    before = path.read_bytes()
    for text, reason in ((b"[midi]\nchannel = 17\n", "box.toml: midi.channel = 17: must be 1..16"),
                         (b"[music]\ndensity = 2.0\n", "box.toml: music.density = 2.0: must be 0..1"),
                         (b"[tempo\n", "box.toml: not valid TOML (Expected ']' at the end of a table declaration "
                                       "(at line 1, column 7))"),
                         (b"\xff\xfe", "the configuration is not UTF-8 text")):
        status, _, reply = net_box.request("PUT", "/api/config", text, token=net_box.token)
        assert (status, reply["error"].replace(str(path.parent) + os.sep, "")) == (400, reason)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".box.toml")] == []


# --- the models -----------------------------------------------------------------------------------------------


def test_the_installed_models_are_listed_with_the_one_playing(box):
    status, _, body = box.request("GET", "/api/models", token=None)
    assert status == 200
    assert [(m["name"], m["precision"], m["current"]) for m in body["models"]] == [
        ("default", "float32", True), ("default-float16", "float16", False), ("default-int8", "int8", False)]


def test_a_switch_plays_the_other_model_from_a_step_boundary_with_no_note_left_sounding(box):
    box.step(16)
    status, _, body = box.while_stepping(lambda: box.request("POST", "/api/model", {"name": "default-int8"}))
    box.step(16)
    assert (status, body) == (200, {"model": "default-int8", "switched": True})
    assert box.loop.generator.model.path.name == "default-int8.tflite"
    switched = next(seen for seen in box.remote.live.since(0) if seen.report.reset == "model")
    assert switched.model == "default-int8" and switched.report.token < 128  # it opens with a note, as after a reset
    at_switch = box.loop.transport.deadline(switched.report.step * PULSES_PER_STEP)
    before = [message for message, time in zip(box.port.messages, box.port.times, strict=True) if time < at_switch]
    at = [message for message, time in zip(box.port.messages, box.port.times, strict=True) if time == at_switch]
    assert [m.note for m in at if m.type == "note_on" and m.velocity] == [switched.report.token]
    assert sounding_notes(before + at) == {(0, switched.report.token)}  # the old model's note has ended there
    assert max_polyphony(box.port.messages) == 1


@pytest.mark.parametrize("name", ["nothing", "../models/default", "default.tflite", "/etc/passwd", 3, None])
def test_only_a_model_from_the_listing_can_be_switched_to(box, name):
    status, _, body = box.request("POST", "/api/model", {"name": name})
    assert status in (400, 404)
    assert box.loop.generator.model.path.name == "default.tflite"


def test_an_upload_is_checked_as_at_start_installed_and_listed(box, tmp_path):
    source = copy_model(shipped_model_path(), tmp_path / "mine", "mine")
    status, _, body = upload(box, {"tflite": ("mine.tflite", source.read_bytes()),
                                   "json": ("mine.json", source.with_suffix(".json").read_bytes())})
    assert (status, body) == (201, {"model": "mine", "installed": True})
    folder = tmp_path / "models"
    assert (folder / "mine.tflite").read_bytes() == source.read_bytes()
    assert "mine" in [model["name"] for model in box.request("GET", "/api/models")[2]["models"]]
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_an_upload_whose_contract_does_not_match_is_refused_with_the_reason_and_nothing_is_installed(box, tmp_path):
    source = copy_model(shipped_model_path(), tmp_path / "mine", "mine")
    contract = json.loads(source.with_suffix(".json").read_text())
    contract["tflite"]["bytes"] += 1
    box.step(2)
    status, _, body = upload(box, {"tflite": ("mine.tflite", source.read_bytes()),
                                   "json": ("mine.json", json.dumps(contract).encode())})
    box.step(2)
    assert status == 422
    assert body["error"] == (f"the model mine cannot be played: mine.tflite: {source.stat().st_size} bytes, but its "
                             f"contract records {source.stat().st_size + 1} (truncated, or a different model than the "
                             "contract describes)")
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted(
        p.name for p in shipped_model_path().parent.glob("default*") if p.suffix in (".tflite", ".json"))
    assert box.remote.live.latest().report.state == "playing"


def test_an_upload_that_is_not_a_model_is_refused(box):
    contract = shipped_model_path().with_suffix(".json").read_bytes()
    status, _, body = upload(box, {"tflite": ("junk.tflite", b"junk"), "json": ("junk.json", contract)})
    assert status == 422
    assert body["error"].startswith("the model junk cannot be played: junk.tflite: 4 bytes, but its contract records")


@pytest.mark.parametrize(("fields", "status", "reason"), [
    ({"tflite": ("../evil.tflite", b"x"), "json": ("evil.json", b"{}")}, 201, None),  # the file's name alone counts
    ({"tflite": ("x.tflite", b"x"), "json": ("x.json", b"{}"), "name": ("", b"../../evil")}, 400,
     "'../../evil' is not a model name: 1..64 letters, digits, - and _, starting with a letter or digit"),
    ({"tflite": (".hidden.tflite", b"x"), "json": ("x.json", b"{}")}, 400,
     "'.hidden' is not a model name: 1..64 letters, digits, - and _, starting with a letter or digit"),
    ({"tflite": ("default.tflite", b"x"), "json": ("x.json", b"{}")}, 409,
     "a model 'default' is installed already: choose another name"),
    ({"json": ("x.json", b"{}")}, 400, "send two files: tflite (the model) and json (its contract), got json"),
])
def test_an_upload_needs_both_files_and_a_plain_new_name(box, fields, status, reason):
    got, _, body = upload(box, fields)
    if reason is None:  # "../evil.tflite" is named evil, then refused as no model, never written outside
        assert (got, body["error"].split(":")[0]) == (422, "the model evil cannot be played")
    else:
        assert (got, body) == (status, {"error": reason})


def test_an_upload_over_the_limit_is_413(box):
    status, _, body = box.request("POST", "/api/models", b"x" * (MAX_MODEL_BYTES + 1), headers={
        "Content-Type": "multipart/form-data; boundary=b"})
    assert (status, body) == (413, {"error": f"the body is {MAX_MODEL_BYTES + 1} bytes; this request takes at most "
                                             f"{MAX_MODEL_BYTES}"})


def test_an_upload_that_is_not_a_form_is_415(box):
    status, _, body = box.request("POST", "/api/models", {"tflite": "x"})
    assert status == 415
