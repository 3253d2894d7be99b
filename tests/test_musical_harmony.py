"""Harmony in the musical evaluation (training/musical/harmony.py): chord tones on and off the beat, the key share,
for the model with and without chords, in `evaluate --musical`'s report."""

import math

import numpy as np
import pytest

from device.core.chords import parse_progression
from device.core.encoding import NO_EVENT, NOTE_OFF
from tests.recording import shipped_model_path
from training.musical.compare import format_musical
from training.musical.harmony import HELD_OUT, TUNED, chord_counts, format_harmony, harmony_report, shares
from training.musical.run import musical_report


def melody(*notes, length=32):
    """Tokens with (pitch, step) note-ons, each held until the next (rests as NOTE_OFF then NO_EVENT)."""
    tokens = [NO_EVENT] * length
    for pitch, step in notes:
        tokens[step] = pitch
    return tokens


def test_notes_are_counted_on_or_off_the_beat_against_their_bars_chord_and_the_key():
    progression = parse_progression("C G")  # C major
    tokens = melody((60, 0), (62, 2), (67, 16), (66, 20), (71, 23), (64, 24))
    tokens[26] = NOTE_OFF
    # on the beat: C (C: yes), G (G: yes), F# (G: no), E (G: no); off: D (C: no), B (G: yes); F# out of key
    assert chord_counts(tokens, progression).tolist() == [4, 2, 2, 1, 5]
    assert shares(chord_counts(tokens, progression)) == {"chord_tones_on_beat": 0.5, "chord_tones_off_beat": 0.5,
                                                         "in_key": 5 / 6, "notes": 6}


def test_a_melody_without_notes_has_no_shares():
    counted = shares(chord_counts([NO_EVENT] * 16, parse_progression("C")))
    assert math.isnan(counted["chord_tones_on_beat"]) and counted["notes"] == 0


def test_the_held_out_progressions_were_not_tuned_on_and_all_read():
    assert not set(TUNED) & set(HELD_OUT) and TUNED[:4] == ("Am F C G", "D G A D", "Dm7 G7 Cmaj7 A7", "Bb F Gm Eb")
    assert all(parse_progression(text).bars >= 2 for text in TUNED + HELD_OUT)


@pytest.fixture(scope="module")
def report():
    return harmony_report(shipped_model_path(), 3, 64, progressions={"a": ("Bb F Gm Eb",), "b": ("E A B7 E",)})


def test_with_chords_the_model_keeps_to_them_and_without_them_it_does_not(report):
    for group in ("a", "b"):
        with_chords, without = report["groups"][group]["with"], report["groups"][group]["without"]
        assert with_chords["chord_tones_on_beat"] >= 0.8 > without["chord_tones_on_beat"]
        assert with_chords["in_key"] > without["in_key"]
    assert report["progressions"]["E A B7 E"]["group"] == "b"
    assert set(report["progressions"]["E A B7 E"]["with"]) == {"chord_tones_on_beat", "chord_tones_off_beat",
                                                                "in_key", "notes", "bars_repeated", "repeat_a_bar"}


def test_the_table_has_a_row_per_progression_and_per_group(report):
    lines = format_harmony(report).splitlines()
    assert lines[2].split(" | ") == ["| progression", "chord tones on the beat", "off the beat", "in key",
                                     "bars repeated", "repeat a bar |"]
    assert [line.split(" | ")[0] for line in lines[4:]] == ["| Bb F Gm Eb (a)", "| E A B7 E (b)", "| all a",
                                                            "| all b"]


def test_evaluate_musical_reports_the_model_over_chords_too():
    melodies = [np.array(melody((60 + i, 0), (64, 8), (67, 16), length=32)) for i in range(3)]
    result = musical_report(shipped_model_path(), melodies, [(16, 0)] * 3, None, None, None, 2, 32, 1.0, 1)
    assert set(result["harmony"]["groups"]) == {"tuned", "held_out"}
    assert len(result["harmony"]["progressions"]) == len(TUNED) + len(HELD_OUT)
    assert "| all held_out |" in format_musical(result)
