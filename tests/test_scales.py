"""device.core.scales: scale names and roots read from text, the pitches of each scale, note names."""

import pytest

from device.core.scales import SCALES, ScaleError, in_scale, note_name, parse_scale, pitch_class, scale_text


def pitch_classes(root, name):
    return {pitch % 12 for pitch, member in enumerate(in_scale(root, name)) if member}


def test_c_major_is_the_white_keys():
    assert pitch_classes(0, "major") == {0, 2, 4, 5, 7, 9, 11}


def test_a_root_transposes_the_scale():
    assert pitch_classes(2, "dorian") == {2, 4, 5, 7, 9, 11, 0}  # D dorian: the white keys again


def test_every_scale_has_its_number_of_pitch_classes():
    sizes = {name: len(pitch_classes(0, name)) for name in SCALES}
    assert sizes == {"major": 7, "natural_minor": 7, "harmonic_minor": 7, "dorian": 7, "mixolydian": 7,
                     "major_pentatonic": 5, "minor_pentatonic": 5, "blues": 6, "chromatic": 12}


def test_harmonic_minor_raises_the_seventh():
    assert pitch_classes(9, "harmonic_minor") - pitch_classes(9, "natural_minor") == {8}  # G# in A minor


def test_in_scale_covers_every_midi_pitch():
    assert len(in_scale(0, "blues")) == 128


def test_scale_text_is_root_colon_name():
    assert parse_scale("C:major") == (0, "major")
    assert parse_scale("F#:dorian") == (6, "dorian")


def test_flats_hyphens_and_letter_case_are_accepted():
    assert parse_scale("bb:Minor-Pentatonic") == (10, "minor_pentatonic")


def test_minor_means_natural_minor():
    assert parse_scale("A:minor") == (9, "natural_minor")


def test_chromatic_needs_no_root():
    assert parse_scale("chromatic") == (0, "chromatic")


def test_an_unknown_scale_is_named_with_the_known_ones():
    with pytest.raises(ScaleError, match=r"scale 'C:lydian': unknown scale 'lydian' \(known: major, "):
        parse_scale("C:lydian")


def test_an_unknown_root_is_named():
    with pytest.raises(ScaleError, match="scale 'H:major': 'H' is not a note name"):
        parse_scale("H:major")


def test_a_scale_without_root_is_refused():
    with pytest.raises(ScaleError, match="give the root too"):
        parse_scale("major")


def test_scale_text_reads_back():
    assert [parse_scale(scale_text(root, name)) for root, name in [(3, "blues"), (0, "chromatic")]] == [
        (3, "blues"), (0, "chromatic")]


def test_pitch_class_knows_sharps_and_flats():
    assert [pitch_class(n) for n in ("C", "C#", "Db", "E", "Fb", "B", "Cb")] == [0, 1, 1, 4, 4, 11, 11]


def test_note_names_put_middle_c_in_octave_4():
    assert [note_name(p) for p in (60, 61, 21, 0, 127)] == ["C4", "C#4", "A0", "C-1", "G9"]
