"""device/pi/install.sh: it parses, its dry run changes nothing and says everything, its unit verifies."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "device" / "pi" / "install.sh"


def install(*args, **kwargs):
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60, **kwargs)


def test_install_script_parses():
    result = subprocess.run(["bash", "-n", str(INSTALL)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dry_run_changes_nothing_and_lists_every_step(tmp_path):
    prefix = tmp_path / "opt"
    result = install("--dry-run", "--prefix", str(prefix))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert not prefix.exists()
    for expected in (
        f"+ python3 -m venv --system-site-packages {prefix}/venv",
        f"+ {prefix}/venv/bin/pip install --quiet {ROOT}[device]",
        "+ systemctl enable melodybox.service",
        "+ systemctl restart melodybox.service",
        "+ write /etc/systemd/system/melodybox.service:",
        f"    ExecStart={prefix}/venv/bin/melodybox run --config /etc/melodybox/box.toml",
        f'    path = "{prefix}/models/default.tflite"',
    ):
        assert expected in out, f"{expected!r} not in the dry run"
    assert "spi" in out.lower()


def test_dry_run_uses_the_given_user_and_can_skip_starting(tmp_path):
    result = install("--dry-run", "--prefix", str(tmp_path / "opt"), "--user", "root", "--no-start")
    assert result.returncode == 0, result.stderr
    assert "    User=root" in result.stdout
    assert "==> user root exists" in result.stdout
    assert "+ systemctl restart" not in result.stdout


def test_unknown_option_is_refused():
    result = install("--frobnicate")
    assert result.returncode == 2
    assert "unknown option --frobnicate" in result.stderr


def test_unit_has_restart_realtime_and_sound_ordering():
    unit = install("--print-unit", "--user", "pi").stdout
    for line in ("User=pi", "Restart=always", "After=sound.target", "CPUSchedulingPolicy=fifo", "Nice=-10",
                 "ExecStart=/opt/melodybox/venv/bin/melodybox run --config /etc/melodybox/box.toml",
                 "WantedBy=multi-user.target"):
        assert line in unit.splitlines()
    assert "@" not in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    melodybox = tmp_path / "venv" / "bin" / "melodybox"
    melodybox.parent.mkdir(parents=True)
    melodybox.write_text("#!/bin/sh\n")
    melodybox.chmod(0o755)
    unit = tmp_path / "melodybox.service"
    unit.write_text(install("--print-unit", "--prefix", str(tmp_path), "--user", "root").stdout)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
