"""device.generator: priming, feeding tokens back, exact reset; reading a primer from MIDI."""

import mido
import numpy as np
import pytest

from device import encoding
from device.controlstate import ControlState
from device.encoding import NO_EVENT, NOTE_OFF, START_TOKEN
from device.generator import Generator, PrimerError, primer_from_midi
from device.model import StepModel
from device.sampling import Sampler
from tests.recording import shipped_model_path

PRIMER = [60, NO_EVENT, 62, NO_EVENT, 64, NOTE_OFF, 67, NO_EVENT]


@pytest.fixture(scope="module")
def model():
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def reference():
    """A second instance of the same model, stepped by hand to derive expectations."""
    with StepModel(shipped_model_path()) as loaded:
        yield loaded


def states_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_priming_feeds_the_start_token_then_the_primer(model, reference):
    generator = Generator(model, Sampler(seed=0), primer=PRIMER)
    reference.reset()
    for token in [START_TOKEN, *PRIMER]:
        expected = reference.step(token)
    np.testing.assert_array_equal(generator.logits, expected)
    assert states_equal(model.get_state(), reference.get_state())


def test_without_primer_only_the_start_token_is_fed(model, reference):
    generator = Generator(model, Sampler(seed=0))
    reference.reset()
    np.testing.assert_array_equal(generator.logits, reference.step(START_TOKEN))


def test_next_token_samples_the_current_logits_and_feeds_the_token_back(model, reference):
    generator = Generator(model, Sampler(seed=0), primer=PRIMER)
    reference.reset()
    for token in [START_TOKEN, *PRIMER]:
        logits = reference.step(token)
    for _ in range(12):
        expected = int(np.argmax(logits))  # temperature 0: greedy, no randomness involved
        assert generator.next_token(ControlState(0.0)) == expected
        logits = reference.step(expected)
        np.testing.assert_array_equal(generator.logits, logits)


def test_same_seed_same_melody(model):
    first = Generator(model, Sampler(seed=42), primer=PRIMER)
    melody = [first.next_token(ControlState(1.0)) for _ in range(32)]
    second = Generator(model, Sampler(seed=42), primer=PRIMER)
    assert [second.next_token(ControlState(1.0)) for _ in range(32)] == melody


def test_reset_returns_to_the_primed_state_exactly(model):
    generator = Generator(model, Sampler(seed=1), primer=PRIMER)
    primed_state, primed_logits = model.get_state(), generator.logits
    for _ in range(20):
        generator.next_token(ControlState(1.5))
    generator.reset()
    assert states_equal(model.get_state(), primed_state)
    np.testing.assert_array_equal(generator.logits, primed_logits)


def test_after_reset_a_reseeded_sampler_repeats_the_melody(model):
    sampler = Sampler(seed=9)
    generator = Generator(model, sampler, primer=PRIMER)
    melody = [generator.next_token(ControlState(1.0)) for _ in range(24)]
    generator.reset()
    sampler.reseed(9)
    assert [generator.next_token(ControlState(1.0)) for _ in range(24)] == melody


def test_reset_does_not_rewind_the_random_stream(model):
    sampler = Sampler(seed=9)
    generator = Generator(model, sampler)
    generator.next_token(ControlState(1.0))
    state_before_reset = sampler.rng.bit_generator.state
    generator.reset()
    assert sampler.rng.bit_generator.state == state_before_reset


def test_primer_tokens_are_checked(model):
    with pytest.raises(ValueError, match="token 200 is outside the vocabulary"):
        Generator(model, Sampler(), primer=[60, 200])


# --- primer_from_midi -------------------------------------------------------------------------


def write_notes(path, notes, ticks_per_beat=480, bpm=120, channel=0):
    """A type-1 file with one track of (pitch, start_tick, end_tick) notes, which may overlap."""
    events = []
    for pitch, start, end in notes:
        events.append((start, 1, mido.Message("note_on", note=pitch, velocity=80, channel=channel)))
        events.append((end, 0, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    track, now = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))]), 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    midi_file = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    midi_file.tracks.append(track)
    midi_file.save(path)


def test_primer_reads_back_what_encoding_wrote(tmp_path):
    tokens = [60, NO_EVENT, 62, NOTE_OFF, NO_EVENT, 64, 65, NO_EVENT, NO_EVENT, NOTE_OFF]
    encoding.write_midi(tokens, tmp_path / "melody.mid", bpm=93)
    assert primer_from_midi(tmp_path / "melody.mid", max_steps=64) == encoding.canonical(tokens)


def test_primer_ends_with_its_last_note_ended(tmp_path):
    encoding.write_midi([60, NO_EVENT, 62], tmp_path / "open.mid")
    assert primer_from_midi(tmp_path / "open.mid", max_steps=16) == [60, NO_EVENT, 62, NOTE_OFF]


def test_primer_starts_at_step_zero_of_the_file(tmp_path):
    tokens = [NO_EVENT, NO_EVENT, 72, NOTE_OFF]
    encoding.write_midi(tokens, tmp_path / "late.mid")
    assert primer_from_midi(tmp_path / "late.mid", max_steps=16) == tokens


def test_primer_is_cut_to_max_steps(tmp_path):
    tokens = [60, 61, 62, 63, 64, 65]
    encoding.write_midi(tokens, tmp_path / "run.mid")
    assert primer_from_midi(tmp_path / "run.mid", max_steps=4) == [60, 61, 62, 63]


def test_primer_keeps_the_highest_note_of_a_chord(tmp_path):
    write_notes(tmp_path / "chord.mid", [(60, 0, 240), (67, 0, 240), (64, 0, 240)])  # 240 ticks = 2 steps
    assert primer_from_midi(tmp_path / "chord.mid", max_steps=8) == [67, NO_EVENT, NOTE_OFF]


def test_primer_cuts_an_overlapping_note_at_the_next_onset(tmp_path):
    write_notes(tmp_path / "legato.mid", [(60, 0, 480), (62, 240, 480)])  # 480 ticks = 4 steps
    assert primer_from_midi(tmp_path / "legato.mid", max_steps=8) == [60, NO_EVENT, 62, NO_EVENT, NOTE_OFF]


def test_primer_rounds_off_grid_times_to_the_nearest_step(tmp_path):
    write_notes(tmp_path / "swing.mid", [(60, 10, 110), (62, 130, 350)])  # steps 0-1, 1-3
    assert primer_from_midi(tmp_path / "swing.mid", max_steps=8) == [60, 62, NO_EVENT, NOTE_OFF]


def test_primer_of_a_text_file_names_the_file(tmp_path):
    path = tmp_path / "notes.mid"
    path.write_text("<html>not midi</html>")
    with pytest.raises(PrimerError, match="notes.mid: not a readable MIDI file"):
        primer_from_midi(path, max_steps=8)


def test_primer_of_a_missing_file_names_the_file(tmp_path):
    with pytest.raises(PrimerError, match="absent.mid: not a readable MIDI file"):
        primer_from_midi(tmp_path / "absent.mid", max_steps=8)
