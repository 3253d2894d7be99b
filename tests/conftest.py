"""Shared test settings. Helpers with fixtures for one area live in that area's test module."""

import os

from hypothesis import settings

# Tests run two at a time on a 2-core machine: wall-clock deadlines would only make them flaky.
settings.register_profile("melodybox", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "melodybox"))
