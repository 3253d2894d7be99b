"""A private JACK dummy server: real rtmidi MIDI ports on a machine without sound hardware.

Used by the JACK integration tests and the benchmark runner. Needs Debian's jackd2
(`.ci/run` installs it). Clients join it through the environment in ``JackServer.env``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


class JackUnavailable(RuntimeError):
    """jackd is not installed, or the server did not come up."""


class JackServer:
    """``with JackServer() as jack:`` starts jackd (dummy driver), sets this process's environment
    so its mido clients join it, and stops it and restores the environment on exit."""

    def __init__(self, name: str | None = None, start_seconds: float = 10.0):
        self.name = name or f"melodybox-{os.getpid()}"
        self.start_seconds = start_seconds
        self.env = {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1", "MIDO_BACKEND": JACK_BACKEND}
        self._previous: dict[str, str | None] = {}
        self._server: subprocess.Popen | None = None

    def __enter__(self) -> JackServer:
        if shutil.which("jackd") is None:
            raise JackUnavailable("jackd is not installed (apt-get install jackd2; .ci/run installs it)")
        self._server = subprocess.Popen(
            ["jackd", "-n", self.name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "64"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._previous = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        if not self._wait_up():
            self.__exit__(None, None, None)
            raise JackUnavailable("the JACK dummy server did not start")
        return self

    def _wait_up(self) -> bool:
        import mido

        backend = mido.Backend(JACK_BACKEND, load=True)
        end = time.monotonic() + self.start_seconds
        while time.monotonic() < end and self._server.poll() is None:
            try:
                backend.get_output_names()
                return True
            except (OSError, RuntimeError):
                time.sleep(0.05)
        return False

    def __exit__(self, *exc) -> None:
        for key, value in self._previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=10)
            self._server = None
