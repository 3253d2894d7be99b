"""The HTTP server: the standard library's threading server, bounded and quiet, on a thread of its own.

Each connection is served on its own daemon thread, at most ``MAX_CONNECTIONS`` at once: one more is
answered 503 at once and closed, so a flood of connections costs threads only up to that bound. A
client gets ``REQUEST_SECONDS`` for each read (a slow or stalled sender is dropped). Every response
closes its connection (HTTP/1.0): simple, and nothing waits on an idle client. A request body needs
a Content-Length within the route's limit: a larger one is answered 413 and discarded unread
(``discard``), so neither the memory nor the box notice it. The server logs nothing per request.

``Request`` is what a route sees; a route answers with a ``Reply`` or raises ``HttpError``
(a JSON ``{"error": reason}`` with the status). Standard library only.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from device.net.address import Address

MAX_CONNECTIONS = 32  # served at once; a flood beyond gets 503 and is closed
REQUEST_SECONDS = 10.0  # a client's time for each read of its request
DISCARD_BYTES = 64 * 1024 * 1024  # a refused body up to this size is read and dropped, so the client hears the 413
DISCARD_SECONDS = 5.0
BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" \
       b'{"error": "too many connections: try again"}'
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class HttpError(Exception):
    """A request refused: ``status`` and the reason in words (the reply's ``{"error": reason}``)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


@dataclass
class Reply:
    """A response: ``body`` bytes, or ``stream`` (an iterable of chunks written as they come, e.g. events)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None

    @classmethod
    def json(cls, value: Any, status: int = 200, **headers: str) -> Reply:
        return cls(status, (json.dumps(value) + "\n").encode(), headers=headers)


class Request:
    """What a route sees: the method, the path (not decoded), the query, the headers and ``body(limit)``."""

    def __init__(self, handler: BaseHTTPRequestHandler):
        self._handler = handler
        self.method = handler.command
        parts = urlsplit(handler.path)
        self.path, self.query = parts.path, parse_qs(parts.query)
        self.headers = handler.headers
        self.client = handler.client_address[0]

    def body(self, limit: int) -> bytes:
        """The body, at most ``limit`` bytes: 411 without a Content-Length, 413 above the limit (discarded)."""
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "send the body with a Content-Length (no chunked transfer)")
        if length_text is None:
            return b""
        if not length_text.strip().isdigit():
            raise HttpError(400, f"Content-Length {length_text!r} is not a number of bytes")
        length = int(length_text)
        if length > limit:
            discard(self._handler, length)
            raise HttpError(413, f"the body is {length} bytes; this request takes at most {limit}")
        data = self._handler.rfile.read(length)
        if len(data) < length:
            raise HttpError(400, f"the body ended after {len(data)} of its {length} bytes")
        return data

    def json(self, limit: int) -> Any:
        """The body read as JSON (400 with the reason if it is not)."""
        data = self.body(limit)
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise HttpError(400, f"the body is not JSON ({error})") from None


    def form(self, limit: int) -> dict[str, tuple[str, bytes]]:
        """A multipart/form-data body (a browser's FormData, ``curl -F``): {field: (file name, bytes)}."""
        content_type = self.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
            raise HttpError(415, "send the files as multipart/form-data, e.g. curl -F tflite=@m.tflite -F json=@m.json")
        data = self.body(limit)
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + data)
        if not message.is_multipart():
            raise HttpError(400, "the multipart body cannot be read (its boundary is missing or wrong)")
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[str(name)] = (part.get_filename() or "", part.get_payload(decode=True) or b"")
        return fields


def discard(handler: BaseHTTPRequestHandler, length: int) -> None:
    """Read and drop a refused body (up to DISCARD_BYTES, DISCARD_SECONDS), so the client reads the answer
    instead of a reset connection; a larger one is not read at all (the connection closes)."""
    handler.close_connection = True
    if length > DISCARD_BYTES:
        return
    deadline = time.monotonic() + DISCARD_SECONDS
    try:
        while length > 0 and time.monotonic() < deadline:
            handler.connection.settimeout(max(0.05, deadline - time.monotonic()))  # a slow sender gets no longer
            chunk = handler.rfile.read1(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)
    except OSError:
        return


class Handler(BaseHTTPRequestHandler):
    """Hands every request to the server's ``route`` and writes its Reply (or HttpError) with security headers."""

    server_version = "MelodyBox"
    sys_version = ""
    timeout = REQUEST_SECONDS

    def _serve(self) -> None:
        try:
            reply = self.server.route(Request(self))
        except HttpError as error:
            reply = Reply.json({"error": error.reason}, error.status, **error.headers)
        try:
            self._write(reply)
        except OSError:  # the client went away: nothing to tell it
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def _write(self, reply: Reply) -> None:
        try:
            self._send(reply)
        finally:
            close = getattr(reply.stream, "close", None)
            if close is not None:
                close()  # a stream's generator lets go of what it holds (an event slot) at once

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in (SECURITY_HEADERS | reply.headers).items():
            self.send_header(name, value)
        if reply.stream is None:
            self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.stream is None:
            self.wfile.write(reply.body)
            return
        for chunk in reply.stream:
            self.wfile.write(chunk)
            self.wfile.flush()

    def send_error(self, code, message=None, explain=None):
        """Malformed requests (a bad request line, too many headers): a short JSON answer, no HTML, with a status
        line wherever the request looked like HTTP/1.x at all (the standard library answers those as HTTP/0.9)."""
        self.close_connection = True
        if b"HTTP/" in getattr(self, "raw_requestline", b""):
            self.request_version = "HTTP/1.0"
        with contextlib.suppress(OSError, ValueError):  # the client went away, or its file is closed already
            self._write(Reply.json({"error": message or HTTPStatus(code).phrase}, code))

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format, *args):
        """Quiet: no line per request."""


class HttpServer(ThreadingHTTPServer):
    """The threading HTTP server with a bound on connections served at once; ``route(Request) -> Reply``."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: Address, route: Callable[[Request], Reply], say: Callable[[str], None],
                 max_connections: int = MAX_CONNECTIONS):
        self.address_family = socket.AF_INET6 if address.ipv6 else socket.AF_INET
        self.route, self.say = route, say
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__((address.host, address.port), Handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):  # a full buffer or a client gone: it is closed either way
                request.setblocking(False)
                request.send(BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):
        """A connection that broke (reset, timeout) is dropped quietly; anything else is said in one line. The
        server goes on either way."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            self.say(f"web: a request from {client_address[0]} failed: {type(error).__name__}: {error}")


class ServerThread:
    """``server`` serving on a daemon thread of its own until ``close()`` (idempotent)."""

    def __init__(self, server: HttpServer, name: str = "melodybox-web"):
        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=name,
                                        daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2.0)
