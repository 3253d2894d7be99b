"""training.keys: each melody moved to C by the nearer way round, before a key-normalised model learns it."""

import numpy as np

from device.encoding import NO_EVENT, NOTE_OFF
from training.keys import NATIVE_KEY, key_of, most_common_key, shift_to_native, to_native_key

D_MAJOR = np.array([62, NO_EVENT, 64, 66, 67, NOTE_OFF, 69, 71, 73, 74, NO_EVENT, NOTE_OFF], dtype=np.int16)
E_MINOR = np.array([64, 66, 67, 69, 71, 72, 74, 76, NOTE_OFF], dtype=np.int16)  # G major's notes


def test_a_melodys_key_is_the_major_key_whose_notes_hold_most_of_it():
    assert key_of(D_MAJOR) == 2
    assert key_of(E_MINOR) == 7  # a mode is its major key's set: E minor is G's
    assert key_of(np.array([NO_EVENT, NOTE_OFF])) == NATIVE_KEY


def test_the_shift_to_c_is_the_nearer_way_round():
    assert [shift_to_native(key) for key in range(12)] == [0, -1, -2, -3, -4, -5, -6, 5, 4, 3, 2, 1]


def test_moving_to_c_shifts_note_ons_only():
    moved = to_native_key(D_MAJOR)
    notes = D_MAJOR < 128
    np.testing.assert_array_equal(moved[notes], D_MAJOR[notes] - 2)
    np.testing.assert_array_equal(moved[~notes], D_MAJOR[~notes])
    assert moved.dtype == D_MAJOR.dtype
    assert key_of(moved) == NATIVE_KEY
    np.testing.assert_array_equal(to_native_key(to_native_key(E_MINOR)), to_native_key(E_MINOR))


def test_a_note_moved_out_of_midi_goes_an_octave_back():
    low_d = np.array([2, 4, 6, 7, 9, 11, 1], dtype=np.int16)  # D major at the bottom of MIDI
    assert to_native_key(low_d).tolist() == [0, 2, 4, 5, 7, 9, 11]
    low_b = np.array([0, 2, 4, 6, 7, 9, 11], dtype=np.int16)  # G major: moved up 5
    assert to_native_key(low_b).tolist() == [5, 7, 9, 11, 12, 14, 16]
    high = np.array([127, 126, 124, 122, 121], dtype=np.int16)  # F# major's notes: moved down 6
    assert to_native_key(high).min() >= 0 and to_native_key(high).max() <= 127


def test_the_most_common_key_of_a_set_of_melodies():
    assert most_common_key([D_MAJOR, D_MAJOR, E_MINOR]) == 2
    assert most_common_key([D_MAJOR, E_MINOR]) == 2  # ties: the lowest
    assert most_common_key([]) == NATIVE_KEY
