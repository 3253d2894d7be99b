"""The token a write needs: made with ``secrets``, kept in the state folder (mode 0600), compared in constant time.

Every request that changes the box (controls, buttons, models, the configuration) and the one that shows
the configuration must carry ``Authorization: Bearer TOKEN``; reads (the state, the stream, the models and
captures listed) need none. Where the token comes from, first found wins: ``--web-token``, the
environment (``MELODYBOX_WEB_TOKEN``), ``[web] token`` in box.toml, the file ``web-token`` in the
state folder, else a new one written there (the box says where). The state folder is systemd's
``$STATE_DIRECTORY`` (the Pi service: /var/lib/melodybox), else ``$XDG_STATE_HOME/melodybox``, else
``~/.local/state/melodybox``. Standard library only.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from device.core.files import replace_whole

TOKEN_ENV = "MELODYBOX_WEB_TOKEN"
TOKEN_FILE = "web-token"
TOKEN_BYTES = 24  # 192 random bits, 32 characters of URL-safe text
MAX_TOKEN_CHARS = 256


class TokenError(ValueError):
    """A token that cannot be used (empty, too long, spaces or characters a header cannot carry)."""


def check_token(token: str) -> str:
    """``token`` if it can go in an HTTP header (visible ASCII, 1..256 characters), else TokenError."""
    if not 1 <= len(token) <= MAX_TOKEN_CHARS or not all("!" <= c <= "~" for c in token):
        raise TokenError(f"a token is 1..{MAX_TOKEN_CHARS} visible ASCII characters, without spaces")
    return token


def new_token() -> str:
    """A fresh random token (URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def state_folder(environ: Mapping[str, str] | None = None) -> Path:
    """Where the box keeps what it makes for itself: systemd's StateDirectory, else the XDG state folder."""
    environ = os.environ if environ is None else environ
    if environ.get("STATE_DIRECTORY"):
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "melodybox"


def stored_token(folder: Path) -> str | None:
    """The token kept in ``folder`` (None: none, or the file holds no usable token)."""
    try:
        return check_token((folder / TOKEN_FILE).read_text().strip())
    except (OSError, UnicodeDecodeError, TokenError):
        return None


def store_token(folder: Path, token: str) -> Path:
    """Write ``token`` to ``folder``/web-token, readable by this user only (0600), atomically; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TOKEN_FILE
    replace_whole(path, (token + "\n").encode(), mode=0o600)
    return path


def find_token(given: str, folder: Path) -> tuple[str, str]:
    """(token, where it is): ``given`` (flag, environment or box.toml; where: "") if set, else the one stored in
    ``folder``, else a new one stored there (where: "in PATH" or "new, in PATH")."""
    if given:
        return check_token(given), ""
    stored = stored_token(folder)
    if stored is not None:
        return stored, f"in {folder / TOKEN_FILE}"
    token = new_token()
    return token, f"new, in {store_token(folder, token)}"


class Guard:
    """Says whether a request's ``Authorization`` header carries the token (constant-time comparison)."""

    def __init__(self, token: str):
        self._token = check_token(token).encode()

    def allows(self, authorization: str | None) -> bool:
        """True for ``Bearer TOKEN`` with this token (the scheme's case does not matter)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("utf-8", "replace"),
                                                                  self._token)
