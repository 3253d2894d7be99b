"""`python -m device ...` is the `melodybox` command."""

import sys

from device.entry import main

sys.exit(main())
