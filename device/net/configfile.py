"""The box's TOML configuration over the network: read it, or replace it after the box's own checks.

``ConfigFile`` holds the path the box was started with (``--config``; None: started without one, and
both routes answer 409 saying so) and ``check``, the app's checker: the same reading and checking as at
start (device/config.py), returning an ``Edit`` that says which changed keys apply now (the controls'
start values, handed to the loop as changes) and which at the next start. A replacement is written
atomically: a temp file beside it, fsync, rename, fsync of the folder, so a power cut leaves the old
file or the new one, never a mix. The file keeps its permissions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device.core.files import replace_whole
from device.net.changes import Changes

MAX_CONFIG_BYTES = 64 * 1024


class ConfigFileError(Exception):
    """Reading or replacing refused: ``status`` and the reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Edit:
    """What a checked new configuration changes: ``now`` {control: value} applied at once (``now_keys`` their
    section.key), ``next_start`` the other changed keys; ``accept`` makes it the configuration compared with next."""

    now: dict[str, Any] = field(default_factory=dict)
    now_keys: list[str] = field(default_factory=list)
    next_start: list[str] = field(default_factory=list)
    accept: Callable[[], None] = lambda: None


class ConfigFile:
    """The configuration file at ``path`` (None: none); ``check(text) -> Edit`` raises ValueError with the reason."""

    def __init__(self, path: Path | None, check: Callable[[str], Edit], changes: Changes):
        self.path, self.check, self.changes = path, check, changes

    def _path(self) -> Path:
        if self.path is None:
            raise ConfigFileError(409, "the box was started without --config: there is no file to show or "
                                  "change (start it with --config box.toml)")
        return self.path

    def text(self) -> str:
        path = self._path()
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigFileError(500, f"{path}: cannot be read ({error})") from None

    def replace(self, data: bytes) -> dict[str, Any]:
        """Check ``data`` (TOML) as at start, write it atomically, apply what applies now; the reply's content."""
        path = self._path()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigFileError(400, "the configuration is not UTF-8 text") from None
        try:
            edit = self.check(text)
        except ValueError as error:
            raise ConfigFileError(400, str(error)) from None
        try:
            replace_whole(path, data)
        except OSError as error:
            raise ConfigFileError(500, f"{path}: cannot be written ({error.strerror}); nothing changed") from None
        edit.accept()
        applied = bool(edit.now) and self.changes.put(edit.now)
        return {"path": str(path), "written": True, "now": edit.now_keys if applied else [],
                "next_start": edit.next_start + ([] if applied or not edit.now else edit.now_keys)}
