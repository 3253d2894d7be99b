"""`python -m device ...` is the `melodybox` command."""

import sys

from device.cli import main

sys.exit(main())
