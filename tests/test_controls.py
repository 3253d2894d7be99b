"""GPIO controls on gpiozero's MockFactory pins: knobs (MCP3008 or encoder), buttons, LED.

The pin factory's ``ticks()`` is a fake clock, so a test holds a button for exactly as long as it says.
"""

import gc

import pytest

from device.config import start_state
from device.controls.gpio import ControlsConfig, GpioControls, Hysteresis, KnobsConfig
from device.core.clock import FakeClock
from device.engine.controlstate import ControlState
from device.engine.declaration import BY_NAME, with_temperature_range
from device.settings import Config, MusicConfig, TemperatureConfig
from tests.mcp3008 import MockMCP3008, mock_pin_factory

TABLE = BY_NAME


def temperature_from_knob(position, low=0.05, high=3.0):
    return with_temperature_range(low, high)["temperature"].value(position)
BUTTON, LED, ENC_A, ENC_B, CAPTURE = 17, 27, 5, 6, 22
HOLD = 0.2  # seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def factory(clock):
    gc.collect()  # gpiozero shares one software SPI bus per pin set through weak references: drop the last test's
    with mock_pin_factory() as mock:
        mock.ticks = clock.now  # how long a press lasts comes from this clock
        yield mock


@pytest.fixture
def adc(factory):
    with MockMCP3008(factory) as chip:
        yield chip


def knob_controls(factory, **changes):
    knobs, start = changes.pop("knobs", None), changes.pop("start", None)
    config = ControlsConfig(kind="mcp3008", hysteresis=0.02, hold_time=HOLD, **changes)
    return GpioControls(config, TABLE, factory, knobs=knobs, start=start)


def adc_position(raw):
    """What gpiozero's MCP3008.value reads for a raw 10-bit sample."""
    return (2 * raw + 1) / 2047


def events(state):
    return state.reset, state.pause_toggle, state.capture


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


def test_knob_ends_reach_greedy_and_high(factory, adc):
    with knob_controls(factory) as controls:
        adc.raw[0] = 3
        low = controls.read().temperature
        adc.raw[0] = 1020
        high = controls.read().temperature
    assert (low, high) == (0.0, 3.0)  # fully left: temperature 0, greedy


def test_hysteresis_follows_only_outside_the_band():
    band = Hysteresis(0.1, initial=0.5)
    assert [band.update(v) for v in (0.55, 0.45, 0.61, 0.55, 0.95, 0.05)] == [0.5, 0.5, 0.61, 0.61, 1.0, 0.0]


def encoder_controls(factory, steps=24):
    config = ControlsConfig(kind="encoder", encoder_steps=steps, hold_time=HOLD)
    return GpioControls(config, TABLE, factory)


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
    assert [events(s) for s in states] == [(True, False, False), (False, False, False)]


def test_a_press_just_shorter_than_the_hold_time_resets(factory, adc, clock):
    with knob_controls(factory) as controls:
        factory.pin(BUTTON).drive_low()
        clock.advance(HOLD - 0.01)
        held = controls.read()
        factory.pin(BUTTON).drive_high()
        released = controls.read()
    assert (events(held), events(released)) == ((False, False, False), (True, False, False))


def test_a_long_press_toggles_pause_once_while_held_without_reset(factory, adc, clock):
    with knob_controls(factory) as controls:
        factory.pin(BUTTON).drive_low()
        clock.advance(HOLD)
        while_held = controls.read()
        clock.advance(5.0)
        still_held = controls.read()
        factory.pin(BUTTON).drive_high()
        after_release = controls.read()
    assert [events(s) for s in (while_held, still_held, after_release)] == [
        (False, True, False), (False, False, False), (False, False, False)]
    assert controls.holds == 1


def test_a_long_press_released_between_reads_still_pauses(factory, adc, clock):
    with knob_controls(factory) as controls:
        factory.pin(BUTTON).drive_low()
        clock.advance(HOLD + 0.05)
        factory.pin(BUTTON).drive_high()
        assert events(controls.read()) == (False, True, False)


def test_a_long_press_captures_when_configured(factory, adc, clock):
    with knob_controls(factory, long_press="capture") as controls:
        factory.pin(BUTTON).drive_low()
        clock.advance(HOLD)
        assert events(controls.read()) == (False, False, True)


def test_the_second_button_captures(factory, adc):
    with knob_controls(factory, capture_pin=CAPTURE) as controls:
        press(factory, CAPTURE)
        assert [events(controls.read()) for _ in range(2)] == [(False, False, True), (False, False, False)]


def test_no_flags_without_presses(factory, adc):
    with knob_controls(factory) as controls:
        state = controls.read()
    assert events(state) == (False, False, False)


def test_the_controls_start_from_the_configured_music(factory):
    music = MusicConfig(scale="dorian", scale_root=2, strictness=0.5, deja_vu=0.25, loop_bars=4, density=0.7,
                        register_centre=72, register_width=12, gate=0.5, accent=0.3, humanise=0.1)
    start = start_state(Config(temperature=TemperatureConfig(initial=0.7), music=music))
    with GpioControls(ControlsConfig(kind="none"), TABLE, factory, start=start) as controls:
        assert controls.read() == ControlState(0.7, scale="dorian", scale_root=2, strictness=0.5, deja_vu=0.25,
                                               loop_bars=4, density=0.7, register_centre=72, register_width=12,
                                               gate=0.5, accent=0.3, humanise=0.1)


def test_each_mapped_channel_sets_its_control(factory, adc):
    knobs = KnobsConfig(density=1, deja_vu=2, loop_bars=3, scale=4, scale_root=5, register_centre=6, gate=7)
    adc.raw[0] = 512
    adc.raw[1:8] = [1023, 0, 700, 1023, 200, 1023, 600]
    with knob_controls(factory, knobs=knobs) as controls:
        state = controls.read()
    assert (state.density, state.deja_vu, state.loop_bars, state.scale, state.scale_root, state.register_centre,
            state.gate) == (1.0, 0.0, 4, "blues", 2, 127, pytest.approx(adc_position(600)))
    assert (state.accent, state.strictness) == (0.0, 1.0)  # unmapped: the start values


def test_a_channel_used_twice_is_refused_by_the_config():
    from device.config import ConfigError, check
    from device.settings import Config

    with pytest.raises(ConfigError, match="knobs.density = 0: channel 0 is already used by controls.adc_channel"):
        check(Config(knobs=KnobsConfig(density=0)), "box.toml")


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


def led_waiting(factory, controls, clock, ticks, seconds=0.125):
    """The LED at each of ``ticks`` ticks of a stopped transport, ``seconds`` apart on the factory's clock."""
    states = []
    for _ in range(ticks):
        controls.waiting(True)
        states.append(factory.pin(LED).state)
        clock.advance(seconds)
    return states


def test_led_flashes_every_two_seconds_while_waiting_for_start_and_beats_again_when_playing(factory, adc, clock):
    with knob_controls(factory) as controls:
        waiting = led_waiting(factory, controls, clock, 40)  # 5 s of idle ticks a step apart at 120 bpm
        controls.waiting(False)
        playing = led_states(factory, controls, 8)
        waiting_again = led_waiting(factory, controls, clock, 3)
    assert [i for i, on in enumerate(waiting) if on] == [0, 1, 16, 17, 32, 33]  # 0.25 s on at 0, 2 and 4 s
    assert playing == [True, False, False, False, True, False, False, False]
    assert waiting_again == [True, True, False]  # a new wait flashes at once


def test_led_flashes_for_one_tick_when_the_stopped_transport_ticks_slowly(factory, adc, clock):
    with knob_controls(factory) as controls:
        states = led_waiting(factory, controls, clock, 8, seconds=0.75)  # a step at 20 bpm
    assert states == [True, False, False, True, False, False, True, False]  # at 0, 2.25 and 4.5 s


def test_led_toggles_on_each_tick_while_waiting_in_error(factory, adc, clock):
    with knob_controls(factory) as controls:
        controls.error(True)
        states = led_waiting(factory, controls, clock, 4)
    assert states == [False, True, False, True]


def test_close_is_idempotent_and_turns_the_led_off(factory, adc):
    controls = knob_controls(factory)
    controls.beat(0, True)
    controls.close()
    controls.close()
    controls.beat(4, True)
    assert factory.pin(LED).state is False


def test_no_knob_keeps_the_initial_temperature(factory):
    with GpioControls(ControlsConfig(kind="none"), TABLE, factory, start=ControlState(0.7)) as controls:
        assert controls.read().temperature == 0.7


def test_more_knobs_with_an_encoder_still_reserve_the_mcp3008_pins():
    from device.config import ConfigError, check
    from device.settings import Config

    encoder = ControlsConfig(kind="encoder", encoder_a_pin=11)
    check(Config(controls=encoder), "box.toml")  # no MCP3008: GPIO11 is free
    with pytest.raises(ConfigError, match="controls.encoder_a_pin = 11: GPIO11 is already used by SPI0 SCLK"):
        check(Config(controls=encoder, knobs=KnobsConfig(density=1)), "box.toml")


def test_an_encoder_for_the_temperature_and_pots_for_the_rest(factory, adc):
    adc.raw[2] = 1023
    config = ControlsConfig(kind="encoder", hold_time=HOLD)
    with GpioControls(config, TABLE, factory, knobs=KnobsConfig(accent=2)) as controls:
        state = controls.read()
    assert (state.temperature, state.accent) == (1.0, 1.0)
