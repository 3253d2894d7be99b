"""An lgpio.error on a Pi (e.g. wrong permissions on /dev/gpiochip0) falls back like gpiozero's own errors:
one line saying why, keyboard/MIDI-only controls, no traceback. lgpio is not installed here: a stand-in
module with lgpio's exception class plays it, as gpiozero would have loaded it."""

import sys
import types

import pytest
from gpiozero.pins.mock import MockFactory

from device.assembly import Parts, gpio_errors, open_controls
from device.controls.keyboard import SimControls
from device.settings import Config


class error(Exception):  # noqa: N801 (lgpio's own name for it)
    """lgpio's exception class: lgpio.error."""


error.__module__ = "lgpio"


@pytest.fixture
def lgpio(monkeypatch):
    module = types.ModuleType("lgpio")
    module.error = error
    monkeypatch.setitem(sys.modules, "lgpio", module)
    return module


class UnopenableChip(MockFactory):
    """A pin factory whose pins and SPI raise what lgpio raises when /dev/gpiochip0 cannot be opened."""

    def pin(self, spec, **kwargs):
        raise sys.modules["lgpio"].error("can not open gpiochip")

    def spi(self, **spi_args):
        raise sys.modules["lgpio"].error("can not open gpiochip")


def test_an_lgpio_error_falls_back_to_keyboard_controls_with_one_line(lgpio):
    said = []
    controls = open_controls(Config(), Parts(pin_factory=UnopenableChip(), keys=None), said.append)
    try:
        assert isinstance(controls, SimControls)
        assert said == ["GPIO failed (error: can not open gpiochip), and no keyboard (stdin is not a terminal): "
                        "temperature stays 1.0"]
    finally:
        controls.close()


def test_lgpio_error_is_caught_only_once_lgpio_is_loaded(lgpio, monkeypatch):
    from gpiozero.exc import GPIOZeroError

    assert gpio_errors() == (GPIOZeroError, error)
    monkeypatch.delitem(sys.modules, "lgpio")
    assert gpio_errors() == (GPIOZeroError,)


def test_other_errors_from_the_pin_factory_are_not_swallowed(lgpio):
    class Broken(MockFactory):
        def pin(self, spec=None, **kwargs):
            raise ValueError("a bug, not missing hardware")

        def spi(self, **spi_args):
            raise ValueError("a bug, not missing hardware")

    with pytest.raises(ValueError, match="a bug"):
        open_controls(Config(), Parts(pin_factory=Broken(), keys=None), lambda message: None)
