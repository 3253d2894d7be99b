"""GPIO controls on gpiozero's MockFactory pins: knob (MCP3008 or encoder), button, LED."""

import time

import pytest

from device.config import ControlsConfig, TemperatureConfig
from device.controls import GpioControls, Hysteresis, knob_from_temperature
from device.sampling import temperature_from_knob
from tests.mcp3008 import MockMCP3008, mock_pin_factory

TEMPERATURE = TemperatureConfig(low=0.05, high=3.0, initial=1.0)
BUTTON, LED, ENC_A, ENC_B = 17, 27, 5, 6


@pytest.fixture
def factory():
    with mock_pin_factory() as mock:
        yield mock


@pytest.fixture
def adc(factory):
    with MockMCP3008(factory) as chip:
        yield chip


def knob_controls(factory, **changes):
    return GpioControls(ControlsConfig(kind="mcp3008", hysteresis=0.02, hold_time=0.2, **changes), TEMPERATURE, factory)


def adc_position(raw):
    """What gpiozero's MCP3008.value reads for a raw 10-bit sample."""
    return (2 * raw + 1) / 2047


def wait_for(condition, timeout=5.0):
    """Wait (bounded) for gpiozero's hold thread; the assertion is on behaviour, not on time."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def press(factory, pin=BUTTON):
    factory.pin(pin).drive_low()
    factory.pin(pin).drive_high()


def test_knob_position_sets_the_temperature(factory, adc):
    adc.raw[0] = 800
    with knob_controls(factory) as controls:
        assert controls.read().temperature == temperature_from_knob(adc_position(800), 0.05, 3.0)


def test_knob_turn_changes_the_temperature(factory, adc):
    adc.raw[0] = 512
    with knob_controls(factory) as controls:
        before = controls.read().temperature
        adc.raw[0] = 900
        after = controls.read().temperature
    assert (before, after) == (1.0 * temperature_from_knob(adc_position(512), 0.05, 3.0),
                               temperature_from_knob(adc_position(900), 0.05, 3.0))
    assert after > before


def test_noise_within_the_band_does_not_move_the_temperature(factory, adc):
    adc.raw[0] = 512
    with knob_controls(factory) as controls:
        first = controls.read().temperature
        readings = []
        for raw in (515, 508, 520, 505, 512):  # +-8 counts: under 0.02 of travel (20 counts)
            adc.raw[0] = raw
            readings.append(controls.read().temperature)
    assert readings == [first] * 5


def test_knob_reads_its_configured_channel(factory, adc):
    adc.raw[0], adc.raw[5] = 0, 1023
    with knob_controls(factory, adc_channel=5) as controls:
        assert controls.read().temperature == 3.0


def test_knob_ends_reach_low_and_high(factory, adc):
    with knob_controls(factory) as controls:
        adc.raw[0] = 3
        low = controls.read().temperature
        adc.raw[0] = 1020
        high = controls.read().temperature
    assert (low, high) == (0.05, 3.0)


def test_hysteresis_follows_only_outside_the_band():
    band = Hysteresis(0.1, initial=0.5)
    assert [band.update(v) for v in (0.55, 0.45, 0.61, 0.55, 0.95, 0.05)] == [0.5, 0.5, 0.61, 0.61, 1.0, 0.0]


def test_knob_from_temperature_inverts_the_mapping():
    for temperature in (0.1, 0.5, 1.0, 2.0):
        position = knob_from_temperature(temperature, 0.05, 3.0)
        assert temperature_from_knob(position, 0.05, 3.0) == pytest.approx(temperature, rel=1e-9)


def encoder_controls(factory, steps=24):
    config = ControlsConfig(kind="encoder", encoder_steps=steps, hold_time=0.2)
    return GpioControls(config, TEMPERATURE, factory)


def turn(factory, detents):
    """Drive the encoder's pins through ``detents`` full quadrature cycles (negative: the other way)."""
    a, b = factory.pin(ENC_A), factory.pin(ENC_B)
    first, second = (a, b) if detents > 0 else (b, a)
    for _ in range(abs(detents)):
        first.drive_low()
        second.drive_low()
        first.drive_high()
        second.drive_high()


def test_encoder_starts_at_the_initial_temperature(factory):
    with encoder_controls(factory) as controls:
        assert controls.read().temperature == 1.0


def test_encoder_steps_change_the_temperature(factory):
    with encoder_controls(factory, steps=24) as controls:
        turn(factory, 3)
        up = controls.read().temperature
        turn(factory, -6)
        down = controls.read().temperature
    assert up == temperature_from_knob(15 / 24, 0.05, 3.0)
    assert down == temperature_from_knob(9 / 24, 0.05, 3.0)


def test_encoder_stops_at_the_ends(factory):
    with encoder_controls(factory, steps=24) as controls:
        turn(factory, 40)
        assert controls.read().temperature == 3.0


def test_short_press_sets_reset_once(factory, adc):
    with knob_controls(factory) as controls:
        press(factory)
        states = [controls.read(), controls.read()]
    assert [(s.reset, s.pause_toggle) for s in states] == [(True, False), (False, False)]


def test_long_press_toggles_pause_without_reset(factory, adc):
    with knob_controls(factory) as controls:
        factory.pin(BUTTON).drive_low()
        assert wait_for(lambda: controls.holds == 1)
        while_held = controls.read()
        factory.pin(BUTTON).drive_high()
        after_release = controls.read()
    assert (while_held.reset, while_held.pause_toggle) == (False, True)
    assert (after_release.reset, after_release.pause_toggle) == (False, False)


def test_no_flags_without_presses(factory, adc):
    with knob_controls(factory) as controls:
        state = controls.read()
    assert (state.reset, state.pause_toggle) == (False, False)


def led_states(factory, controls, steps, playing=True):
    states = []
    for step in range(steps):
        controls.beat(step, playing)
        states.append(factory.pin(LED).state)
    return states


def test_led_blinks_on_each_quarter_note(factory, adc):
    with knob_controls(factory) as controls:
        states = led_states(factory, controls, 8)
    assert states == [True, False, False, False, True, False, False, False]


def test_led_flashes_once_per_bar_while_paused(factory, adc):
    with knob_controls(factory) as controls:
        states = led_states(factory, controls, 32, playing=False)
    assert [i for i, on in enumerate(states) if on] == [0, 16]


def test_led_error_pattern_is_on_at_once_then_fast_blink(factory, adc):
    with knob_controls(factory) as controls:
        controls.error(True)
        at_once = factory.pin(LED).state
        blinking = led_states(factory, controls, 4)
        controls.error(False)
        recovered = led_states(factory, controls, 4)
    assert at_once is True
    assert blinking == [True, False, True, False]
    assert recovered == [True, False, False, False]


def test_close_is_idempotent_and_turns_the_led_off(factory, adc):
    controls = knob_controls(factory)
    controls.beat(0, True)
    controls.close()
    controls.close()
    controls.beat(4, True)
    assert factory.pin(LED).state is False


def test_no_knob_keeps_the_initial_temperature(factory):
    with GpioControls(ControlsConfig(kind="none"), TemperatureConfig(initial=0.7), factory) as controls:
        assert controls.read().temperature == 0.7
