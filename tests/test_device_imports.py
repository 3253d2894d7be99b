"""The Pi never needs the training stack: importing device/ must not pull it in."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import device

FORBIDDEN = ("tensorflow", "keras", "training")


def device_modules():
    return sorted(m.name for m in pkgutil.walk_packages(device.__path__, "device.") if not m.name.endswith("__main__"))


def test_every_device_module_imports_without_the_training_stack():
    modules = device_modules()
    assert "device.core.encoding" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1], check=True
    )
    assert result.stdout.strip() == "", f"device/ imported: {result.stdout.strip()}"
