"""device.engine.declaration: every control declared once, its knob curve, its checks, and what is made from it."""

import dataclasses
import math

import pytest

from device.engine.controlstate import ControlState
from device.engine.curves import Choices, ControlError, Geometric, Linear
from device.engine.declaration import BUTTONS, BY_NAME, CONTROLS, SHORTHANDS, with_temperature_range


def temperature_from_knob(position, low=0.05, high=3.0):
    return Geometric(low, high).value(position)


def test_knob_at_zero_gives_low():
    assert temperature_from_knob(0.0) == pytest.approx(0.05)


def test_knob_at_middle_gives_exactly_one():
    assert temperature_from_knob(0.5) == 1.0


def test_knob_at_one_gives_high():
    assert temperature_from_knob(1.0) == pytest.approx(3.0)


def test_knob_is_geometric_on_each_half():
    assert temperature_from_knob(0.25, low=0.04, high=4.0) == pytest.approx(0.2)  # sqrt(0.04)
    assert temperature_from_knob(0.75, low=0.04, high=4.0) == pytest.approx(2.0)  # sqrt(4)


def test_knob_is_strictly_increasing():
    values = [temperature_from_knob(p / 100) for p in range(101)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))


def test_knob_clamps_positions_outside_zero_to_one():
    assert temperature_from_knob(-0.2) == temperature_from_knob(0.0)
    assert temperature_from_knob(1.3) == temperature_from_knob(1.0)


def test_knob_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        temperature_from_knob(math.nan)


def test_knob_rejects_a_range_that_does_not_straddle_one():
    with pytest.raises(ValueError, match="0 <= low < 1 < high"):
        temperature_from_knob(0.3, low=1.5, high=3.0)


def test_the_temperature_knob_gives_back_the_position_of_any_temperature():
    curve = Geometric(0.05, 3.0)
    for temperature in (0.05, 0.1, 0.5, 0.99, 1.0, 1.01, 2.0, 3.0):
        assert curve.value(curve.position(temperature)) == pytest.approx(temperature, rel=1e-9)


def test_temperature_0_is_greedy_and_the_knob_fully_left_reaches_it():
    knob = BY_NAME["temperature"]
    assert knob.parse("0") == {"temperature": 0.0}
    assert knob.value(0.0) == 0.0 and knob.position(0.0) == 0.0


def test_a_greedy_end_keeps_the_geometric_feel_of_the_rest_of_the_left_half():
    greedy, plain = Geometric(0.0, 3.0), Geometric(0.05, 3.0)
    assert [greedy.value(p / 20) for p in range(1, 21)] == [plain.value(p / 20) for p in range(1, 21)]
    assert greedy.value(math.nextafter(0.0, 1.0)) == pytest.approx(0.05)
    for temperature in (0.0, 0.05, 0.1, 0.5, 1.0, 2.0):
        assert greedy.value(greedy.position(temperature)) == pytest.approx(temperature, rel=1e-9)


def test_the_temperature_range_can_be_set_and_the_other_controls_stay():
    table = with_temperature_range(0.1, 2.0)
    assert (table["temperature"].value(0.0), table["temperature"].value(1.0)) == (pytest.approx(0.1), 2.0)
    assert table["density"] is BY_NAME["density"]


def test_a_linear_knob_spreads_its_travel_evenly_and_whole_numbers_round():
    assert [Linear(0, 1).value(p) for p in (0, 0.25, 1)] == [0, 0.25, 1]
    assert [Linear(0, 127, whole=True).value(p) for p in (0, 0.5, 1)] == [0, 64, 127]
    assert Linear(0, 128, whole=True).position(64) == 0.5


def test_a_choice_knob_splits_its_travel_in_equal_parts_and_a_position_is_a_parts_middle():
    knob = Choices((1, 2, 4, 8))
    assert [knob.value(p) for p in (0.0, 0.24, 0.25, 0.99, 1.0)] == [1, 1, 2, 8, 8]
    assert knob.position(4) == 0.625 and knob.steps == 4


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("density", 1.5, "must be 0..1"),
    ("density", "a lot", "must be a number"),
    ("density", True, "must be a number"),
    ("density", math.nan, "must be a number"),
    ("register_centre", 60.5, "must be a whole number"),
    ("register_centre", 128, "must be 0..127"),
    ("loop_bars", 3, "must be one of 1, 2, 4, 8"),
    ("scale", "lydian", "unknown scale 'lydian'"),
    ("scale", "H:major", "'H' is not a note name"),
    ("scale_root", 12, "must be one of 0, 1"),
    ("temperature", -0.01, "must be 0..3"),
])
def test_a_value_a_control_cannot_take_is_refused_with_the_reason(name, value, reason):
    with pytest.raises(ControlError, match=reason):
        BY_NAME[name].parse(value)


def test_text_is_read_as_the_control_reads_it_and_may_set_two_controls():
    assert BY_NAME["density"].parse("0.25") == {"density": 0.25}
    assert BY_NAME["loop_bars"].parse("4") == {"loop_bars": 4}
    assert BY_NAME["scale"].parse("F#:dorian") == {"scale": "dorian", "scale_root": 6}
    assert BY_NAME["scale"].parse("minor-pentatonic") == {"scale": "minor_pentatonic"}
    assert BY_NAME["scale_root"].parse("Bb") == {"scale_root": 10}
    assert BY_NAME["register_centre"].parse(72) == {"register_centre": 72}


def test_the_register_shorthand_sets_the_centre_and_the_width():
    (register,) = SHORTHANDS
    assert register.parse("72:12") == {"register_centre": 72, "register_width": 12}
    with pytest.raises(ControlError, match="is not CENTRE:WIDTH"):
        register.parse("72")


def test_every_control_is_a_field_of_the_control_state_with_its_default_and_the_buttons_are_its_events():
    names = [f.name for f in dataclasses.fields(ControlState)]
    assert names == [c.name for c in CONTROLS] + [b.event for b in BUTTONS]
    assert ControlState().values() == {c.name: c.default for c in CONTROLS}
    assert ControlState(0.3).temperature == 0.3


def test_every_default_is_a_value_its_control_takes_and_its_knob_reaches():
    for control in CONTROLS:
        assert control.check(control.default) == control.default
        assert control.value(control.position(control.default)) == pytest.approx(control.default)


def test_no_two_controls_or_buttons_share_a_key_or_a_cc():
    keys = [c.key for c in CONTROLS if c.key] + [k for b in BUTTONS for k in b.keys]
    ccs = [c.cc for c in CONTROLS if c.cc >= 0] + [b.cc for b in BUTTONS]
    assert len(keys) == len(set(k.lower() for k in keys)) and "q" not in keys
    assert len(ccs) == len(set(ccs)) and all(0 <= cc <= 119 for cc in ccs)


def test_every_control_has_help_and_a_unit_for_people():
    assert all(c.help and c.unit for c in CONTROLS)
