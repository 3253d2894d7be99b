"""The Debian packages the tests need, in one place: how to tell each one is here, and `make test`'s set-up step.

``python3 -m tests.system_packages`` (`make test` runs it first, with the system Python: only the standard
library is used at import) finds the missing packages; as root, or with password-less sudo, it installs them
with apt-get (one ``apt-get update``, then one quiet, non-interactive install without recommended packages);
otherwise it prints one line naming the one command to run, and goes on. A test that needs a missing package
is skipped with the same command as its reason (``requires``, or ``why_missing`` for a skip of its own).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Package:
    """A Debian package and what shows it is usable here: an executable ``command`` on PATH, or a shared
    ``library`` that loads (its name as ``ctypes.util.find_library`` takes it: "portaudio" for libportaudio.so)."""

    name: str
    used_for: str
    command: str | None = None
    library: str | None = None

    def is_here(self) -> bool:
        if self.command is not None:
            return shutil.which(self.command) is not None
        path = ctypes.util.find_library(self.library)
        return path is not None and loads(path)


def loads(library: str) -> bool:
    """Whether the shared library ``library`` (a file name or path) loads: what a Python wrapper such as
    sounddevice does first. A file that is there but does not load is as good as none."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


PACKAGES = (
    Package("jackd2", "real MIDI ports on a JACK dummy server", command="jackd"),
    Package("libportaudio2", "PortAudio, the sound output of the built-in voice", library="portaudio"),
    Package("chromium", "a real browser for the web page tests", command="chromium"),
    Package("chromium-driver", "Selenium drives that browser through it", command="chromedriver"),
)
APT_INSTALL = ("apt-get", "install", "-y", "-qq", "--no-install-recommends")


def missing(packages: Iterable[Package] = PACKAGES) -> list[Package]:
    """The packages that are not usable here, in the order given."""
    return [package for package in packages if not package.is_here()]


def install_command(names: Iterable[str], uid: int | None = None) -> str:
    """The one command a person runs to install ``names`` (with sudo unless ``uid``, default this process's, is 0)."""
    uid = os.geteuid() if uid is None else uid
    return f"{'' if uid == 0 else 'sudo '}apt-get install -y --no-install-recommends {' '.join(names)}"


def why_missing(name: str) -> str | None:
    """None if the package ``name`` (one of PACKAGES) is usable here, else a skip reason naming it and the command."""
    package = next(package for package in PACKAGES if package.name == name)
    if package.is_here():
        return None
    return f"{package.name} is not installed ({package.used_for}); to run this test: {install_command([package.name])}"


def requires(name: str):
    """A pytest mark that skips a test while the package ``name`` is missing, with ``why_missing`` as the reason."""
    import pytest  # lazy: make test imports this module with the system Python, before the venv that has pytest

    reason = why_missing(name)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def _apt_prefix(uid: int) -> list[str] | None:
    """How to run apt-get as root from here: directly as root, through password-less sudo, or not at all (None)."""
    if shutil.which("apt-get") is None:
        return None
    if uid == 0:
        return ["env", "DEBIAN_FRONTEND=noninteractive"]
    if shutil.which("sudo") is None:
        return None
    if subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
        return None  # sudo would ask for a password
    return ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]


def _install(prefix: list[str], names: list[str], out: TextIO) -> None:
    """apt-get update once, then install ``names``; apt's output is shown only if it fails."""
    print(f"make test: installing {' '.join(names)} with apt-get", file=out, flush=True)
    for command in (["apt-get", "update", "-qq"], [*APT_INSTALL, *names]):
        result = subprocess.run([*prefix, *command], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"make test: {' '.join(command[:2])} failed (exit {result.returncode}):", file=out)
            print((result.stdout + result.stderr).strip(), file=out, flush=True)
            return


def set_up(packages: Iterable[Package] = PACKAGES, uid: int | None = None, out: TextIO = sys.stdout) -> list[str]:
    """Install the missing ``packages`` if this process can (``uid``: this process's by default); print one line
    naming the command for whatever is still missing. Returns the names still missing; never raises for them."""
    uid = os.geteuid() if uid is None else uid
    packages = list(packages)
    absent = [package.name for package in missing(packages)]
    if not absent:
        return []
    prefix = _apt_prefix(uid)
    if prefix is not None:
        _install(prefix, absent, out)
        absent = [package.name for package in missing(packages)]
    if absent:
        them = "it" if len(absent) == 1 else "them"
        print(f"make test: {', '.join(absent)} missing: the tests that need {them} are skipped; "
              f"to run them: {install_command(absent, uid)}", file=out, flush=True)
    return absent


if __name__ == "__main__":
    set_up()
