"""Keyboard controls and the live view on a desktop, through a real pseudo-terminal."""

import io
import os
import select
import termios
import time

import pytest

from device.controls.keyboard import KNOB_KEYS, KNOB_STEP, SimControls, split_keys
from device.engine.controlstate import ControlState
from device.engine.declaration import BY_NAME, CONTROLS
from device.play.loop import StepReport
from device.status import LEGEND, RESET_SHOWN_STEPS, LiveView, status_line, token_label

TABLE = BY_NAME


def temperature_from_knob(position):
    return BY_NAME["temperature"].value(position)


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
    with SimControls(TABLE, keys=None) as controls:
        state = controls.read()
        assert not controls.keyboard
    assert (state.temperature, state.reset, state.pause_toggle) == (1.0, False, False)


def test_keys_turn_the_knob_and_press_the_button():
    with SimControls(TABLE, keys=None) as controls:
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
    with SimControls(TABLE, keys=None) as controls:
        for _ in range(40):
            controls.handle_key("[")
        assert controls.read().temperature == 0.0  # greedy


def test_q_quits():
    quits = []
    with SimControls(TABLE, keys=None, on_quit=lambda: quits.append(True)) as controls:
        controls.handle_key("q")
    assert quits == [True]


def test_arrow_escape_sequences_are_single_keys():
    assert split_keys("]\x1b[A \x1b[Dq") == ["]", "\x1b[A", " ", "\x1b[D", "q"]


def test_typing_in_a_terminal_reaches_the_controls_and_the_mode_is_restored(terminal):
    master, slave = terminal
    before = termios.tcgetattr(slave)
    controls = SimControls(TABLE, keys=slave)
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
    while text.count("\n") < LEGEND.count("\n") + 2 and select.select([master], [], [], 5)[0]:  # in pieces
        text += os.read(master, 4096).decode()
    legend = LEGEND.replace("\n", "\r\n") + "\r\n"
    assert text.startswith(legend + "\r     3   C4 T1.00 D50 V0/2 off S100 R64/128 G100 A0 H0 SW0 HA85 >")
    assert "\r     4    - T1.25 D50 V0/2 off S100 R64/128 G100 A0 H0 SW0 HA85 || !" in text
    assert text.rstrip(" \r\n").count("\n") == LEGEND.count("\n") + 1 and text.endswith("\n")


def test_live_view_is_silent_without_a_terminal():
    stream = io.StringIO()
    view = LiveView(stream)
    view.update(StepReport(0, 60, ControlState(1.0), 0.0, False, True))
    view.close()
    assert stream.getvalue() == ""


def test_token_labels():
    assert [token_label(t) for t in (60, 69, 61, 128, 129, None)] == ["C4", "A4", "C#4", "off", "·", "-"]


def test_every_control_has_a_key_pair_and_starts_from_the_configured_value():
    start = ControlState(0.7, scale="major", scale_root=9, strictness=0.5, deja_vu=0.2, loop_bars=4, density=0.3,
                         register_centre=70, register_width=24, gate=0.6, accent=0.4, humanise=0.1)
    with SimControls(TABLE, keys=None, start=start) as controls:
        assert controls.read() == start  # exact until a key is pressed
        for key in "DVLKNSOWGAHT":
            controls.handle_key(key)
        up = controls.read()
        for key in "dvlknsowgaht" * 2:
            controls.handle_key(key)
        down = controls.read()
    assert set(KNOB_KEYS.values()) == {control.name for control in CONTROLS}
    assert (up.scale, up.scale_root, up.loop_bars) == ("natural_minor", 10, 8)
    assert (down.scale, down.scale_root, down.loop_bars) == ("chromatic", 8, 2)
    assert (up.density, up.deja_vu, up.strictness, up.gate, up.accent, up.humanise) == pytest.approx(
        (0.35, 0.25, 0.55, 0.65, 0.45, 0.15))
    assert (down.density, down.gate) == pytest.approx((0.25, 0.55))
    assert (up.register_centre, up.register_width) == (round((70 / 127 + KNOB_STEP) * 127),
                                                       round((24 / 128 + KNOB_STEP) * 128))


def test_c_captures_once():
    with SimControls(TABLE, keys=None) as controls:
        controls.handle_key("c")
        assert [controls.read().capture, controls.read().capture] == [True, False]


def test_a_stepped_control_stops_at_its_ends():
    with SimControls(TABLE, keys=None) as controls:
        for _ in range(6):
            controls.handle_key("L")
        assert controls.read().loop_bars == 8


def live_text(reports):
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "w") as stream:
            view = LiveView(stream)
            for report in reports:
                view.update(report)
            view.close()
        text = ""
        while text.count("\n") < LEGEND.count("\n") + 2 and select.select([master], [], [], 5)[0]:
            text += os.read(master, 4096).decode()
        return text
    finally:
        os.close(master)
        os.close(slave)


def test_the_status_line_shows_a_reset_and_why_for_two_beats():
    reports = [StepReport(step, 60, ControlState(), 0.0, False, True, True, "button" if step == 1 else "")
               for step in range(12)]
    lines = live_text(reports).split("\r")
    shown = [line.split()[0] for line in lines if "RESET:button" in line]
    assert shown == [str(step) for step in range(1, 1 + RESET_SHOWN_STEPS)]


def test_the_status_line_shows_the_scale_the_register_and_a_stopped_transport():
    report = StepReport(9, 62, ControlState(0.5, scale="dorian", scale_root=2, register_centre=72, register_width=12,
                                            density=0.25, gate=0.5), 0.0, False, True, False, "", 98.4)
    line = "     9   D4 T0.50 D25 V0/2 D:dorian S100 R72/12 G50 A0 H0 SW0 HA85 [] 98bpm waiting for Start"
    assert line in live_text([report])


@pytest.mark.parametrize("running, paused, answering, end", [
    (True, False, None, "> 121bpm playing"),
    (True, True, None, "|| 121bpm paused"),
    (True, False, False, "> 121bpm listening"),
    (True, False, True, "> 121bpm answering"),
    (True, True, True, "|| 121bpm paused"),
    (False, False, None, "[] 121bpm waiting for Start"),
    (False, True, False, "[] 121bpm waiting for Start"),
])
def test_the_status_line_ends_with_what_the_box_does(running, paused, answering, end):
    report = StepReport(32, None, ControlState(), 0.0, paused, True, running, "", 121.2, answering)
    assert status_line(report).endswith(f" SW0 HA85 {end}")


def test_a_shorter_status_line_covers_all_of_a_longer_one():
    long = StepReport(4, None, ControlState(scale="natural_minor", scale_root=9), 0.0, True, False, False, "button",
                      120.0)
    short = StepReport(5, 60, ControlState(), 0.0, False, True, True, "", 120.0)
    lines = live_text([long, short]).rstrip("\r\n").split("\r")
    assert len(lines[-2]) > 80 and len(lines[-1]) == len(lines[-2])
