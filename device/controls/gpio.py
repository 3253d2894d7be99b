"""The box's physical controls through gpiozero: knobs, reset button, capture button, status LED.

The temperature knob is a potentiometer on an MCP3008 ADC (SPI0) or a rotary encoder;
more potentiometers on the MCP3008's other channels set any declared control ([knobs] in box.toml;
each knob's travel is its control's curve, engine/declaration.py);
the button resets on a short press and pauses/resumes on a long one; an optional second
button captures the last bars (device/play/capture.py); the LED blinks on the beat, and
flashes briefly every WAIT_FLASH_SECONDS while the transport waits for Start.
The pin factory is always passed in (MockFactory in tests, the
default lgpio factory on a Pi); this module never sets gpiozero's global one.

Three rates: gpiozero calls the button callbacks on its own thread and they only set
flags under a lock; the loop calls ``read()`` once per step, which samples the knobs,
times a held button and consumes the flags, and ``beat()`` once per step (``waiting()``
on the ticks of a stopped transport, about once a step).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, make_dataclass, replace

from device.core.timegrid import DEFAULT_BAR_STEPS, STEPS_PER_QUARTER
from device.engine.controlstate import ControlState
from device.engine.declaration import CONTROLS, UNSET, Control

WAIT_FLASH_SECONDS = 2.0  # waiting for Start, the LED flashes once this often (the pin factory's clock) ...
WAIT_ON_SECONDS = 0.25  # ... for this long, or one tick of the stopped transport if those are further apart


CONTROL_KINDS = ("mcp3008", "encoder", "none")
LONG_PRESS = ("pause", "capture")


@dataclass(frozen=True)
class ControlsConfig:
    """GPIO controls; pin numbers are BCM (GPIO) numbers, as in docs/wiring.png."""

    kind: str = "mcp3008"  # "mcp3008" (potentiometer on an ADC), "encoder" (rotary encoder) or "none"
    button_pin: int = 17
    led_pin: int = 27
    encoder_a_pin: int = 5
    encoder_b_pin: int = 6
    encoder_steps: int = 24  # encoder detents from lowest to highest temperature
    adc_channel: int = 0  # MCP3008 input CH0..CH7
    spi_device: int = 0  # SPI0 chip select: 0 = CE0 (GPIO8), 1 = CE1 (GPIO7)
    hold_time: float = 1.0  # seconds: a press held this long pauses/resumes instead of resetting
    hysteresis: float = 0.02  # knob travel (0..1) a reading must move before the temperature follows
    capture_pin: int = UNSET  # an optional second button (to GND) that captures the last bars; -1: none
    long_press: str = "pause"  # what holding the button for hold_time does: "pause" (pause/resume) or "capture"


KnobsConfig = make_dataclass("KnobsConfig", [(control.name, int, UNSET) for control in CONTROLS if control.pot],
                             frozen=True)
KnobsConfig.__module__ = __name__
KnobsConfig.__doc__ = """More potentiometers on the MCP3008: the input CH0..CH7 each control's wiper is on, -1 for none,
one per declared control that can have a pot (the temperature knob is controls.adc_channel)."""

class Hysteresis:
    """Follows a noisy 0..1 reading only when it leaves a band of +-``band`` around the
    last accepted value, so ADC noise does not wobble the temperature. The ends 0 and 1
    are always reachable: a reading within ``band`` of an end snaps to it."""

    def __init__(self, band: float, initial: float | None = None):
        self.band = band
        self.value = initial

    def update(self, reading: float) -> float:
        """Feed one reading (0..1); return the accepted value (0..1)."""
        if reading <= self.band:
            reading = 0.0
        elif reading >= 1.0 - self.band:
            reading = 1.0
        if self.value is None or abs(reading - self.value) >= self.band or reading in (0.0, 1.0):
            self.value = reading
        return self.value


class AdcKnob:
    """A potentiometer's wiper on an MCP3008 channel, read through a hysteresis filter."""

    def __init__(self, config: ControlsConfig, pin_factory, channel: int | None = None):
        from gpiozero import MCP3008  # lazy: gpiozero is loaded only where the box has GPIO controls

        channel = config.adc_channel if channel is None else channel
        self._adc = MCP3008(channel=channel, port=0, device=config.spi_device, pin_factory=pin_factory)
        self._filter = Hysteresis(config.hysteresis)

    def position(self) -> float:
        """The knob position 0..1 (0 fully counter-clockwise)."""
        return self._filter.update(self._adc.value)

    def close(self) -> None:
        self._adc.close()


class EncoderKnob:
    """A rotary encoder as a knob: ``steps`` detents from 0 to 1, no wrap-around."""

    def __init__(self, config: ControlsConfig, initial: float, pin_factory):
        from gpiozero import RotaryEncoder  # lazy: gpiozero is loaded only where the box has GPIO controls

        self._half = max(1, config.encoder_steps // 2)
        self._encoder = RotaryEncoder(
            config.encoder_a_pin, config.encoder_b_pin, max_steps=self._half, wrap=False, pin_factory=pin_factory
        )
        self._encoder.steps = round((2 * initial - 1) * self._half)

    def position(self) -> float:
        return (self._encoder.steps + self._half) / (2 * self._half)

    def close(self) -> None:
        self._encoder.close()


class GpioControls:
    """The loop's Controls on real (or mock) pins. ``close()`` is idempotent; a context manager.

    ``table``: the declared controls by name (engine/declaration.py, the temperature's range from the
    config): each knob's travel is its control's curve. ``start``: the state the box starts from
    (temperature.initial and the [music] values); a knob on a channel of ``knobs`` sets its control from
    the first read on. The main
    button resets on a short press; held for ``hold_time`` it pauses/resumes (or captures, with
    ``long_press = "capture"``). The optional second button (``capture_pin``) captures. How long a
    press lasts is measured on the pin factory's ``ticks()``, at each read and at the release.
    """

    def __init__(self, controls: ControlsConfig, table: Mapping[str, Control], pin_factory,
                 knobs: KnobsConfig | None = None, start: ControlState | None = None):
        from gpiozero import LED, Button  # lazy: gpiozero is loaded only where the box has GPIO controls

        self._table = table
        self._start = (start or ControlState()).without_events()
        self._hold_time = controls.hold_time
        self._long_press = "capture" if controls.long_press == "capture" else "pause_toggle"
        self._lock = threading.Lock()
        self._events: set[str] = set()  # ControlState event fields seen since the last read
        self._pressed_at = None
        self._held = False  # the current press already acted as a long press
        self.holds = 0  # long presses seen
        self._factory = pin_factory
        self._error = False
        self._flashed_at = None  # waiting for Start: the pin factory's ticks() at the last flash's start
        self._closed = False
        self._devices = []
        self.led = None
        self.capture_button = None
        try:
            self.knob = self._make_knob(controls, table["temperature"].position(self._start.temperature), pin_factory)
            if self.knob is not None:
                self._devices.append(self.knob)
            self.knobs = {}
            for name in (control.name for control in CONTROLS if control.pot):
                channel = getattr(knobs, name, UNSET) if knobs is not None else UNSET
                if channel != UNSET:
                    self.knobs[name] = AdcKnob(controls, pin_factory, channel)
                    self._devices.append(self.knobs[name])
            self.button = Button(controls.button_pin, pull_up=True, pin_factory=pin_factory)
            self._devices.append(self.button)
            if controls.capture_pin != UNSET:
                self.capture_button = Button(controls.capture_pin, pull_up=True, pin_factory=pin_factory)
                self._devices.append(self.capture_button)
            self.led = LED(controls.led_pin, pin_factory=pin_factory)
            self._devices.append(self.led)
        except BaseException:
            self.close()
            raise
        self.button.when_pressed = self._on_pressed
        self.button.when_released = self._on_released
        if self.capture_button is not None:
            self.capture_button.when_pressed = lambda: self._event("capture")

    @staticmethod
    def _make_knob(controls: ControlsConfig, initial: float, pin_factory):
        """The temperature knob: a pot, an encoder starting at ``initial`` (0..1), or none."""
        if controls.kind == "mcp3008":
            return AdcKnob(controls, pin_factory)
        if controls.kind == "encoder":
            return EncoderKnob(controls, initial, pin_factory)
        return None

    # gpiozero's threads: only flags. A press is short or long by how long it lasted on the factory's
    # ticks: long once a read sees it held for hold_time (it acts while still held), else short on release.
    def _event(self, name: str) -> None:
        with self._lock:
            self._events.add(name)

    def _on_pressed(self) -> None:
        with self._lock:
            self._pressed_at, self._held = self._factory.ticks(), False

    def _on_released(self) -> None:
        with self._lock:
            if self._pressed_at is None:
                return
            self._check_hold()
            if not self._held:
                self._events.add("reset")
            self._pressed_at = None

    def _check_hold(self) -> None:
        """With the lock held: a press lasting hold_time acts (once) as a long press."""
        if self._pressed_at is None or self._held:
            return
        if self._factory.ticks_diff(self._factory.ticks(), self._pressed_at) >= self._hold_time:
            self._held = True
            self.holds += 1
            self._events.add(self._long_press)

    # The loop's thread, once per step.
    def read(self) -> ControlState:
        """Sample the knobs and consume the buttons' events."""
        values = {name: self._table[name].value(knob.position()) for name, knob in self.knobs.items()}
        if self.knob is not None:
            values["temperature"] = self._table["temperature"].value(self.knob.position())
        with self._lock:
            self._check_hold()
            events, self._events = self._events, set()
        return replace(self._start, **values, **{name: True for name in events})

    def beat(self, step: int, playing: bool) -> None:
        """Drive the LED for 16th-note ``step``: on for the first 16th of each quarter while
        playing, one flash per bar while paused, toggling every step while in error."""
        if self._closed:
            return
        if self._error:
            on = step % 2 == 0
        elif playing:
            on = step % STEPS_PER_QUARTER == 0
        else:
            on = step % DEFAULT_BAR_STEPS == 0
        self.led.value = on

    def waiting(self, active: bool) -> None:
        """While the transport is stopped (called on its ticks, about once a step): flash the LED for
        WAIT_ON_SECONDS every WAIT_FLASH_SECONDS, timed on the pin factory's ticks(), the first flash at
        once; so a waiting box is neither dark nor mistaken for a playing one, and a hung loop stops
        flashing. In error the LED toggles on each tick instead. ``False``: the transport runs again, the
        beat takes over."""
        if self._closed:
            return
        if not active:
            self._flashed_at = None
            return
        now = self._factory.ticks()
        since = None if self._flashed_at is None else self._factory.ticks_diff(now, self._flashed_at)
        if since is None or since >= WAIT_FLASH_SECONDS:
            self._flashed_at, since = now, 0.0
        self.led.value = (not self.led.value) if self._error else since < WAIT_ON_SECONDS

    def error(self, active: bool) -> None:
        """Enter or leave the error pattern (LED on at once; fast blink while steps go on)."""
        self._error = active
        if not self._closed:
            self.led.value = active

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if getattr(self, "led", None) is not None:
            self.led.off()  # a closed box shows no stale beat
        for device in reversed(self._devices):
            device.close()
        self._devices = []

    def __enter__(self) -> GpioControls:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
