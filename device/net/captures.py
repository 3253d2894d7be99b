"""Captures over the network: taking one, listing the folder, and handing out a file by its name.

A capture is asked for like the button (a ``capture`` event through the changes queue) and written by
device/play/capture.py at the next bar line; ``take`` waits for that file, at most two bars and two
seconds, and returns its name. The listing holds the files in the capture folder whose names are
captures' names (``capture-YYYYmmdd-HHMMSS[-N].mid``), regular files only. A file is handed out only
by a name found in that listing: the name asked for is looked up there, never joined into a path, so
nothing else on the disk can be reached.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from device.core.timegrid import step_seconds
from device.net.changes import Changes
from device.net.live import Live
from device.play.capture import Capture

CAPTURE_NAME = re.compile(r"capture-\d{8}-\d{6}(?:-\d+)?\.mid")
POLL_SECONDS = 0.02
DEFAULT_BPM = 120.0  # to time the wait before the first step reports a tempo


class CaptureError(Exception):
    """A capture not taken: ``status`` (503 busy or 504 no bar line came, 500 the write failed) and why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class Captures:
    """The box's ``capture`` and its folder, as the API sees them."""

    def __init__(self, capture: Capture, changes: Changes, live: Live):
        self.capture, self.changes, self.live = capture, changes, live

    @property
    def folder(self) -> Path:
        return self.capture.folder

    def listing(self) -> dict[str, Path]:
        """{name: path} of the captures in the folder (none if it does not exist yet)."""
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return {}
        return {path.name: path for path in entries
                if CAPTURE_NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink()}

    def listing_json(self) -> list[dict[str, Any]]:
        """The captures, newest first: name, bytes, modified (seconds since the epoch)."""
        rows = []
        for name, path in self.listing().items():
            try:
                stat = path.stat()
            except OSError:
                continue
            rows.append({"name": name, "bytes": stat.st_size, "modified": round(stat.st_mtime, 3)})
        return sorted(rows, key=lambda row: (row["modified"], row["name"]), reverse=True)

    def file(self, name: str) -> tuple[str, bytes] | None:
        """(name, contents) of the capture called ``name`` in the listing, or None."""
        path = self.listing().get(name)
        if path is None:
            return None
        try:
            return name, path.read_bytes()
        except OSError:
            return None

    def take(self) -> str:
        """Press capture and wait for the file (at most two bars and two seconds); its name, or CaptureError."""
        written, failed = len(self.capture.written), len(self.capture.failures)
        if not self.changes.press("capture"):
            raise CaptureError(503, "the box is busy with changes: try again")
        seen = self.live.latest()
        bpm = seen.report.bpm if seen is not None and seen.report.bpm > 0 else DEFAULT_BPM
        deadline = time.monotonic() + 2 * self.live.bar_steps * step_seconds(bpm) + 2.0
        while time.monotonic() < deadline:
            if len(self.capture.written) > written:
                return self.capture.written[written].name
            if len(self.capture.failures) > failed:
                raise CaptureError(500, f"the capture could not be written: {self.capture.failures[failed]}")
            time.sleep(POLL_SECONDS)
        raise CaptureError(504, "no bar line came (is the transport stopped?): the capture is written at the next one")
