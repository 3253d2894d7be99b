"""A mock MCP3008 ADC for gpiozero's MockFactory (gpiozero ships MockSPIDevice, but no MCP3008).

It listens on SPI0's mock pins (SCLK 11, MOSI 10, MISO 9, CE0 8) and answers
single-ended reads: after the start bit, the SGL bit and three channel bits, it
sends one sample bit, a null bit and the channel's 10-bit value, MSB first.
"""

import warnings
from contextlib import contextmanager

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockSPIDevice


@contextmanager
def mock_pin_factory():
    """A fresh MockFactory. gpiozero's software SPI bus builds one device without passing the
    factory on (it falls back to Device.pin_factory), so this points that at the same mock
    while it is in use, and restores it after."""
    mock = MockFactory()
    previous, Device.pin_factory = Device.pin_factory, mock
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gpiozero warns about software SPI on mock pins
            yield mock
    finally:
        Device.pin_factory = previous
        mock.reset()


class MockMCP3008(MockSPIDevice):
    """Set ``raw[channel]`` (0..1023) or use ``set_position(channel, 0..1)``; gpiozero's
    MCP3008(channel).value then reads raw / 1023."""

    def __init__(self, pin_factory, select_pin=8):
        super().__init__(11, 10, 9, select_pin, pin_factory=pin_factory)
        self.raw = [0] * 8

    def set_position(self, channel, position):
        """Turn the potentiometer on ``channel`` to ``position`` (0..1 of its travel)."""
        self.raw[channel] = round(position * 1023)

    def on_bit(self):
        bits = self.rx_buf
        if 1 not in bits:
            return  # still in the leading zeros
        start = bits.index(1)
        if len(bits) == start + 5 and bits[start + 1] == 1:  # start, SGL, D2, D1, D0 received
            channel = bits[start + 2] << 2 | bits[start + 3] << 1 | bits[start + 4]
            self.tx_word(self.raw[channel], bits_per_word=12)  # sample bit, null bit, B9..B0
