"""Quiet by default: what C libraries print straight to stderr, hidden unless the user asks (--verbose).

The TFLite runtime announces "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." when a
model loads, and ALSA prints "cannot open /dev/snd/seq" when a machine has no sequencer. Both
write to file descriptor 2 from C, past Python's sys.stderr, so they are silenced by pointing
descriptor 2 at /dev/null for the duration of the call. Python's own messages (the box's one-line
errors) are not affected outside those calls.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE = False  # set by `melodybox --verbose`


@contextmanager
def c_stderr_hidden() -> Iterator[None]:
    """Hide what C code writes to descriptor 2 inside the block (nothing hidden when VERBOSE)."""
    if VERBOSE:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
