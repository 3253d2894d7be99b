"""The JSON API and the page: every route, its token check, its limits, and the reason for every refusal.

Reads need no token: ``GET /api/state``, ``/api/controls`` (the declaration), ``/api/events`` (Server-Sent
Events, one ``step`` event per step), ``/api/models``, ``/api/captures`` and ``/api/captures/NAME``, and the
page (``/``, ``/app.js``, ``/style.css``). Everything that changes the box, and ``GET /api/config`` (the file
may hold the token), needs ``Authorization: Bearer TOKEN`` (401 without). A refusal is a JSON
``{"error": reason}`` with its status: 400 a wrong value (unknown control, wrong type, out of range, not
JSON), 404 an unknown path or name, 405 a wrong method, 409 a conflict, 411/413 a body without a length
or above its limit, 422 a model that cannot be played, 503 too busy. docs/network.md lists every route.
Static files are served from the package's ``static`` folder by names listed once at start.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from importlib import resources

from device.engine.declaration import ControlError
from device.net.auth import Guard
from device.net.captures import CaptureError, Captures
from device.net.changes import Changes, parse_controls
from device.net.configfile import MAX_CONFIG_BYTES, ConfigFile, ConfigFileError
from device.net.library import Library, LibraryError
from device.net.live import Live, controls_json, report_json
from device.net.server import HttpError, Reply, Request

MAX_JSON_BYTES = 64 * 1024  # a request's JSON: a few controls, a name
MAX_MODEL_BYTES = 32 * 1024 * 1024  # an upload: the .tflite and its contract (the shipped float32 model is 5 MB)
MAX_STREAMS = 8  # pages following the event stream at once
BACKLOG_EVENTS = 128  # steps sent to a page as it opens, for its roll
EVENT_POLL_SECONDS = 0.03
KEEPALIVE_SECONDS = 15.0
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}


def static_files() -> dict[str, tuple[bytes, str]]:
    """{url path: (contents, type)} of the page's files shipped in the package (read once, at start)."""
    folder = resources.files("device.net") / "static"
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in STATIC_TYPES:
            files["/" + entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    files["/"] = files["/index.html"]
    return files


class Api:
    """Routes requests to the box's parts; ``route`` is the server's one entry point."""

    def __init__(self, table: Mapping, changes: Changes, live: Live, guard: Guard, library: Library,
                 captures: Captures, config: ConfigFile):
        self.table, self.changes, self.live, self.guard = table, changes, live, guard
        self.library, self.captures, self.config = library, captures, config
        self.static = static_files()
        self.closing = threading.Event()  # set at close: event streams end
        self._streams = threading.BoundedSemaphore(MAX_STREAMS)
        self.routes: dict[tuple[str, str], tuple[Callable[[Request], Reply], bool]] = {
            ("GET", "/api/state"): (self.state, False),
            ("GET", "/api/controls"): (self.declaration, False),
            ("POST", "/api/controls"): (self.set_controls, True),
            ("POST", "/api/reset"): (self.press("reset"), True),
            ("POST", "/api/pause"): (self.press("pause"), True),
            ("POST", "/api/capture"): (self.capture, True),
            ("GET", "/api/captures"): (self.capture_listing, False),
            ("GET", "/api/models"): (self.models, False),
            ("POST", "/api/models"): (self.upload, True),
            ("POST", "/api/model"): (self.switch, True),
            ("GET", "/api/config"): (self.config_text, True),
            ("PUT", "/api/config"): (self.replace_config, True),
            ("GET", "/api/events"): (self.events, False),
        }

    def route(self, request: Request) -> Reply:
        method = "GET" if request.method == "HEAD" else request.method
        if request.path.startswith("/api/captures/"):
            return self._only(method, "GET") or self.capture_file(request)
        if (method, request.path) in self.routes:
            handler, needs_token = self.routes[method, request.path]
            if needs_token and not self.guard.allows(request.headers.get("Authorization")):
                raise HttpError(401, "this needs the box's token: Authorization: Bearer TOKEN",
                                {"WWW-Authenticate": 'Bearer realm="melodybox"'})
            return handler(request)
        allowed = sorted(m for m, path in self.routes if path == request.path)
        if allowed:
            raise HttpError(405, f"{request.path} takes {', '.join(allowed)}", {"Allow": ", ".join(allowed)})
        if method == "GET" and request.path in self.static:
            body, content_type = self.static[request.path]
            return Reply(200, body, content_type)
        raise HttpError(404, f"no such page or route: {request.path[:200]}")

    def _only(self, method: str, wanted: str) -> None:
        if method != wanted:
            raise HttpError(405, f"this takes {wanted}", {"Allow": wanted})

    # --- reads --------------------------------------------------------------------------------------------

    def state(self, request: Request) -> Reply:
        seen = self.live.latest()
        if seen is None:
            raise HttpError(503, "the box has not played its first step yet: ask again in a moment")
        return Reply.json(report_json(seen, self.live.bar_steps))

    def declaration(self, request: Request) -> Reply:
        return Reply.json(controls_json(self.table))

    def models(self, request: Request) -> Reply:
        return Reply.json({"models": self.library.listing_json(), "current": self.library.current})

    def capture_listing(self, request: Request) -> Reply:
        return Reply.json({"captures": self.captures.listing_json()})

    def capture_file(self, request: Request) -> Reply:
        name = request.path[len("/api/captures/"):]
        found = self.captures.file(name)
        if found is None:
            raise HttpError(404, "no capture by that name: GET /api/captures lists them")
        name, data = found
        return Reply(200, data, "audio/midi", {"Content-Disposition": f'attachment; filename="{name}"'})

    def events(self, request: Request) -> Reply:
        if not self._streams.acquire(blocking=False):
            raise HttpError(503, f"{MAX_STREAMS} pages follow the box already: close one")
        return Reply(200, content_type="text/event-stream", stream=self._stream())

    def _stream(self) -> Iterator[bytes]:
        """``step`` events: the last steps first (for the roll), then each new one as the loop reports it."""
        try:
            yield b"retry: 2000\n\n"
            kept = self.live.since(0)
            last = kept[-BACKLOG_EVENTS - 1].number if len(kept) > BACKLOG_EVENTS else 0
            quiet = 0.0
            while not self.closing.is_set():
                fresh = self.live.since(last)
                if fresh:
                    last = fresh[-1].number
                    quiet = 0.0
                    yield b"".join(b"event: step\ndata: " + json.dumps(report_json(seen, self.live.bar_steps))
                                   .encode() + b"\n\n" for seen in fresh)
                elif quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield b": still here\n\n"
                self.closing.wait(EVENT_POLL_SECONDS)
                quiet += EVENT_POLL_SECONDS
        finally:
            self._streams.release()

    # --- writes -------------------------------------------------------------------------------------------

    def set_controls(self, request: Request) -> Reply:
        try:
            values = parse_controls(self.table, request.json(MAX_JSON_BYTES))
        except ControlError as error:
            raise HttpError(400, str(error)) from None
        self._queue(values)
        return Reply.json({"controls": values})

    def press(self, button: str) -> Callable[[Request], Reply]:
        def pressed(request: Request) -> Reply:
            request.body(MAX_JSON_BYTES)  # read (and ignore) whatever came with it
            if not self.changes.press(button):
                raise HttpError(503, "the box is busy with changes: try again")
            return Reply.json({"pressed": button})

        return pressed

    def capture(self, request: Request) -> Reply:
        request.body(MAX_JSON_BYTES)
        try:
            return Reply.json({"name": self.captures.take()})
        except CaptureError as error:
            raise HttpError(error.status, error.reason) from None

    def switch(self, request: Request) -> Reply:
        body = request.json(MAX_JSON_BYTES)
        try:
            return Reply.json(self.library.switch(body.get("name") if isinstance(body, dict) else None))
        except LibraryError as error:
            raise HttpError(error.status, error.reason) from None

    def upload(self, request: Request) -> Reply:
        fields = request.form(MAX_MODEL_BYTES)
        if "tflite" not in fields or "json" not in fields:
            raise HttpError(400, "send two files: tflite (the model) and json (its contract), "
                            f"got {', '.join(sorted(fields)) or 'none'}")
        filename, model = fields["tflite"]
        name = fields["name"][1].decode("utf-8", "replace").strip() if "name" in fields else \
            filename.rpartition("/")[2].removesuffix(".tflite")
        try:
            return Reply.json(self.library.upload(name, model, fields["json"][1]), 201)
        except LibraryError as error:
            raise HttpError(error.status, error.reason) from None

    def config_text(self, request: Request) -> Reply:
        try:
            return Reply(200, self.config.text().encode("utf-8"), "application/toml; charset=utf-8")
        except ConfigFileError as error:
            raise HttpError(error.status, error.reason) from None

    def replace_config(self, request: Request) -> Reply:
        try:
            return Reply.json(self.config.replace(request.body(MAX_CONFIG_BYTES)))
        except ConfigFileError as error:
            raise HttpError(error.status, error.reason) from None

    def _queue(self, change: dict) -> None:
        if not self.changes.put(change):
            raise HttpError(503, "the box is busy with changes: try again")
