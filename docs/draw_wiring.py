"""Draw docs/wiring.png: the Pi's 40-pin header, the MCP3008 with the knob, the button, the LED,
the optional second knobs (CH1-CH7) and capture button, and (alternatively) a KY-040 rotary
encoder. Pin numbers come from device/pi/box.toml, so the picture always matches the shipped
configuration (the capture button, off there, is drawn on its suggested GPIO). Desktop only (matplotlib):

    .venv/bin/python docs/draw_wiring.py            # writes docs/wiring.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from device.config import load_config  # noqa: E402

# The 40-pin header: physical pin -> name (BCM numbers for GPIOs).
HEADER = {1: "3V3", 2: "5V", 4: "5V", 17: "3V3", **{p: "GND" for p in (6, 9, 14, 20, 25, 30, 34, 39)}}
BCM_AT = {3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10, 21: 9,
          22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19, 36: 16, 37: 26,
          38: 20, 40: 21}
PHYSICAL = {bcm: pin for pin, bcm in BCM_AT.items()}
HEADER.update({pin: f"GPIO{bcm}" for pin, bcm in BCM_AT.items()})
SUGGESTED_CAPTURE_PIN = 22  # BCM: the capture button's GPIO in the picture when box.toml leaves it off
RED, BLACK, BLUE, GREEN = "#d62728", "#222222", "#1f77b4", "#2ca02c"
ORANGE, GOLD, PURPLE, BROWN, TEAL = "#ff7f0e", "#b8860b", "#9467bd", "#8c564b", "#17becf"


def pin_xy(pin: int) -> tuple[float, float]:
    """Header pins as seen from above with the board's edge at the top: odd pins on the lower row."""
    return (pin - 1) // 2, 0.0 if pin % 2 else 1.0


def wire(ax, points, color, width=2.2, style="-"):
    xs, ys = zip(*points, strict=True)
    ax.plot(xs, ys, color=color, lw=width, ls=style, solid_capstyle="round", zorder=2)


def dot(ax, x, y, color=BLACK):
    ax.add_patch(Circle((x, y), 0.09, color=color, zorder=4))


def label(ax, x, y, text, color=BLACK, size=9, **kwargs):
    ax.text(x, y, text, color=color, fontsize=size, zorder=5, **kwargs)


def draw_header(ax, used: dict[int, str]):
    ax.add_patch(FancyBboxPatch((-0.6, -0.45), 20.2, 1.9, boxstyle="round,pad=0.05", fc="#2f4f2f", ec="none"))
    label(ax, -0.6, 1.75, "Raspberry Pi 40-pin header (seen from above, board edge at the top; pin 1 at the left)",
          size=10, weight="bold")
    for pin in range(1, 41):
        x, y = pin_xy(pin)
        color = used.get(pin, "#c8c8c8")
        ax.add_patch(Circle((x, y), 0.3, fc=color, ec="white", lw=1, zorder=3))
        label(ax, x, y, str(pin), color="white" if pin in used else BLACK, size=6.5, ha="center", va="center")
    label(ax, 20.0, 0.0, "odd pins 1-39", size=7.5, color="#555555", va="center")
    label(ax, 20.0, 1.0, "even pins 2-40", size=7.5, color="#555555", va="center")


def pin_wire(ax, pin, color, bottom, text):
    """A wire straight down from a lower-row pin, with its pin label running along it."""
    x, y = pin_xy(pin)
    wire(ax, [(x, y - 0.3), (x, bottom)], color)
    label(ax, x + 0.12, -0.55, f"{pin}: {text}", color=color, size=7.5, rotation=90, va="top", ha="left")


def resistor(ax, x, top, bottom, color, text):
    ax.add_patch(Rectangle((x - 0.16, bottom), 0.32, top - bottom, fc="#f5deb3", ec=BLACK, lw=1.2, zorder=3))
    label(ax, x + 0.3, (top + bottom) / 2, text, size=8, va="center")


def push_button(ax, x, top, bottom, color):
    """A push button between ``top`` (the GPIO side) and ``bottom`` (GND): two contacts and a bar."""
    dot(ax, x, top, color)
    dot(ax, x, bottom, BLACK)
    wire(ax, [(x - 0.35, top - 0.25), (x - 0.35, bottom + 0.25)], BLACK, width=1.5)
    wire(ax, [(x - 0.35, (top + bottom) / 2), (x - 0.6, (top + bottom) / 2)], BLACK, width=1.5)


def draw_button_and_led(ax, button_pin, led_pin, capture_pin, gnd_pin, rail_y, hold_time, long_press):
    gx = pin_xy(gnd_pin)[0]
    bx, lx, cx = pin_xy(button_pin)[0], pin_xy(led_pin)[0], pin_xy(capture_pin)[0]
    pin_wire(ax, gnd_pin, BLACK, rail_y, "GND")
    pin_wire(ax, button_pin, BLUE, -4.6, f"GPIO{BCM_AT[button_pin]} button")
    pin_wire(ax, led_pin, GREEN, -4.3, f"GPIO{BCM_AT[led_pin]} LED")
    push_button(ax, bx, -4.6, -5.4, BLUE)
    label(ax, bx - 0.85, -5.0, f"button\n(internal pull-up;\npress: reset,\nhold {hold_time:g} s: {long_press})",
          size=7.5, ha="right", va="center")
    wire(ax, [(bx, -5.4), (bx, rail_y)], BLACK)
    # the optional capture button, like the first
    x, y = pin_xy(capture_pin)
    wire(ax, [(x, y - 0.3), (x, -3.2)], BLUE, style="--")
    label(ax, x + 0.12, -0.55, f"{capture_pin}: GPIO{BCM_AT[capture_pin]} capture", color=BLUE, size=7.5, rotation=90,
          va="top", ha="left")
    push_button(ax, cx, -3.2, -4.0, BLUE)
    label(ax, cx + 0.2, -2.6, "optional capture button:\nwrites the last bars\n(controls.capture_pin)", size=7,
          va="center", bbox={"fc": "white", "ec": "none", "pad": 1})
    wire(ax, [(cx, -4.0), (cx, rail_y)], BLACK, style="--")
    dot(ax, cx, rail_y)
    # LED with its series resistor
    resistor(ax, lx, -4.3, -5.1, GREEN, "330 Ω")
    wire(ax, [(lx, -5.1), (lx, -5.35)], GREEN)
    ax.add_patch(plt.Polygon([(lx - 0.25, -5.35), (lx + 0.25, -5.35), (lx, -5.75)], fc="#7CFC00", ec=BLACK, zorder=3))
    wire(ax, [(lx - 0.25, -5.75), (lx + 0.25, -5.75)], BLACK, width=1.5)
    label(ax, lx + 0.35, -5.55, "LED (long leg up)", size=7.5, va="center")
    wire(ax, [(lx, -5.75), (lx, rail_y)], BLACK)
    wire(ax, [(gx, rail_y), (max(bx, lx, cx), rail_y)], BLACK)
    for x in (gx, bx, lx):
        dot(ax, x, rail_y)
    return gx


def draw_adc(ax, spi_device, adc_channel, gnd_x, rail_y):
    """MCP3008 under the SPI pins; the potentiometer to its left."""
    vdd, mosi, miso, sclk, ce, gnd = 17, 19, 21, 23, 24 - 2 * spi_device, 25
    top, bottom, left, right = -6.6, -10.4, 7.45, 12.55
    pin_wire(ax, vdd, RED, top, "3V3")
    pin_wire(ax, mosi, ORANGE, top, "GPIO10 MOSI")
    pin_wire(ax, miso, GOLD, top, "GPIO9 MISO")
    pin_wire(ax, sclk, PURPLE, top, "GPIO11 SCLK")
    pin_wire(ax, gnd, BLACK, top, "GND")
    ce_x = pin_xy(ce)[0] + 0.5  # from the upper row, down between the lower row's pins
    wire(ax, [(pin_xy(ce)[0] + 0.2, 0.75), (ce_x, 0.5), (ce_x, top)], BROWN)
    label(ax, ce_x + 0.12, -0.55, f"{ce}: GPIO{BCM_AT[ce]} CE{spi_device}", color=BROWN, size=7.5, rotation=90,
          va="top", ha="left")
    ax.add_patch(Rectangle((left, bottom), right - left, top - bottom, fc="#333333", ec=BLACK, zorder=3))
    label(ax, (left + right) / 2, bottom + 0.35, "MCP3008 (10-bit ADC)", color="white", size=9, ha="center",
          weight="bold")
    chip_pins = [(8, "VDD 16 +\nVREF 15"), (9, "DIN 11"), (10, "DOUT 12"), (11, "CLK 13"), (ce_x, "CS 10"),
                 (12, "AGND 14 +\nDGND 9")]
    for x, text in chip_pins:
        label(ax, x, top - 0.2, text, color="white", size=6.5, rotation=90, ha="center", va="top")
    # the potentiometer: ends on 3V3 and GND, wiper to CH<adc_channel>
    ch_y = -9.0
    label(ax, left + 0.1, ch_y, f"CH{adc_channel}\n(pin {adc_channel + 1})", color="white", size=7, va="center")
    p1, p2, py = 1.0, 4.0, -8.0
    pin_wire(ax, 1, RED, py, "3V3")
    wire(ax, [(0, py), (p1, py)], RED)
    wire(ax, [(gnd_x, rail_y), (gnd_x, py + 0.0), (p2, py)], BLACK)
    ax.add_patch(Rectangle((p1, py - 0.22), p2 - p1, 0.44, fc="#f5deb3", ec=BLACK, lw=1.2, zorder=3))
    wx = (p1 + p2) / 2
    ax.annotate("", xy=(wx, py - 0.22), xytext=(wx, ch_y), zorder=4,
                arrowprops={"arrowstyle": "-|>", "color": TEAL, "lw": 2.2})
    wire(ax, [(wx, ch_y), (left, ch_y)], TEAL)
    label(ax, p1, py + 0.35, "knob: 10 kΩ linear pot (temperature)", size=8)
    label(ax, wx + 0.15, ch_y + 0.2, "wiper", color=TEAL, size=7.5)
    # optional: more pots on CH1..CH7, each wired like the first
    ch1_y, qy = -9.7, -10.6
    label(ax, left + 0.1, ch1_y - 0.05, "CH1-CH7\n(pins 2-8)", color="white", size=7, va="center")
    ax.add_patch(Rectangle((p1, qy - 0.22), p2 - p1, 0.44, fc="none", ec=BLACK, lw=1.2, ls="--", zorder=3))
    ax.annotate("", xy=(wx, qy + 0.22), xytext=(wx, ch1_y), zorder=4,
                arrowprops={"arrowstyle": "-|>", "color": TEAL, "lw": 1.6, "ls": "--"})
    wire(ax, [(wx, ch1_y), (left, ch1_y)], TEAL, width=1.6, style="--")
    label(ax, p1 - 0.1, qy, "3V3", color=RED, size=7.5, ha="right", va="center")
    label(ax, p2 + 0.1, qy, "GND", size=7.5, va="center")
    label(ax, p1, qy - 0.4, "optional: up to 7 more pots, ends to 3V3 and GND like the first,\n"
          "wipers on CH1-CH7; box.toml [knobs] says which control each one turns", size=7.5, va="top")


def draw_encoder(ax, a_pin, b_pin, gnd_pin):
    """A KY-040 encoder board, its pins in the board's order: CLK, DT, SW, +, GND."""
    a_x, b_x, gnd_x = (pin_xy(p)[0] for p in (a_pin, b_pin, gnd_pin))
    sw_x, plus_x = b_x + (gnd_x - b_x) / 3, b_x + 2 * (gnd_x - b_x) / 3
    top, bottom = -6.6, -8.2
    pin_wire(ax, a_pin, TEAL, top, f"GPIO{BCM_AT[a_pin]} CLK")
    pin_wire(ax, b_pin, "#e377c2", top, f"GPIO{BCM_AT[b_pin]} DT")
    pin_wire(ax, gnd_pin, BLACK, top, "GND")
    wire(ax, [(plus_x, top), (plus_x, top + 0.6)], RED)
    label(ax, plus_x, top + 0.7, "3V3", color=RED, size=7.5, ha="center", va="bottom")
    wire(ax, [(sw_x, top), (sw_x, top + 0.6)], BLUE, style="--")
    label(ax, sw_x, top + 0.7, "(free)", color=BLUE, size=7.5, ha="center", va="bottom")
    left, right = a_x - 0.6, gnd_x + 0.6
    ax.add_patch(Rectangle((left, bottom), right - left, top - bottom, fc="#eeeeee", ec=BLACK, ls="--", zorder=3))
    for x, text in zip((a_x, b_x, sw_x, plus_x, gnd_x), ("CLK", "DT", "SW", "+", "GND"), strict=True):
        label(ax, x, top - 0.3, text, size=8, ha="center", va="top")
    label(ax, (left + right) / 2, bottom + 0.35, "KY-040 rotary encoder (instead of the temperature pot)",
          size=7.5, ha="center")
    label(ax, left, bottom - 0.5, 'box.toml: controls.kind = "encoder". + to 3V3 (pin 1 or 17), never 5V:\n'
          "the board's pull-ups on CLK and DT go to +. SW is a push switch: leave it\n"
          "free, or wire it to the button's GPIO instead of a separate button.", size=7.5, va="top")


def main(out: Path = ROOT / "docs" / "wiring.png") -> None:
    c = load_config(ROOT / "device" / "pi" / "box.toml").controls
    button, led = PHYSICAL[c.button_pin], PHYSICAL[c.led_pin]
    capture = PHYSICAL[c.capture_pin if c.capture_pin != -1 else SUGGESTED_CAPTURE_PIN]
    enc_a, enc_b = PHYSICAL[c.encoder_a_pin], PHYSICAL[c.encoder_b_pin]
    gnd_left, gnd_enc = 9, 39
    used = {1: RED, 17: RED, gnd_left: BLACK, 25: BLACK, gnd_enc: BLACK, button: BLUE, capture: BLUE, led: GREEN,
            19: ORANGE,
            21: GOLD, 23: PURPLE, 24 - 2 * c.spi_device: BROWN, enc_a: TEAL, enc_b: "#e377c2"}
    fig, ax = plt.subplots(figsize=(14, 9.5))
    draw_header(ax, used)
    rail_y = -6.1
    gnd_x = draw_button_and_led(ax, button, led, capture, gnd_left, rail_y, c.hold_time, c.long_press)
    draw_adc(ax, c.spi_device, c.adc_channel, gnd_x, rail_y)
    draw_encoder(ax, enc_a, enc_b, gnd_enc)
    notes = (
        "Melody Box wiring. Numbers in circles are physical pins; GPIO numbers are BCM (as in device/pi/box.toml).\n"
        "Turn SPI on (install.sh does: raspi-config nonint do_spi 0). MIDI goes out over USB, not over these pins."
    )
    label(ax, -0.6, -12.0, notes, size=9, va="top")
    ax.set_xlim(-1.2, 21.6)
    ax.set_ylim(-13.1, 2.2)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
