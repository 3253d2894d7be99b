"""The `melodybox` command's entry point: signals first, then everything else.

Kept to the standard library so that a Ctrl-C or SIGTERM in the first instant (while numpy,
mido or the TFLite runtime load) already finds the box's handler (device/signals.py).
"""

from __future__ import annotations


def main() -> int:
    from device import signals  # lazy: the handler is installed before anything else loads

    signals.install()
    from device.cli import main as cli_main  # lazy: after the handler (numpy, mido, the runtime load here)

    return cli_main()
