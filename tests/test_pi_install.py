"""device/pi/install.sh: it parses, its dry run changes nothing and says everything, its unit verifies.

`make pi-check` (device/pi/pi_check.sh) runs it for real in arm64 Debian roots; too slow for the suite.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "device" / "pi" / "install.sh"
PI_CHECK = ROOT / "device" / "pi" / "pi_check.sh"


def install(*args, **kwargs):
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60, **kwargs)


def with_commands(tmp_path, **scripts):
    """An environment whose PATH finds these commands first, each a shell script body (e.g. "exit 100")."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in scripts.items():
        command = bin_dir / name.replace("_", "-")
        command.write_text(f"#!/bin/sh\n{body}\n")
        command.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.fixture(autouse=True)
def no_real_apt(tmp_path_factory, monkeypatch):
    """Dry runs ask a fake apt: nothing installed, no python3-lgpio (as on plain Debian). Fast and the same anywhere."""
    bin_dir = tmp_path_factory.mktemp("apt") / "bin"
    bin_dir.mkdir()
    for name, body in (("apt-cache", "exit 100"), ("dpkg-query", "exit 1")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SYSTEMD_RUN_DIR", str(bin_dir))  # as on a Pi: systemd is running


def apt_install_line(out: str) -> str:
    return next((line for line in out.splitlines() if "apt-get install" in line), "")


def unit_lines(*args) -> list[str]:
    return install("--print-unit", *args).stdout.splitlines()


@pytest.mark.parametrize("script", [INSTALL, PI_CHECK], ids=["install.sh", "pi_check.sh"])
def test_script_parses(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
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


def test_where_systemd_is_not_running_the_service_is_enabled_but_not_started(tmp_path, monkeypatch):
    monkeypatch.setenv("SYSTEMD_RUN_DIR", str(tmp_path / "absent"))
    result = install("--dry-run", "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    systemctl = [line for line in result.stdout.splitlines() if line.startswith("+ systemctl")]
    assert systemctl == ["+ systemctl enable melodybox.service"]
    assert "==> systemd is not running here (a chroot?): the service is enabled and starts at the next boot" in (
        result.stdout.splitlines())


def test_unknown_option_is_refused():
    result = install("--frobnicate")
    assert result.returncode == 2
    assert "unknown option --frobnicate" in result.stderr


def test_unit_runs_the_box_as_the_user_restarts_it_and_runs_it_real_time():
    unit = unit_lines("--user", "pi")
    for line in ("User=pi", "Restart=always", "StartLimitIntervalSec=0", "CPUSchedulingPolicy=fifo", "Nice=-10",
                 "ExecStart=/opt/melodybox/venv/bin/melodybox run --config /etc/melodybox/box.toml",
                 "WantedBy=multi-user.target"):
        assert line in unit
    assert not any("@" in line for line in unit)


def test_unit_is_a_notify_service_with_a_watchdog_for_the_main_process():
    unit = unit_lines()
    assert {"Type=notify", "NotifyAccess=main", "WatchdogSec=10"} <= set(unit)


def test_unit_starts_early_after_file_systems_modules_udev_and_the_journal_and_stops_at_shutdown():
    unit = unit_lines()
    assert {"DefaultDependencies=no", "Conflicts=shutdown.target", "Before=shutdown.target"} <= set(unit)
    assert ("After=local-fs.target systemd-modules-load.service systemd-udev-trigger.service "
            "systemd-journald.socket") in unit
    assert "After=sound.target" in unit
    assert not any("network" in line for line in unit if not line.startswith("#"))


def test_unit_lets_the_box_write_only_to_its_state_directory():
    unit = unit_lines()
    for line in ("StateDirectory=melodybox melodybox/captures", "WorkingDirectory=/var/lib/melodybox/captures",
                 "ProtectSystem=strict", "RuntimeDirectory=melodybox", "Environment=LG_WD=/run/melodybox"):
        assert line in unit


def test_install_makes_the_captures_directory_for_the_box_user(tmp_path):
    result = install("--dry-run", "--prefix", str(tmp_path / "opt"), "--user", "root")
    assert "+ install -d -m 755 -o root -g root /var/lib/melodybox /var/lib/melodybox/captures" in result.stdout


def test_without_python3_lgpio_in_apt_it_says_so_and_installs_lgpio_from_pip(tmp_path):
    result = install("--dry-run", "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    assert "==> python3-lgpio is missing: it comes from Raspberry Pi OS's own apt repository" in result.stdout
    assert "python3-lgpio" not in apt_install_line(result.stdout)
    assert f"+ {tmp_path}/opt/venv/bin/pip install --quiet --only-binary=:all: lgpio>=0.2.2" in result.stdout


def test_with_python3_lgpio_in_apt_it_comes_from_apt_not_pip(tmp_path):
    env = with_commands(tmp_path, apt_cache="exit 0")
    result = install("--dry-run", "--prefix", str(tmp_path / "opt"), env=env)
    assert result.returncode == 0, result.stderr
    assert "python3-lgpio" in apt_install_line(result.stdout).split()
    assert "lgpio>=0.2.2" not in result.stdout


def test_read_only_root_is_off_unless_asked_for(tmp_path):
    env = with_commands(tmp_path, raspi_config="exit 0")
    result = install("--dry-run", "--prefix", str(tmp_path / "opt"), env=env)
    assert "overlayfs" not in result.stdout
    assert "==> root file system left writable" in result.stdout


def test_read_only_root_turns_on_raspi_configs_overlay_when_asked(tmp_path):
    env = with_commands(tmp_path, raspi_config="exit 0")
    result = install("--dry-run", "--read-only-root", "--prefix", str(tmp_path / "opt"), env=env)
    assert result.returncode == 0, result.stderr
    assert "+ raspi-config nonint do_overlayfs 0" in result.stdout.splitlines()


def test_read_only_root_without_raspi_config_is_refused_before_anything_is_done(tmp_path):
    env = {**os.environ, "PATH": ":".join(d for d in os.environ["PATH"].split(":")
                                          if shutil.which("raspi-config", path=d) is None)}
    result = install("--dry-run", "--read-only-root", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == ("install.sh: --read-only-root needs raspi-config (Raspberry Pi OS); "
                             "it is not on this system\n")


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


def test_dry_run_turns_the_web_page_on_with_a_fresh_token_and_prints_where_to_open_it(tmp_path):
    result = install("--dry-run", "--prefix", str(tmp_path / "opt"), "--user", "root")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '    listen = "0.0.0.0:8080"        # [HOST:]PORT; a bare PORT is this machine only; "" = off' in lines
    assert ("+ write /var/lib/melodybox/web-token (a fresh token from python3's secrets, mode 600, owner root)"
            in lines)
    assert f"+ chown root:root /etc/melodybox /etc/melodybox/box.toml {tmp_path}/opt/models" in lines
    assert "==>   http://melodybox.local:8080/#token=TOKEN" in lines
    assert lines[-1].endswith(":8080/#token=TOKEN")


def test_no_web_leaves_the_page_off(tmp_path):
    result = install("--dry-run", "--no-web", "--prefix", str(tmp_path / "opt"))
    assert result.returncode == 0, result.stderr
    assert "+ write /var/lib/melodybox/web-token" not in result.stdout
    assert "#token=" not in result.stdout
    assert '    listen = ""        # [HOST:]PORT; a bare PORT is this machine only; "" = off' in result.stdout


def test_unit_lets_the_web_page_install_models_and_rewrite_the_config_and_nothing_else():
    unit = unit_lines("--prefix", "/opt/mb")
    assert [line for line in unit if line.startswith("ReadWritePaths=")] == [
        "ReadWritePaths=-/opt/mb/models -/etc/melodybox"]
