"""device.core.midireader: one set of rules from MIDI to the 16th-step grid, for files, live input and prepare."""

import mido
import pytest

from device.core import encoding
from device.core.encoding import NO_EVENT as N
from device.core.encoding import NOTE_OFF as OFF
from device.core.encoding import Note
from device.core.midireader import (
    LiveReader,
    NotePairer,
    PrimerError,
    primer_from_midi,
    skyline,
    snap,
    tick_to_step,
    track_notes,
)
from tests.test_midi_melody import midi_bytes, track
from training.data.midi_melody import Settings, convert_bytes

TPB = 480  # a 16th step is 120 ticks


def on(pitch, channel=0, time=0):
    return mido.Message("note_on", note=pitch, velocity=90, channel=channel, time=time)


def off(pitch, channel=0, time=0):
    return mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=time)


# --- the grid ---


@pytest.mark.parametrize(("tick", "step"), [(0, 0), (59, 0), (60, 1), (180, 2), (300, 3), (419, 3), (420, 4)])
def test_ticks_go_to_the_nearest_step_and_halves_round_up(tick, step):
    assert tick_to_step(tick, TPB) == step


@pytest.mark.parametrize(("position", "step"), [(0.0, 0), (12.49, 12), (12.5, 13), (2.5, 3), (3.51, 4), (-0.5, 0)])
def test_live_positions_snap_like_ticks(position, step):
    assert snap(position) == step


# --- note ends ---


def test_a_note_ends_at_its_note_off():
    pairer = NotePairer()
    pairer.on(0, 60, 2)
    pairer.off(0, 60, 6)
    assert pairer.notes == {0: [Note(60, 2, 6)]}


def test_a_note_on_of_a_sounding_pitch_ends_it_there():
    pairer = NotePairer()
    pairer.on(0, 60, 0)
    pairer.on(0, 60, 3)
    assert pairer.close(5) == {0: [Note(60, 0, 3), Note(60, 3, 5)]}


def test_a_note_shorter_than_a_step_keeps_one_step():
    pairer = NotePairer()
    pairer.on(0, 60, 4)
    pairer.off(0, 60, 4)
    assert pairer.notes == {0: [Note(60, 4, 5)]}


def test_a_note_off_without_its_note_on_is_harmless():
    pairer = NotePairer()
    pairer.off(0, 60, 4)
    assert pairer.close(8) == {}


def test_the_same_pitch_on_two_channels_is_two_notes():
    pairer = NotePairer()
    pairer.on(0, 60, 0)
    pairer.on(1, 60, 1)
    pairer.off(0, 60, 2)
    assert pairer.close(4) == {0: [Note(60, 0, 2)], 1: [Note(60, 1, 4)]}


def test_a_track_gives_its_notes_per_channel_and_the_kept_events_with_their_steps():
    signature = mido.MetaMessage("time_signature", numerator=3, denominator=4, time=240)
    messages = [on(60), signature, off(60, time=240), on(64, channel=2), off(64, channel=2, time=60)]
    assert track_notes(messages, TPB, keep=("time_signature",)) == (
        {0: [Note(60, 0, 4)], 2: [Note(64, 4, 5)]}, [(2, signature)])


def test_a_note_never_released_ends_with_its_track():
    messages = [on(60), mido.MetaMessage("end_of_track", time=960)]
    assert track_notes(messages, TPB)[0] == {0: [Note(60, 0, 8)]}


def test_a_wild_time_stamp_ends_the_track_at_its_last_plausible_event():
    messages = [on(60), off(60, time=240), on(62), off(62, time=10**9)]
    assert track_notes(messages, TPB, max_steps=1000)[0] == {0: [Note(60, 0, 2), Note(62, 2, 3)]}


# --- skyline ---


def test_the_skyline_keeps_the_top_of_a_chord():
    assert skyline([Note(60, 0, 4), Note(67, 0, 4), Note(64, 0, 4)]) == [Note(67, 0, 4)]


def test_the_skyline_hides_an_inner_voice_under_a_held_top_note():
    assert skyline([Note(72, 0, 8), Note(60, 2, 4)]) == [Note(72, 0, 8)]


def test_the_skyline_cuts_a_note_where_a_higher_one_starts():
    assert skyline([Note(60, 0, 8), Note(64, 2, 4)]) == [Note(60, 0, 2), Note(64, 2, 4)]


def test_the_skyline_cuts_a_note_where_a_lower_one_starts_that_outlasts_it():
    assert skyline([Note(64, 0, 5), Note(62, 4, 8)]) == [Note(64, 0, 4), Note(62, 4, 8)]


# --- a file: the primer reads what prepare reads ---

# a held top note over an inner voice, a chord, a legato overlap, times half a step off the grid
AWKWARD = [(72, 0, 960), (60, 240, 480), (64, 960, 1200), (67, 960, 1140), (65, 1140, 1500), (62, 1380, 1860),
           (69, 2100, 2200)]


def write(path, notes, *more_tracks):
    path.write_bytes(midi_bytes(track(notes), *more_tracks))
    return path


def test_a_file_gives_the_same_tokens_to_the_primer_as_to_prepare(tmp_path):
    path = write(tmp_path / "awkward.mid", AWKWARD)
    prepared = convert_bytes(path.read_bytes(), "awkward.mid", Settings(min_steps=1)).melodies
    assert len(prepared) == 1
    assert primer_from_midi(path, max_steps=64) == prepared[0].tolist() + [OFF]


def test_the_primer_of_the_awkward_file_is_its_top_line_on_the_grid(tmp_path):
    path = write(tmp_path / "awkward.mid", AWKWARD)
    assert primer_from_midi(path, max_steps=64) == [72, N, N, N, N, N, N, N, 67, N, 65, N, 62, N, N, N, OFF, N, 69, OFF]


def test_the_primer_rounds_half_a_step_up(tmp_path):
    path = write(tmp_path / "half.mid", [(60, 60, 300), (62, 300, 420)])  # 0.5, 2.5 and 3.5 steps
    assert primer_from_midi(path, max_steps=8) == [N, 60, N, 62, OFF]


def test_the_primer_does_not_let_a_lower_later_note_cut_a_held_one(tmp_path):
    path = write(tmp_path / "inner.mid", [(72, 0, 960), (60, 240, 480)])
    assert primer_from_midi(path, max_steps=16) == [72, N, N, N, N, N, N, N, OFF]


def test_the_primer_reads_every_track_but_not_the_drums(tmp_path):
    path = write(tmp_path / "band.mid", [(60, 0, 480)], track([(65, 480, 960)], channel=1),
                 track([(90, 0, 960)], channel=9))
    assert primer_from_midi(path, max_steps=16) == [60, N, N, N, 65, N, N, N, OFF]


def test_the_primer_reads_back_what_encoding_wrote(tmp_path):
    tokens = [60, N, 62, OFF, N, 64, 65, N, N, OFF]
    encoding.write_midi(tokens, tmp_path / "melody.mid", bpm=93)
    assert primer_from_midi(tmp_path / "melody.mid", max_steps=64) == encoding.canonical(tokens)


def test_the_primer_ends_with_its_last_note_ended(tmp_path):
    encoding.write_midi([60, N, 62], tmp_path / "open.mid")
    assert primer_from_midi(tmp_path / "open.mid", max_steps=16) == [60, N, 62, OFF]


def test_the_primer_starts_at_step_zero_of_the_file(tmp_path):
    encoding.write_midi([N, N, 72, OFF], tmp_path / "late.mid")
    assert primer_from_midi(tmp_path / "late.mid", max_steps=16) == [N, N, 72, OFF]


def test_the_primer_is_cut_to_max_steps(tmp_path):
    encoding.write_midi([60, 61, 62, 63, 64, 65], tmp_path / "run.mid")
    assert primer_from_midi(tmp_path / "run.mid", max_steps=4) == [60, 61, 62, 63]


def test_the_primer_of_a_missing_file_names_the_file(tmp_path):
    with pytest.raises(PrimerError, match="absent.mid: not a readable MIDI file"):
        primer_from_midi(tmp_path / "absent.mid", max_steps=8)


def test_the_primer_of_a_text_file_names_the_file(tmp_path):
    path = tmp_path / "notes.mid"
    path.write_text("<html>not midi</html>")
    with pytest.raises(PrimerError, match="notes.mid: not a readable MIDI file"):
        primer_from_midi(path, max_steps=8)


# --- live input ---


def feed_all(reader, events):
    for position, message in events:
        reader.feed(position, message)


def test_live_notes_snap_to_the_grid():
    reader = LiveReader()
    feed_all(reader, [(0.3, on(60)), (1.6, off(60)), (2.45, on(62)), (3.5, off(62))])
    assert reader.notes() == [Note(60, 0, 2), Note(62, 2, 4)]


def test_a_live_call_gives_the_tokens_a_file_of_the_same_notes_gives(tmp_path):
    path = write(tmp_path / "awkward.mid", AWKWARD)
    events = [(start / 120, on(p)) for p, start, _ in AWKWARD] + [(end / 120, off(p)) for p, _, end in AWKWARD]
    reader = LiveReader()
    feed_all(reader, sorted(events, key=lambda e: (e[0], e[1].type == "note_on")))
    assert reader.tokens() + [OFF] == primer_from_midi(path, max_steps=64)


def test_live_tokens_cut_out_any_stretch_of_steps():
    reader = LiveReader()
    feed_all(reader, [(16, on(60)), (18, off(60)), (20, on(64)), (26, off(64))])
    assert reader.tokens(start=16, end=32) == [60, N, OFF, N, 64, N, N, N, N, N, OFF, N, N, N, N, N]
    assert reader.tokens(start=19, end=24) == [N, 64, N, N, N]


def test_live_tokens_start_at_the_first_note_and_end_with_the_last_by_default():
    reader = LiveReader()
    feed_all(reader, [(5, on(60)), (7, off(60)), (8, on(62)), (9, off(62))])
    assert (reader.first_step(), reader.tokens()) == (5, [60, N, OFF, 62])


def test_a_held_live_note_lasts_until_now():
    reader = LiveReader()
    reader.feed(4, on(67))
    assert (reader.sounding, reader.notes(now=9.2)) == (True, [Note(67, 4, 9)])


def test_silence_counts_whole_steps_since_the_last_note_ended():
    reader = LiveReader()
    assert reader.silence(3.0) is None
    reader.feed(0, on(60))
    assert reader.silence(3.0) == 0
    reader.feed(2.1, off(60))
    assert (reader.silence(2.4), reader.silence(17.6)) == (0, 16)


def test_the_live_reader_ignores_everything_but_notes():
    reader = LiveReader()
    feed_all(reader, [(0, mido.Message("clock")), (1, mido.Message("control_change", control=64, value=127)),
                      (2, on(60)), (3, off(60))])
    assert reader.tokens() == [60]


def test_clear_forgets_the_call():
    reader = LiveReader()
    feed_all(reader, [(0, on(60)), (1, off(60))])
    reader.clear()
    assert (reader.notes(), reader.silence(5.0), reader.first_step()) == ([], None, None)
