"""The melody encoding: vocabulary, decoding is total, round trips."""

import mido
import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.core.encoding import (
    NO_EVENT,
    NOTE_OFF,
    VOCAB_SIZE,
    Note,
    canonical,
    notes_to_tokens,
    tokens_to_midi_file,
    tokens_to_notes,
)

X, OFF = NO_EVENT, NOTE_OFF


def test_vocabulary_constants():
    assert (NOTE_OFF, NO_EVENT, VOCAB_SIZE) == (128, 129, 130)


@pytest.mark.parametrize(
    ("tokens", "notes"),
    [
        ([], []),
        ([X, X], []),
        ([60], [Note(60, 0, 1)]),
        ([60, X, X, OFF], [Note(60, 0, 3)]),
        ([60, X, 62, X], [Note(60, 0, 2), Note(62, 2, 4)]),
        ([60, 60], [Note(60, 0, 1), Note(60, 1, 2)]),
        ([OFF, OFF, 64, OFF, OFF], [Note(64, 2, 3)]),
        ([X, 0, X, 127], [Note(0, 1, 3), Note(127, 3, 4)]),
    ],
)
def test_decoding_table(tokens, notes):
    assert tokens_to_notes(tokens) == notes


@pytest.mark.parametrize(
    ("notes", "length", "tokens"),
    [
        ([Note(60, 0, 3)], None, [60, X, X]),
        ([Note(60, 0, 3)], 5, [60, X, X, OFF, X]),
        ([Note(60, 0, 2), Note(62, 2, 3)], None, [60, X, 62]),
        ([Note(60, 0, 1), Note(62, 3, 4)], None, [60, OFF, X, 62]),
        ([Note(60, 2, 3)], 4, [X, X, 60, OFF]),
    ],
)
def test_encoding_table(notes, length, tokens):
    assert notes_to_tokens(notes, length) == tokens


@pytest.mark.parametrize("bad", [-1, 130, 1000])
def test_invalid_token_raises_naming_the_value(bad):
    with pytest.raises(ValueError, match=str(bad)):
        tokens_to_notes([60, bad])


def test_overlapping_notes_are_refused():
    with pytest.raises(ValueError, match="overlaps"):
        notes_to_tokens([Note(60, 0, 3), Note(62, 2, 4)])


def test_canonical_drops_redundant_note_offs():
    assert canonical([OFF, 60, OFF, OFF, X]) == [X, 60, OFF, X, X]


tokens_strategy = st.lists(st.integers(0, VOCAB_SIZE - 1), max_size=64)


@given(tokens_strategy)
def test_decoding_is_total_and_monophonic(tokens):
    notes = tokens_to_notes(tokens)
    for before, after in zip(notes, notes[1:], strict=False):
        assert before.end <= after.start
    assert all(n.start < n.end <= len(tokens) for n in notes)


@given(tokens_strategy)
def test_canonical_sequences_round_trip(tokens):
    tokens = canonical(tokens)
    assert notes_to_tokens(tokens_to_notes(tokens), len(tokens)) == tokens


@st.composite
def monophonic_notes(draw):
    notes, now = [], 0
    for _ in range(draw(st.integers(0, 12))):
        start = now + draw(st.integers(0, 5))
        end = start + draw(st.integers(1, 20))
        notes.append(Note(draw(st.integers(0, 127)), start, end))
        now = end
    return notes


@given(monophonic_notes())
def test_monophonic_notes_round_trip_through_tokens(notes):
    assert tokens_to_notes(notes_to_tokens(notes)) == notes


def test_midi_file_holds_the_notes_at_the_tempo():
    midi = tokens_to_midi_file([60, X, 62, OFF, X, 64], bpm=100, ticks_per_beat=480)
    messages = list(midi.tracks[0])
    assert messages[0].type == "set_tempo" and messages[0].tempo == mido.bpm2tempo(100)
    notes = [(m.type, m.note, m.time) for m in messages if m.type in ("note_on", "note_off")]
    assert notes == [
        ("note_on", 60, 0), ("note_off", 60, 240),
        ("note_on", 62, 0), ("note_off", 62, 120),
        ("note_on", 64, 240), ("note_off", 64, 120),
    ]
