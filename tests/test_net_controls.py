"""NetControls, the loop's controls with the network's changes over the box's own: taken once per step from a bounded
queue that never makes anyone wait, in order, the control moved last winning; every check from the declaration."""

import threading

import pytest

from device.engine.controlstate import ControlState, FixedControls
from device.engine.declaration import BY_NAME, ControlError, with_temperature_range
from device.net.changes import Changes, NetControls, parse_controls


class Knob(FixedControls):
    """The box's own controls: a state the test turns, and button presses."""

    def turn(self, **values):
        self.state = ControlState(**(self.state.values() | values))


def controls():
    inner = Knob()
    changes = Changes(capacity=4)
    return inner, changes, NetControls(inner, changes)


def test_a_change_is_taken_at_the_next_read_and_stays():
    _, changes, net = controls()
    assert changes.put({"temperature": 0.4})
    assert net.read().temperature == 0.4
    assert net.read().temperature == 0.4


def test_changes_apply_in_order_the_last_one_wins():
    _, changes, net = controls()
    changes.put({"density": 0.1})
    changes.put({"density": 0.9, "gate": 0.5})
    state = net.read()
    assert (state.density, state.gate) == (0.9, 0.5)


def test_the_boxs_own_knob_turned_after_a_change_wins_again():
    inner, changes, net = controls()
    changes.put({"temperature": 0.4})
    assert net.read().temperature == 0.4
    inner.turn(temperature=2.0)
    assert net.read().temperature == 2.0
    inner.turn(density=0.7)  # another knob: the temperature stays the knob's
    assert net.read().temperature == 2.0


def test_a_change_after_the_knob_wins_over_it():
    inner, changes, net = controls()
    inner.turn(temperature=2.0)
    net.read()
    changes.put({"temperature": 0.3})
    assert net.read().temperature == 0.3


def test_a_button_from_the_network_is_one_event_at_one_read():
    _, changes, net = controls()
    changes.press("reset")
    changes.press("capture")
    first, second = net.read(), net.read()
    assert (first.reset, first.capture, second.reset, second.capture) == (True, True, False, False)


def test_pause_pressed_twice_in_one_step_changes_nothing_and_with_the_boxs_own_once_pauses_once():
    inner, changes, net = controls()
    changes.press("pause")
    changes.press("pause")
    assert net.read().pause_toggle is False
    inner.pause_toggles_at = frozenset({inner.reads})
    changes.press("pause")
    changes.press("pause")
    assert net.read().pause_toggle is True


def test_a_full_queue_refuses_at_once_and_takes_again_after_a_read():
    _, changes, net = controls()
    assert [changes.put({"density": i / 10}) for i in range(5)] == [True, True, True, True, False]
    assert net.read().density == 0.3
    assert changes.put({"density": 0.8})


def test_many_threads_putting_never_wait_and_lose_only_what_was_refused():
    changes = Changes(capacity=256)
    accepted = []

    def put(n):
        accepted.append(sum(changes.put({"density": 0.5}) for _ in range(100)))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(accepted) == 256 == len(changes.drain())


def test_feedback_goes_to_the_boxs_own_controls():
    inner, _, net = controls()
    net.beat(3, True)
    net.error(True)
    net.waiting(True)
    assert (inner.beats, inner.errors, inner.waits) == ([(3, True)], [True], [True])


def test_values_are_read_by_each_control_with_the_configured_range():
    table = with_temperature_range(0.5, 2.0)
    assert parse_controls(table, {"temperature": "0.75", "scale": "F#:dorian", "loop_bars": 4}) == {
        "temperature": 0.75, "scale": "dorian", "scale_root": 6, "loop_bars": 4}
    with pytest.raises(ControlError, match=r"^temperature: must be 0.5..2$"):
        parse_controls(table, {"temperature": 0.2})


def test_the_table_is_the_declaration():
    assert list(with_temperature_range(0.05, 3.0)) == list(BY_NAME)
