"""make test's set-up step (tests/system_packages.py): install what is missing when it can, else name the command.

apt-get and sudo are stand-in programs on a PATH that holds nothing else: each records how it was called, and
apt-get "installs" a package by putting its command on that PATH, so the step's second look finds it.
"""

import io
import json
import os
import sys

import pytest

from tests.system_packages import PACKAGES, Package, install_command, loads, missing, set_up, why_missing

TOOL = Package("melodybox-tool", "a test", command="melodybox-tool")
OTHER = Package("melodybox-other", "a test", command="melodybox-other")

RECORD = """
import json, os, sys
with open(os.path.join(os.path.dirname(sys.argv[0]), "calls.jsonl"), "a") as log:
    log.write(json.dumps({"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
                          "frontend": os.environ.get("DEBIAN_FRONTEND")}) + "\\n")
"""
APT_GET = RECORD + """
here = os.path.dirname(sys.argv[0])
if os.path.exists(os.path.join(here, "apt-fails")):
    print("E: Could not resolve 'deb.debian.org'"); sys.exit(100)
if sys.argv[1] == "install" and not os.path.exists(os.path.join(here, "apt-installs-nothing")):
    for name in sys.argv[2:]:
        if not name.startswith("-"):
            path = os.path.join(here, name)
            open(path, "w").write("#!/bin/sh\\n")
            os.chmod(path, 0o755)
"""
SUDO_WITHOUT_PASSWORD = RECORD + """
if sys.argv[1:] == ["-n", "true"]:
    sys.exit(0)
os.execvp(sys.argv[2], sys.argv[2:])
"""
SUDO_ASKING_A_PASSWORD = RECORD + """
print("sudo: a password is required", file=sys.stderr); sys.exit(1)
"""


@pytest.fixture
def shims(tmp_path, monkeypatch):
    """A folder that is the whole PATH, with ``env`` in it; returns (folder, add(name, source), calls())."""
    (tmp_path / "env").symlink_to("/usr/bin/env")
    monkeypatch.setenv("PATH", str(tmp_path))

    def add(name, source):
        (tmp_path / name).write_text(f"#!{sys.executable}\n{source}")
        (tmp_path / name).chmod(0o755)

    def calls():
        log = tmp_path / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return tmp_path, add, calls


def apt_calls(calls):
    return [(call["argv"], call["frontend"]) for call in calls() if call["argv"][0] == "apt-get"]


UPDATE = ["apt-get", "update", "-qq"]


def install(*names):
    return ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *names]


def test_nothing_missing_runs_nothing_and_says_nothing(shims):
    folder, add, calls = shims
    add("apt-get", APT_GET)
    add("melodybox-tool", "")
    out = io.StringIO()
    assert set_up([TOOL], uid=0, out=out) == []
    assert (calls(), out.getvalue()) == ([], "")


def test_as_root_the_missing_ones_are_installed_after_one_update(shims):
    folder, add, calls = shims
    add("apt-get", APT_GET)
    add("melodybox-other", "")
    out = io.StringIO()
    assert set_up([TOOL, OTHER], uid=0, out=out) == []
    assert apt_calls(calls) == [(UPDATE, "noninteractive"), (install("melodybox-tool"), "noninteractive")]
    assert out.getvalue() == "make test: installing melodybox-tool with apt-get\n"


def test_with_password_less_sudo_apt_get_runs_through_sudo(shims):
    folder, add, calls = shims
    add("apt-get", APT_GET)
    add("sudo", SUDO_WITHOUT_PASSWORD)
    assert set_up([TOOL, OTHER], uid=1000, out=io.StringIO()) == []
    sudo = [call["argv"] for call in calls() if call["argv"][0] == "sudo"]
    as_root = ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    both = install("melodybox-tool", "melodybox-other")
    assert sudo == [["sudo", "-n", "true"], [*as_root, *UPDATE], [*as_root, *both]]
    assert apt_calls(calls) == [(UPDATE, "noninteractive"), (both, "noninteractive")]


def test_without_root_or_sudo_one_line_names_the_command_and_nothing_is_installed(shims):
    folder, add, calls = shims
    add("apt-get", APT_GET)
    out = io.StringIO()
    assert set_up([TOOL, OTHER], uid=1000, out=out) == ["melodybox-tool", "melodybox-other"]
    assert calls() == []
    assert out.getvalue() == ("make test: melodybox-tool, melodybox-other missing: the tests that need them are "
                              "skipped; to run them: sudo apt-get install -y --no-install-recommends "
                              "melodybox-tool melodybox-other\n")


def test_sudo_that_asks_a_password_is_not_used(shims):
    folder, add, calls = shims
    add("apt-get", APT_GET)
    add("sudo", SUDO_ASKING_A_PASSWORD)
    out = io.StringIO()
    assert set_up([TOOL], uid=1000, out=out) == ["melodybox-tool"]
    assert [call["argv"] for call in calls()] == [["sudo", "-n", "true"]]
    assert out.getvalue().endswith("to run them: sudo apt-get install -y --no-install-recommends melodybox-tool\n")


def test_without_apt_get_even_root_is_told_the_command(shims):
    folder, add, calls = shims
    out = io.StringIO()
    assert set_up([TOOL], uid=0, out=out) == ["melodybox-tool"]
    assert out.getvalue().endswith("to run them: apt-get install -y --no-install-recommends melodybox-tool\n")


def test_a_failed_install_shows_apts_error_then_the_command_and_goes_on(shims):
    folder, add, calls = shims
    add("apt-get", APT_GET)
    (folder / "apt-fails").touch()
    out = io.StringIO()
    assert set_up([TOOL], uid=0, out=out) == ["melodybox-tool"]
    assert apt_calls(calls) == [(UPDATE, "noninteractive")]  # no install after a failed update
    assert out.getvalue().splitlines() == [
        "make test: installing melodybox-tool with apt-get",
        "make test: apt-get update failed (exit 100):",
        "E: Could not resolve 'deb.debian.org'",
        "make test: melodybox-tool missing: the tests that need it are skipped; "
        "to run them: apt-get install -y --no-install-recommends melodybox-tool",
    ]


def test_a_package_still_unusable_after_installing_is_named(shims):
    folder, add, calls = shims
    add("apt-get", APT_GET)
    (folder / "apt-installs-nothing").touch()
    out = io.StringIO()
    assert set_up([TOOL], uid=0, out=out) == ["melodybox-tool"]
    assert len(apt_calls(calls)) == 2
    assert out.getvalue().splitlines()[-1].startswith("make test: melodybox-tool missing")


def test_a_command_is_there_only_when_executable(shims):
    folder, add, calls = shims
    (folder / "melodybox-tool").write_text("#!/bin/sh\n")
    assert missing([TOOL]) == [TOOL]
    (folder / "melodybox-tool").chmod(0o755)
    assert missing([TOOL]) == []


def test_a_library_is_there_only_when_it_loads():
    libc = Package("libc6", "a test", library="c")
    nowhere = Package("libmelodybox0", "a test", library="melodybox-no-such-library")
    assert missing([libc, nowhere]) == [nowhere]


def test_a_library_file_that_does_not_load_is_not_there(tmp_path):
    (tmp_path / "libempty.so.2").write_bytes(b"")
    assert not loads(str(tmp_path / "libempty.so.2"))


def test_the_command_asks_for_sudo_unless_root():
    assert install_command(["jackd2", "libportaudio2"], uid=1000) == (
        "sudo apt-get install -y --no-install-recommends jackd2 libportaudio2")
    assert install_command(["jackd2"], uid=0) == "apt-get install -y --no-install-recommends jackd2"


def test_a_missing_packages_skip_reason_names_it_and_the_command(monkeypatch):
    monkeypatch.setenv("PATH", "")  # no jackd
    reason = why_missing("jackd2")
    prefix = "" if os.geteuid() == 0 else "sudo "
    assert reason == ("jackd2 is not installed (real MIDI ports on a JACK dummy server); "
                      f"to run this test: {prefix}apt-get install -y --no-install-recommends jackd2")


def test_every_package_says_how_to_tell_it_is_here():
    for package in PACKAGES:
        assert (package.command is None) != (package.library is None), package.name



def test_jacks_leftover_shared_memory_goes_only_when_no_jackd_runs(tmp_path, monkeypatch):
    from tests import jack_server

    for name in ("jack-shm-registry", "jack_sem.0_melodybox-box-1_ports", "other"):
        (tmp_path / name).write_text("x")
    (tmp_path / "jack_db-0").mkdir()
    monkeypatch.setattr(jack_server, "jackd_running", lambda: True)
    jack_server.clear_stale_registry(tmp_path)
    assert len(list(tmp_path.iterdir())) == 4
    monkeypatch.setattr(jack_server, "jackd_running", lambda: False)
    jack_server.clear_stale_registry(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["other"]


def test_leftover_shared_memory_this_user_may_not_remove_is_left_alone(tmp_path, monkeypatch):
    from tests import jack_server

    (tmp_path / "jack-shm-registry").write_text("x")  # a root's file, seen by another user
    monkeypatch.setattr(jack_server, "jackd_running", lambda: False)
    monkeypatch.setattr(jack_server.Path, "unlink", lambda self, missing_ok=False: (_ for _ in ()).throw(
        PermissionError(1, "Operation not permitted", str(self))))
    jack_server.clear_stale_registry(tmp_path)  # no error: what cannot go stays
    assert (tmp_path / "jack-shm-registry").exists()
