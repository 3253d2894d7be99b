"""Chord names, progressions and the keys they imply (device/core/chords.py)."""

import pytest

from device.core.chords import Harmony, Key, best_key, chord_of, parse_chord, parse_progression

C, D, E, F, G, A, B = 0, 2, 4, 5, 7, 9, 11


@pytest.mark.parametrize("name, root, tones", [
    ("C", C, {C, E, G}), ("Am", A, {A, C, E}), ("G7", G, {G, B, D, F}), ("Dm7", D, {D, F, A, C}),
    ("Fmaj7", F, {F, A, C, E}), ("Bdim", B, {B, D, F}), ("Caug", C, {C, E, 8}), ("Dsus2", D, {D, E, A}),
    ("Dsus4", D, {D, G, A}), ("C6", C, {C, E, G, A}), ("Am6", A, {A, C, E, 6}), ("Bdim7", B, {B, D, F, 8}),
    ("Bm7b5", B, {B, D, F, A}), ("Bb", 10, {10, D, F}), ("F#m", 6, {6, A, 1}), ("Ebmaj7", 3, {3, G, 10, D}),
])
def test_a_chord_name_gives_its_root_and_tones(name, root, tones):
    chord = parse_chord(name)
    assert (chord.name, chord.root, set(chord.tones)) == (name, root, tones)


def test_a_bass_after_a_slash_is_read_and_does_not_change_the_chord():
    assert (parse_chord("C/E").root, parse_chord("C/E").tones) == (C, parse_chord("C").tones)
    assert parse_chord("Am7/G").tones == parse_chord("Am7").tones


@pytest.mark.parametrize("text", ["H", "Hm", "Cmaj9", "am", "C/", "C/X", "Cm7b", "#C", "E#", "C maj"])
def test_a_chord_it_cannot_read_is_one_line_naming_it(text):
    with pytest.raises(ValueError) as error:
        parse_progression(f"Am {text} G")
    message = str(error.value)
    assert "\n" not in message
    assert repr(text.split()[0]) in message or repr(text.split()[-1]) in message


def test_a_progression_gives_one_chord_per_bar_cycled_and_holds_a_chord_for_its_bars():
    progression = parse_progression("Am:2 F C  G")
    assert progression.bars == 5
    assert [progression.chord_at(bar).name for bar in range(7)] == ["Am", "Am", "F", "C", "G", "Am", "Am"]
    assert progression.text == "Am:2 F C G"


@pytest.mark.parametrize("text, message", [("", "no chords in ''"), ("Am:0", "'Am:0': the bars after ':' must be"),
                                           ("Am:x", "'Am:x'"), ("Am:65", "1..64")])
def test_bad_bars_or_no_chords_are_refused_naming_them(text, message):
    with pytest.raises(ValueError, match=message):
        parse_progression(text)


def test_the_harmony_of_a_step_is_its_bars_chord_the_key_and_its_place_in_the_bar():
    progression = parse_progression("Am F C G")
    harmony = progression.harmony_at(21, 16)
    assert harmony == Harmony(parse_chord("F"), Key(C), 5)
    assert not harmony.on_beat and progression.harmony_at(20, 16).on_beat


@pytest.mark.parametrize("text, key", [("Am F C G", C), ("D G A D", D), ("Dm7 G7 Cmaj7 A7", C), ("Bb F Gm Eb", 10),
                                       ("Am Dm E7 Am", C), ("C F", C), ("F C", F), ("E B C#m A", E)])
def test_a_progressions_key_holds_most_of_its_chord_tones_and_prefers_its_first_chord(text, key):
    assert parse_progression(text).key == Key(key)


def test_the_key_names_its_major_and_relative_minor_as_musicians_spell_them():
    assert Key(10).name == "Bb major / G minor" and Key(4).name == "E major / C# minor"


def test_best_key_keeps_the_previous_key_among_equals_and_knows_nothing_of_silence():
    weights = [0.0] * 12
    assert best_key(weights) is None
    for tone in (C, E, G):
        weights[tone] = 1.0  # C, F and G major hold all three
    assert best_key(weights) == Key(C) and best_key(weights, previous=Key(G)) == Key(G)
    assert best_key(weights, prefer=D) == Key(F)  # D minor is F major's relative minor


def test_notes_held_together_make_a_chord_named_from_its_tones():
    assert chord_of([48, 52, 55, 58]) == parse_chord("C7")
    assert chord_of([52, 55, 60]).name == "C/E"
    assert (chord_of([60, 61, 62]).name, chord_of([60, 61, 62]).tones) == ("C+C#+D", frozenset({0, 1, 2}))
    assert chord_of([64]).tones == frozenset({E}) and chord_of([]) is None
