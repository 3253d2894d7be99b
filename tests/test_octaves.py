"""training.data.octaves: moving melodies by whole octaves into a range of notes (prepare --transpose-into)."""

import numpy as np
import pytest

from device.core.encoding import NO_EVENT as N
from device.core.encoding import NOTE_OFF as OFF
from training.data.octaves import into_range, octave_shift, parse_note, parse_range


@pytest.mark.parametrize(("text", "pitch"), [("60", 60), ("C4", 60), ("G3", 55), ("a6", 93), ("F#5", 78),
                                             ("Bb2", 46), ("C-1", 0)])
def test_a_note_is_a_midi_number_or_a_name_with_middle_c_c4(text, pitch):
    assert parse_note(text) == pitch


@pytest.mark.parametrize(("text", "message"), [
    ("H4", "'H4' is not a note: give a MIDI number (60) or a name (C4 = 60)"),
    ("130", "'130' is MIDI note 130, outside 0..127"),
])
def test_a_note_that_is_none_is_named(text, message):
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        parse_note(text)


def test_a_range_is_low_dots_high_and_spans_an_octave():
    assert parse_range("55..93") == parse_range("G3..A6") == (55, 93)
    with pytest.raises(ValueError, match="give the range as LOW..HIGH"):
        parse_range("55-93")
    with pytest.raises(ValueError, match="must span at least an octave"):
        parse_range("60..70")


@pytest.mark.parametrize(("low", "high", "shift"), [(60, 70, 0), (43, 67, 12), (30, 50, 36), (90, 100, -12),
                                                    (50, 94, None)])
def test_the_shift_is_the_fewest_whole_octaves_that_fit(low, high, shift):
    assert octave_shift(low, high, (55, 93)) == shift


def test_melodies_move_by_octaves_note_offs_and_rests_stay_and_a_too_wide_one_is_left_out():
    low = np.array([43, N, OFF, 50, N], np.int16)
    inside = np.array([60, N, 62, OFF], np.int16)
    wide = np.array([40, 100, N], np.int16)
    moved, said = into_range([low, inside, wide], (55, 93))
    assert [m.tolist() if m is not None else None for m in moved] == [[55, N, OFF, 62, N], [60, N, 62, OFF], None]
    assert said == ["melody 1 up 1 octave", "melody 3 left out: notes 40..100 span more than 55..93"]
