"""MIDI CC as controls: scripted input events through the CC map, over the box's own controls."""

import mido
import pytest

from device.controls.cc import CcConfig, CcControls, CcMap, InputTap, cc_table
from device.engine.controlstate import ControlState, FixedControls
from device.engine.declaration import BY_NAME
from device.midi.midi_in import InputEvent

TABLE = BY_NAME


class ScriptedInput:
    """A MIDI input whose drains return the scripted batches in turn."""

    def __init__(self, *batches):
        self.batches = [[InputEvent(0.0, message) for message in batch] for batch in batches]
        self.name = "nanoKONTROL2"

    def drain(self):
        return self.batches.pop(0) if self.batches else []


def cc(control, value):
    return mido.Message("control_change", control=control, value=value)


def note(pitch, velocity=100):
    return mido.Message("note_on", note=pitch, velocity=velocity)


def controls(*batches, inner=None, keep_rest=False, **config):
    tap = InputTap(ScriptedInput(*batches), CcMap(CcConfig(**config)), keep_rest=keep_rest)
    return CcControls(inner or FixedControls(ControlState()), tap, TABLE)


def test_the_default_map_is_a_nanokontrol2_in_cc_mode():
    assert cc_table(CcConfig()) == [("temperature", 16), ("density", 17), ("deja_vu", 18), ("strictness", 19),
                                    ("register_centre", 20), ("register_width", 21), ("gate", 22), ("accent", 23),
                                    ("reset", 32), ("pause", 33), ("capture", 34)]


def test_each_knob_cc_sets_its_control():
    state = controls([cc(16, 127), cc(17, 0), cc(18, 127), cc(19, 64), cc(20, 127), cc(21, 0), cc(22, 127),
                      cc(23, 127)]).read()
    assert (state.temperature, state.density, state.deja_vu, state.strictness, state.register_centre,
            state.register_width, state.gate, state.accent) == (3.0, 0.0, 1.0, 64 / 127, 127, 0, 1.0, 1.0)


def test_the_last_value_of_a_cc_in_a_step_wins():
    assert controls([cc(17, 10), cc(17, 90)]).read().density == 90 / 127


def test_a_cc_value_holds_until_it_changes():
    box = controls([cc(17, 127)], [])
    assert [box.read().density, box.read().density] == [1.0, 1.0]


def test_stepped_controls_on_ccs():
    state = controls([cc(1, 127), cc(2, 40), cc(3, 127)], loop_bars=1, scale_root=2, scale=3).read()
    assert (state.loop_bars, state.scale_root, state.scale) == (8, 3, "blues")


def test_unmapped_ccs_change_nothing():
    assert controls([cc(7, 0), cc(64, 127)]).read() == ControlState()


def test_a_button_acts_once_per_press_on_the_rising_edge():
    box = controls([cc(32, 127)], [cc(32, 127)], [cc(32, 0), cc(32, 127), cc(32, 0)], [])
    assert [box.read().reset for _ in range(4)] == [True, False, True, False]


def test_pause_and_capture_buttons():
    state = controls([cc(33, 127), cc(34, 127)]).read()
    assert (state.reset, state.pause_toggle, state.capture) == (False, True, True)


def test_a_knob_moved_after_a_cc_takes_over_again():
    class Knob(FixedControls):
        def read(self):
            self.state = ControlState(temperature=[1.0, 1.0, 2.0][self.reads])
            return super().read()

    box = controls([cc(16, 0)], [], [], inner=Knob())
    lowest = BY_NAME["temperature"].value(0.0)
    assert [box.read().temperature for _ in range(3)] == [lowest, lowest, 2.0]


def test_the_inner_controls_events_pass_through():
    assert controls([], inner=FixedControls(ControlState(), resets_at={0})).read().reset is True


def test_the_last_note_played_sets_the_root_when_asked():
    assert controls([note(62), note(67), note(69, velocity=0)], root_from_notes=True).read().scale_root == 7
    assert controls([note(62)]).read().scale_root == 0


def test_the_tap_gives_notes_to_its_other_reader_and_keeps_mapped_ccs():
    tap = InputTap(ScriptedInput([cc(16, 0), note(60), cc(7, 100)]), CcMap(CcConfig(root_from_notes=True)),
                   keep_rest=True)
    assert [e.message for e in tap.drain()] == [note(60), cc(7, 100)]
    assert [e.message for e in tap.take()] == [cc(16, 0), note(60)]
    assert tap.name == "nanoKONTROL2"


@pytest.mark.parametrize("number", [-2, 120])
def test_a_cc_number_outside_0_to_119_is_refused(number):
    from device.config import ConfigError, check
    from device.settings import Config

    with pytest.raises(ConfigError, match=f"box.toml: cc.gate = {number}: must be a CC number 0..119, or -1 for none"):
        check(Config(cc=CcConfig(gate=number)), "box.toml")


def test_one_cc_for_two_controls_is_refused():
    from device.config import ConfigError, check
    from device.settings import Config

    with pytest.raises(ConfigError, match="cc.capture = 16: CC 16 is already used by cc.temperature"):
        check(Config(cc=CcConfig(capture=16)), "box.toml")
