"""The installed models over the network: listing them, switching the box to one, adding one.

The models folder is the folder of the model the box started with. A model is installed there as
``NAME.tflite`` with its ``NAME.json`` contract beside it, NAME of letters, digits, ``-`` and ``_``.
A switch names a model from the listing (never a path): the new model is loaded and primed here, on
the request's thread, by ``load`` (the assembly's own loader, so it is checked exactly as at start),
then handed to the loop, which swaps it in at the next step with the old note ended
(device/play/loop.py ``swap_generator``). An upload is written into a hidden folder inside the models
folder, loaded by ``load`` as the box would load it at start, and moved into place (contract first,
model last, each fsynced) only if that succeeds; else it is deleted and the reason is returned. The
box plays on throughout. One switch or upload at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.core.contract import ContractError, load_contract
from device.core.files import sync_folder, write_synced
from device.net.live import Live

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SWITCH_SECONDS = 5.0  # waited for the loop to take a new model; a stopped transport takes it at its next step
UPLOAD_PREFIX = ".upload-"


class LibraryError(Exception):
    """A switch or upload refused: ``status`` and the reason in words."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


Load = Callable[[Path], tuple[Any, Any]]  # a .tflite -> (model, generator), checked and primed as at start


class Library:
    """The models in ``folder``; ``current`` is the model playing; ``load`` loads one; ``loop`` plays it."""

    def __init__(self, folder: Path, current: Path, load: Load, loop, live: Live, load_errors: tuple = (),
                 say: Callable[[str], None] = lambda line: None):
        self.folder, self.load, self.loop, self.live, self.say = Path(folder), load, loop, live, say
        self.errors = (ContractError, *load_errors)  # what a model that cannot be played raises
        self.current = current.stem
        live.model = self.current
        self._lock = threading.Lock()
        self._models: list = []  # the models loaded here, closed at close() (the box closes its own)

    def listing(self) -> dict[str, Path]:
        """{name: .tflite path} of the models installed (a .tflite with its .json, a name as above)."""
        try:
            entries = list(self.folder.glob("*.tflite"))
        except OSError:
            return {}
        return {path.stem: path for path in entries if MODEL_NAME.fullmatch(path.stem) and path.is_file()
                and path.with_suffix(".json").is_file()}

    def listing_json(self) -> list[dict[str, Any]]:
        """The models by name: bytes, precision (from the contract; "?" if it cannot be read), current."""
        rows = []
        for name, path in sorted(self.listing().items()):
            try:
                precision = load_contract(path, check_file=False).precision
            except ContractError:
                precision = "?"
            rows.append({"name": name, "bytes": path.stat().st_size, "precision": precision,
                         "current": name == self.current})
        return rows

    def switch(self, name: Any) -> dict[str, Any]:
        """Play the installed model ``name`` from the next step on; {"model": name, "switched": ...}."""
        if not isinstance(name, str):
            raise LibraryError(400, 'name the model: {"name": "default"}')
        path = self.listing().get(name)
        if path is None:
            raise LibraryError(404, f"no installed model {name!r} (installed: {', '.join(sorted(self.listing()))})")
        with self._exclusive():
            if name == self.current:
                return {"model": name, "switched": False}
            model, generator = self._load(path, name)
            taken, retired = threading.Event(), []

            def swapped(old) -> None:  # on the loop's thread, at the step the new model starts: nothing slow here
                self.live.model = name
                retired.append(old.model)
                taken.set()

            self.current = name
            self._models.append(model)
            self.loop.swap_generator(generator, swapped)
            if not taken.wait(SWITCH_SECONDS):
                return {"model": name, "switched": False,
                        "reason": "the transport is stopped: the model starts at the next step"}
            self._retire(retired[0])
            self.say(f"switched to the model {name} ({path})")
            return {"model": name, "switched": True}

    def upload(self, name: str, tflite: bytes, contract: bytes) -> dict[str, Any]:
        """Check ``tflite`` and its ``contract`` as the box checks a model at start and install them as ``name``."""
        if not MODEL_NAME.fullmatch(name):
            raise LibraryError(400, f"{name!r} is not a model name: 1..64 letters, digits, - and _, "
                               "starting with a letter or digit")
        with self._exclusive():
            if (self.folder / f"{name}.tflite").exists() or (self.folder / f"{name}.json").exists():
                raise LibraryError(409, f"a model {name!r} is installed already: choose another name")
            try:
                staging = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX, dir=self.folder))
            except OSError as error:
                raise LibraryError(507, f"cannot write to the models folder {self.folder}: {error.strerror}") from None
            try:
                model_path = staging / f"{name}.tflite"
                write_synced(model_path.with_suffix(".json"), contract)
                write_synced(model_path, tflite)
                model, _ = self._load(model_path, name)
                model.close()
                for suffix in (".json", ".tflite"):  # the model last: listed only once both are in place
                    os.rename(model_path.with_suffix(suffix), self.folder / f"{name}{suffix}")
                sync_folder(self.folder)
            except OSError as error:
                raise LibraryError(507, f"cannot install {name} in {self.folder}: {error.strerror}") from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        self.say(f"installed the model {name} in {self.folder}")
        return {"model": name, "installed": True}

    def _retire(self, model) -> None:
        """Close a model the loop no longer plays, if it was loaded here (the box closes the one it started with)."""
        if model in self._models:
            self._models.remove(model)
            model.close()

    def _load(self, path: Path, name: str):
        try:
            return self.load(path)
        except self.errors as error:
            reason = str(error).replace(str(path.parent) + os.sep, "")  # the staging folder means nothing to anyone
            raise LibraryError(422, f"the model {name} cannot be played: {reason}") from None

    def _exclusive(self):
        if not self._lock.acquire(blocking=False):
            raise LibraryError(409, "another model is being switched or installed: try again")
        return _Held(self._lock)

    def close(self) -> None:
        """Close the models loaded here (after the loop has stopped). Idempotent."""
        for model in self._models:
            model.close()
        self._models.clear()


class _Held:
    def __init__(self, lock: threading.Lock):
        self._lock = lock

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()

