"""Keyboard controls and the live view on a desktop, through a real pseudo-terminal."""

import io
import os
import select
import termios
import time

import pytest

from device.config import TemperatureConfig
from device.controlstate import ControlState
from device.loop import StepReport
from device.sampling import temperature_from_knob
from device.sim_controls import KNOB_STEP, LiveView, SimControls, note_name, split_keys

TEMPERATURE = TemperatureConfig(low=0.05, high=3.0, initial=1.0)


def wait_for(condition, timeout=5.0):
    """Bounded wait for the reader thread; the assertion is on behaviour, not on time."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()  # evaluated once per poll: a read() consumes the button flags
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.01)


@pytest.fixture
def terminal():
    """A pseudo-terminal: (master fd to type into, slave fd the controls read)."""
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_headless_has_no_keyboard_and_keeps_the_initial_temperature():
    with SimControls(TEMPERATURE, keys=None) as controls:
        state = controls.read()
        assert not controls.keyboard
    assert (state.temperature, state.reset, state.pause_toggle) == (1.0, False, False)


def test_keys_turn_the_knob_and_press_the_button():
    with SimControls(TEMPERATURE, keys=None) as controls:
        for key in ("]", "\x1b[A", "r"):
            controls.handle_key(key)
        up = controls.read()
        controls.handle_key("[")
        controls.handle_key("p")
        down = controls.read()
        after = controls.read()
    assert (up.reset, up.pause_toggle) == (True, False)
    assert up.temperature == pytest.approx(temperature_from_knob(0.5 + 2 * KNOB_STEP), rel=1e-9)
    assert (down.reset, down.pause_toggle) == (False, True)
    assert down.temperature == pytest.approx(temperature_from_knob(0.5 + KNOB_STEP), rel=1e-9)
    assert (after.reset, after.pause_toggle) == (False, False)


def test_knob_stops_at_the_ends():
    with SimControls(TEMPERATURE, keys=None) as controls:
        for _ in range(40):
            controls.handle_key("[")
        assert controls.read().temperature == 0.05


def test_q_quits():
    quits = []
    with SimControls(TEMPERATURE, keys=None, on_quit=lambda: quits.append(True)) as controls:
        controls.handle_key("q")
    assert quits == [True]


def test_arrow_escape_sequences_are_single_keys():
    assert split_keys("]\x1b[A \x1b[Dq") == ["]", "\x1b[A", " ", "\x1b[D", "q"]


def test_typing_in_a_terminal_reaches_the_controls_and_the_mode_is_restored(terminal):
    master, slave = terminal
    before = termios.tcgetattr(slave)
    controls = SimControls(TEMPERATURE, keys=slave)
    try:
        assert controls.keyboard
        assert termios.tcgetattr(slave)[3] & termios.ICANON == 0  # keys arrive one by one
        os.write(master, b"]] ")
        assert wait_for(lambda: controls.position > 0.5 + 1.5 * KNOB_STEP)
        assert wait_for(lambda: controls.read().reset)
    finally:
        controls.close()
    assert termios.tcgetattr(slave) == before
    controls.close()  # idempotent


def test_live_view_writes_one_line_in_place_on_a_terminal(terminal):
    master, slave = terminal
    with os.fdopen(os.dup(slave), "w") as stream:
        view = LiveView(stream)
        view.update(StepReport(3, 60, ControlState(1.0), 0.0, False, True))
        view.update(StepReport(4, None, ControlState(1.25), 0.0, True, False))
        view.close()
    text = ""
    while not text.endswith("\n") and select.select([master], [], [], 5)[0]:  # it comes in pieces
        text += os.read(master, 4096).decode()
    assert text.startswith("\rstep      3    C4  temperature 1.00  playing")
    assert "\rstep      4     -  temperature 1.25  paused, MIDI lost" in text
    assert text.rstrip(" \r\n").count("\n") == 0 and text.endswith("\n")


def test_live_view_is_silent_without_a_terminal():
    stream = io.StringIO()
    view = LiveView(stream)
    view.update(StepReport(0, 60, ControlState(1.0), 0.0, False, True))
    view.close()
    assert stream.getvalue() == ""


def test_note_names():
    assert [note_name(t) for t in (60, 69, 61, 128, 129, None)] == ["C4", "A4", "C#4", "off", "·", "-"]
