"""A short soak (device/bench/soak.py): the assembled box through an unplugged synth, a pause, resets,
knob jitter and MIDI floods, with nothing stuck, nothing overlapping and nothing raised."""

import json
import subprocess
import sys

import pytest

from device.bench.soak import PAUSE_EVERY, STEPS_PER_DAY, UNPLUG_EVERY, UNPLUGGED_FOR, soak
from tests.recording import ROOT, shipped_model_path

DAYS = (PAUSE_EVERY + 100) / STEPS_PER_DAY  # long enough for an unplug, a replug, a pause and a resume


@pytest.fixture(scope="module")
def report():
    return soak(shipped_model_path(), DAYS, seed=3)


def test_every_fault_was_injected(report):
    assert report["steps"] == PAUSE_EVERY + 100
    assert report["port_losses"] >= 1 and report["port_reconnects"] >= 1
    assert report["steps"] > UNPLUG_EVERY + UNPLUGGED_FOR
    assert report["input_dropped"] > 0  # the floods overflowed the input queue, which stayed bounded


def test_nothing_stuck_nothing_overlapping_nothing_raised(report):
    assert report["exception"] is None
    assert report["notes_left_sounding"] == 0
    assert report["steps_paused_with_a_note"] == 0
    assert report["overlapping_notes"] == 0


def test_the_tokens_of_each_day_are_counted(report):
    (day,) = report["per_day"]
    assert day["steps_played"] == day["note_ons"] + day["note_offs"] + day["holds"]
    assert report["steps"] - 60 <= day["steps_played"] < report["steps"]  # all but the paused steps
    assert day["distinct_pitches"] > 5  # music, not a collapse


def test_the_command_prints_the_report_as_json_and_its_exit_status_says_if_a_target_was_missed(tmp_path):
    done = subprocess.run([sys.executable, "-m", "device", "bench", "--soak", "0.002", "--json",
                           str(tmp_path / "soak.json")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    printed = json.loads(done.stdout)
    assert printed == json.loads((tmp_path / "soak.json").read_text())
    assert printed["steps"] == round(0.002 * STEPS_PER_DAY)
    # A run this short cannot tell a leak from warm-up: only the slope may miss its target here.
    assert printed["exception"] is None and printed["notes_left_sounding"] == 0
    assert done.returncode == (1 if printed["rss_slope_mb_per_day"] >= 1.0 else 0), done.stderr


def test_a_soak_of_no_days_is_refused():
    done = subprocess.run([sys.executable, "-m", "device", "bench", "--soak", "0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "--soak 0.0: must be a positive number of days" in done.stderr
