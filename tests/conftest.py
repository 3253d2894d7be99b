"""Shared test settings. Helpers with fixtures for one area live in that area's test module."""

import os

from hypothesis import settings

# Tests run two at a time on a 2-core machine: wall-clock deadlines would only make them flaky.
settings.register_profile("melodybox", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "melodybox"))


def pytest_configure(config):
    """Once per session, in the process that starts it (not in an xdist worker): JACK's leftovers of dead servers
    go before any test starts a server (tests/jack_server.py)."""
    if not hasattr(config, "workerinput"):
        from tests.jack_server import clear_stale_registry  # lazy: mido and JACK only once tests are collected

        clear_stale_registry()
