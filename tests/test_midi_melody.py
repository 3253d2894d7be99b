"""The per-file converter: real MIDI bytes (built with mido) -> melodies, or a reason to skip."""

import io
import struct

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.core.encoding import NO_EVENT, NOTE_OFF, canonical, tokens_to_midi_file, write_midi
from training.data.midi_melody import REASONS, Settings, convert_bytes, convert_file

N, OFF = NO_EVENT, NOTE_OFF
TPB = 480  # ticks per beat in the files built here; a 16th step is 120 ticks
STEP = TPB // 4
LOOSE = Settings(min_steps=1, max_steps=10_000, split_silence=10_000)


def track(notes, channel=0, name=None, extra=()):
    """A mido track from (pitch, start_tick, end_tick) notes; ``extra`` are (tick, message) pairs."""
    events = [(tick, message) for tick, message in extra]
    for pitch, start, end in notes:
        events.append((start, mido.Message("note_on", note=pitch, velocity=90, channel=channel)))
        events.append((end, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
    result = mido.MidiTrack([mido.MetaMessage("track_name", name=name)] if name else [])
    now = 0
    for tick, message in events:
        result.append(message.copy(time=tick - now))
        now = tick
    return result


def midi_bytes(*tracks, file_type=1, ticks_per_beat=TPB):
    midi_file = mido.MidiFile(type=file_type, ticks_per_beat=ticks_per_beat, tracks=list(tracks))
    buffer = io.BytesIO()
    midi_file.save(file=buffer)
    return buffer.getvalue()


def steps(*notes):
    """(pitch, start_step, end_step) -> (pitch, start_tick, end_tick)."""
    return [(p, s * STEP, e * STEP) for p, s, e in notes]


def tokens_of(data, settings=LOOSE):
    result = convert_bytes(data, "test.mid", settings)
    assert result.status == "kept", result.report()
    return [m.tolist() for m in result.melodies]


def bars_of(data, settings=LOOSE):
    """(bar_steps, bar_offset) of each melody."""
    result = convert_bytes(data, "test.mid", settings)
    return list(zip(result.bar_steps, result.bar_offset, strict=True))


def signature(tick, numerator, denominator):
    return (tick, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator))


def reason_of(data, settings=LOOSE):
    result = convert_bytes(data, "test.mid", settings)
    assert result.status == "skipped"
    return result.reason


LOW = steps((48, 0, 4), (50, 4, 8), (52, 8, 12))
HIGH = steps((72, 0, 4), (74, 4, 8), (76, 8, 12))


def test_a_track_named_melody_is_chosen_over_a_higher_part():
    data = midi_bytes(track(HIGH, channel=0, name="Strings"), track(LOW, channel=1, name="MELODY"))
    assert tokens_of(data) == [[48, N, N, N, 50, N, N, N, 52, N, N, N]]


def test_an_instrument_named_vocal_is_chosen():
    named = track(LOW, channel=1, extra=[(0, mido.MetaMessage("instrument_name", name="Lead Vocal"))])
    assert tokens_of(midi_bytes(track(HIGH), named)) == [[48, N, N, N, 50, N, N, N, 52, N, N, N]]


def test_a_channel_named_melody_through_a_channel_prefix_is_chosen():
    prefix = [(0, mido.MetaMessage("channel_prefix", channel=1)), (0, mido.MetaMessage("instrument_name", name="Tune"))]
    merged = mido.merge_tracks([track(HIGH, channel=0), track(LOW, channel=1, extra=prefix)])
    assert tokens_of(midi_bytes(merged, file_type=0)) == [[48, N, N, N, 50, N, N, N, 52, N, N, N]]


def test_without_names_the_part_with_highest_mean_pitch_is_chosen():
    data = midi_bytes(track(LOW, channel=0), track(HIGH, channel=1))
    assert tokens_of(data) == [[72, N, N, N, 74, N, N, N, 76, N, N, N]]


def test_parts_are_channels_within_one_track_of_a_type_0_file():
    merged = mido.merge_tracks([track(HIGH, channel=3), track(LOW, channel=0)])
    assert tokens_of(midi_bytes(merged, file_type=0)) == [[72, N, N, N, 74, N, N, N, 76, N, N, N]]


def test_a_high_part_with_too_few_notes_loses_to_a_part_with_enough():
    few_high = track(steps((90, 0, 4)), channel=1)
    many_low = track(steps(*[(60, i, i + 1) for i in range(8)]), channel=0)
    assert tokens_of(midi_bytes(few_high, many_low)) == [[60] * 8]


# a right hand: 16 notes over 10 pitches, one every 2 steps (mean pitch 68.4)
RIGHT_HAND = steps(*[(p, 2 * i, 2 * i + 2) for i, p in enumerate([64, 65, 67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64,
                                                                  62, 60, 62])])
RIGHT_TOKENS = [64, N, 65, N, 67, N, 69, N, 71, N, 72, N, 74, N, 72, N, 71, N, 69, N, 67, N, 65, N, 64, N, 62, N, 60, N,
                62, N]


def test_a_track_named_triller_loses_to_the_right_hand():
    # three trills of 4 notes over 6 pitches: only the name tells it from a melody line
    pairs = [(84, 86), (88, 89), (91, 93)]
    trill = track(steps(*[(pair[i % 2], 8 * k + i, 8 * k + i + 1) for k, pair in enumerate(pairs) for i in range(4)]),
                  channel=1, name="Triller")
    assert tokens_of(midi_bytes(track(RIGHT_HAND, name="Piano right"), trill)) == [RIGHT_TOKENS]


def test_a_track_named_pedal_loses_to_the_right_hand():
    pedal = track(steps(*[(100 + i % 6, 4 * i, 4 * i + 3) for i in range(8)]), channel=1, name="Pedal")  # 6 pitches
    assert tokens_of(midi_bytes(track(RIGHT_HAND, name="Piano right"), pedal)) == [RIGHT_TOKENS]


def test_a_higher_part_of_two_pitches_loses_to_the_right_hand():
    two = track(steps(*[(76 + 5 * (i % 2), 2 * i, 2 * i + 2) for i in range(16)]), channel=1, name="Piano left2")
    assert tokens_of(midi_bytes(track(RIGHT_HAND, name="Piano right"), two)) == [RIGHT_TOKENS]


def test_a_higher_part_with_a_sparse_note_here_and_there_loses_to_the_right_hand():
    # 8 notes over 6 pitches, one every 24 steps: an onset rate of 8/169, under an eighth of the right hand's 1/2
    sparse = track(steps(*[(80 + i % 6, 24 * i, 24 * i + 1) for i in range(8)]), channel=1)
    assert tokens_of(midi_bytes(track(RIGHT_HAND), sparse)) == [RIGHT_TOKENS]


def test_a_higher_tremolo_with_an_onset_on_every_step_loses_to_the_right_hand():
    tremolo = track(steps(*[(80 + i % 6, i, i + 1) for i in range(32)]), channel=1)
    assert tokens_of(midi_bytes(track(RIGHT_HAND), tremolo)) == [RIGHT_TOKENS]


def test_a_track_named_melody_wins_even_with_two_pitches():
    two = steps(*[(50 + 2 * (i % 2), 2 * i, 2 * i + 2) for i in range(8)])
    assert tokens_of(midi_bytes(track(RIGHT_HAND), track(two, channel=1, name="Melody"))) == [
        [50, N, 52, N, 50, N, 52, N, 50, N, 52, N, 50, N, 52, N]]


def test_when_no_part_looks_like_a_melody_line_the_highest_is_chosen():
    low = track(steps(*[(48 + i % 2, 2 * i, 2 * i + 2) for i in range(8)]))
    high = track(steps(*[(60 + i % 3, 2 * i, 2 * i + 2) for i in range(8)]), channel=1)
    assert tokens_of(midi_bytes(low, high)) == [[60, N, 61, N, 62, N, 60, N, 61, N, 62, N, 60, N, 61, N]]


def test_drums_are_ignored():
    drums = track(steps((80, 0, 1), (81, 1, 2), (82, 2, 3)), channel=9)
    assert tokens_of(midi_bytes(track(LOW), drums)) == [[48, N, N, N, 50, N, N, N, 52, N, N, N]]


def test_a_file_with_only_drums_is_skipped_as_drums_only():
    assert reason_of(midi_bytes(track(HIGH, channel=9))) == "drums_only"


def test_a_held_chord_reduces_to_its_top_note():
    assert tokens_of(midi_bytes(track(steps((60, 0, 4), (64, 0, 4), (67, 0, 4), (62, 4, 6))))) == [
        [67, N, N, N, 62, N]
    ]


def test_an_inner_voice_under_a_held_top_note_is_hidden():
    assert tokens_of(midi_bytes(track(steps((72, 0, 8), (60, 2, 4), (62, 4, 6))))) == [[72, N, N, N, N, N, N, N]]


def test_legato_overlap_ends_the_earlier_note_at_the_next_onset():
    assert tokens_of(midi_bytes(track(steps((64, 0, 5), (62, 4, 8))))) == [[64, N, N, N, 62, N, N, N]]


def test_a_note_shorter_than_a_step_still_gets_its_step():
    data = midi_bytes(track([(60, 0, 10), (62, 4 * STEP, 4 * STEP + 5)]))
    assert tokens_of(data) == [[60, OFF, N, N, 62]]


def test_onsets_in_the_same_step_keep_the_higher_pitch():
    # a tuplet puts two onsets in step 1 (ticks 120 and 160): the higher one, 67, stays
    data = midi_bytes(track([(60, 0, 120), (67, 120, 160), (65, 160, 240), (64, 240, 480)]))
    assert tokens_of(data) == [[60, 67, 64, N]]


def test_steps_round_to_the_nearest_sixteenth():
    data = midi_bytes(track([(60, 0, 170), (62, 190, 480)]))  # 170 ticks = 1.42 steps, 190 = 1.58
    assert tokens_of(data) == [[60, OFF, 62, N]]


def test_tempo_changes_do_not_move_the_grid():
    tempo = [(2 * STEP, mido.MetaMessage("set_tempo", tempo=250_000))]
    assert tokens_of(midi_bytes(track(steps((60, 0, 2), (62, 2, 4)), extra=tempo))) == [[60, N, 62, N]]


def test_a_note_never_released_ends_at_the_end_of_its_track():
    end = [(6 * STEP, mido.MetaMessage("end_of_track"))]
    data = midi_bytes(track([], extra=[(0, mido.Message("note_on", note=60, velocity=90)), *end]))
    assert tokens_of(data) == [[60, N, N, N, N, N]]


def test_a_long_silence_splits_a_melody_and_the_next_starts_on_its_bar_line():
    notes = track(steps((60, 0, 4), (62, 36, 40), (64, 40, 44)))
    assert tokens_of(midi_bytes(notes), Settings(min_steps=1, split_silence=32)) == [
        [60, N, N, N],
        [N, N, N, N, 62, N, N, N, 64, N, N, N],
    ]


def test_a_silence_shorter_than_the_split_stays_inside_the_melody():
    notes = track(steps((60, 0, 4), (62, 35, 36)))
    expected = [60, N, N, N, OFF] + [N] * 30 + [62]
    assert tokens_of(midi_bytes(notes), Settings(min_steps=1, split_silence=32)) == [expected]


def test_a_pickup_keeps_its_silence_back_to_the_bar_line_and_trailing_silence_is_stripped():
    assert tokens_of(midi_bytes(track(steps((60, 10, 12), (62, 12, 13))))) == [[N] * 10 + [60, N, 62]]


def test_whole_bars_of_silence_before_the_first_note_are_stripped():
    assert tokens_of(midi_bytes(track(steps((60, 37, 40))))) == [[N] * 5 + [60, N, N]]


def test_melodies_shorter_than_min_steps_are_dropped():
    notes = track(steps((60, 0, 4), (62, 100, 116)))
    assert tokens_of(midi_bytes(notes), Settings(min_steps=16, split_silence=32)) == [[N] * 4 + [62] + [N] * 15]


def test_a_file_whose_melodies_are_all_too_short_is_skipped_as_too_short():
    assert reason_of(midi_bytes(track(steps((60, 0, 4)))), Settings(min_steps=16)) == "too_short"


def test_long_melodies_are_cut_on_the_last_bar_line_that_fits():
    # 2/4: a bar is 8 steps; at most 20 steps a piece: cut at step 16, then at 24 (where the notes end)
    notes = track(steps((60, 0, 6), (62, 6, 14), (64, 14, 20), (65, 20, 24)), extra=[signature(0, 2, 4)])
    data = midi_bytes(notes)
    assert tokens_of(data, Settings(min_steps=1, max_steps=20)) == [[60, N, N, N, N, N, 62, N, N, N, N, N, N, N, 64, N],
                                                                    [N, N, N, N, 65, N, N, N]]
    assert bars_of(data, Settings(min_steps=1, max_steps=20)) == [(8, 0), (8, 0)]


def test_a_bar_longer_than_max_steps_is_cut_inside_and_the_piece_after_records_its_offset():
    notes = track(steps((60, 0, 3), (62, 3, 6), (64, 6, 9), (65, 9, 20)))
    data = midi_bytes(notes)
    # 65 starts at step 9: its piece starts at the cut (step 8, the middle of the bar) and is cut at step 16
    assert tokens_of(data, Settings(min_steps=1, max_steps=8)) == [[60, N, N, 62, N, N, 64, N],
                                                                   [N, 65, N, N, N, N, N, N]]
    assert bars_of(data, Settings(min_steps=1, max_steps=8)) == [(16, 0), (16, 8)]


def test_a_melody_starting_in_the_second_half_of_a_bar_longer_than_max_steps_starts_at_the_cut():
    data = midi_bytes(track(steps((62, 12, 14), (64, 14, 16))))
    assert (tokens_of(data, Settings(min_steps=1, max_steps=8)), bars_of(data, Settings(min_steps=1, max_steps=8))) == (
        [[N, N, N, N, 62, N, 64, N]], [(16, 8)])


def test_a_note_across_a_cut_ends_at_the_cut():
    notes = track(steps((60, 0, 4), (62, 4, 24)))
    assert tokens_of(midi_bytes(notes), Settings(min_steps=1, max_steps=16)) == [[60, N, N, N, 62] + [N] * 11]


# --- metre: bar_steps and bar_offset from the time signatures ---


@pytest.mark.parametrize(("numerator", "denominator", "bar_steps"),
                         [(4, 4, 16), (3, 4, 12), (6, 8, 12), (2, 2, 16), (2, 4, 8), (9, 8, 18), (7, 8, 14)])
def test_a_time_signature_gives_the_bar_length(numerator, denominator, bar_steps):
    notes = track(steps((60, 0, 4), (62, 4, 8)), extra=[signature(0, numerator, denominator)])
    assert bars_of(midi_bytes(notes)) == [(bar_steps, 0)]


@pytest.mark.parametrize(("numerator", "denominator"), [(1, 4), (1, 8), (3, 32), (32, 4)])
def test_a_signature_that_says_nothing_about_bars_is_read_as_four_four(numerator, denominator):
    notes = track(steps((60, 0, 4), (62, 4, 8)), extra=[signature(0, numerator, denominator)])
    assert bars_of(midi_bytes(notes)) == [(16, 0)]


def test_a_file_without_time_signature_is_four_four_from_its_start():
    assert bars_of(midi_bytes(track(steps((60, 20, 24))))) == [(16, 0)]


def test_a_six_eight_pickup_starts_its_melody_on_the_bar_line_before_it():
    # one eighth before the bar: the first bar line of the music is at step 12 (6/8 from the file's start)
    notes = track(steps((62, 10, 12), (67, 12, 16), (69, 16, 18)), extra=[signature(0, 6, 8)])
    data = midi_bytes(notes)
    assert (tokens_of(data), bars_of(data)) == ([[N] * 10 + [62, N, 67, N, N, N, 69, N]], [(12, 0)])


def test_time_signatures_in_a_conductor_track_apply_to_the_melody_track():
    conductor = track([], extra=[signature(0, 3, 4)])
    assert bars_of(midi_bytes(conductor, track(steps((60, 0, 4), (62, 4, 8))))) == [(12, 0)]


def test_a_change_of_metre_cuts_the_melody_on_its_bar_line():
    # 4/4 for one bar, then 3/4 from step 16
    notes = track(steps((60, 0, 8), (62, 8, 20), (64, 20, 28)), extra=[signature(0, 4, 4), signature(16 * STEP, 3, 4)])
    data = midi_bytes(notes)
    assert (tokens_of(data), bars_of(data)) == ([[60] + [N] * 7 + [62] + [N] * 7, [N] * 4 + [64] + [N] * 7],
                                                [(16, 0), (12, 0)])


def test_a_repeated_signature_on_a_bar_line_changes_nothing():
    notes = track(steps((60, 0, 16), (62, 16, 32)), extra=[signature(0, 4, 4), signature(16 * STEP, 4, 4)])
    assert bars_of(midi_bytes(notes)) == [(16, 0)]


def test_a_signature_off_the_bar_lines_starts_new_bars_there():
    # a bar cut short at a repeat: the 4/4 bars start again at step 12
    notes = track(steps((60, 0, 12), (62, 12, 20)), extra=[signature(0, 4, 4), signature(12 * STEP, 4, 4)])
    data = midi_bytes(notes)
    assert (tokens_of(data), bars_of(data)) == ([[60] + [N] * 11, [62] + [N] * 7], [(16, 0), (16, 0)])


def test_smpte_time_division_is_unsupported_timing():
    data = bytearray(midi_bytes(track(HIGH)))
    data[12:14] = struct.pack(">h", -(25 << 8) + 40)  # 25 frames/s, 40 ticks per frame
    assert reason_of(bytes(data)) == "unsupported_timing"


def test_a_type_2_file_is_read_track_by_track():
    data = midi_bytes(track(LOW, channel=0), track(HIGH, channel=0), file_type=2)
    assert tokens_of(data) == [[72, N, N, N, 74, N, N, N, 76, N, N, N]]


def test_a_file_with_zero_tracks_has_no_notes():
    assert reason_of(midi_bytes()) == "no_notes"


def test_html_saved_as_mid_is_not_midi(tmp_path):
    path = tmp_path / "song.mid"
    path.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    result = convert_file(path, LOOSE)
    assert (result.status, result.reason, result.file) == ("skipped", "not_midi", str(path))


def test_a_truncated_file_is_corrupt():
    data = midi_bytes(track(HIGH))
    assert reason_of(data[: len(data) - 9]) == "corrupt"


def test_data_bytes_above_127_are_clipped_instead_of_rejected():
    data = bytearray(midi_bytes(track(steps((60, 0, 4), (62, 4, 8)))))
    velocity_at = data.index(bytes([0x90, 60])) + 2
    data[velocity_at] = 0xC8  # velocity 200: mido rejects it without clip=True
    assert tokens_of(bytes(data)) == [[60, N, N, N, 62, N, N, N]]


def test_a_midi_file_inside_a_riff_rmid_wrapper_is_read():
    inner = midi_bytes(track(steps((60, 0, 2))))
    wrapped = b"RIFF" + struct.pack("<I", len(inner) + 12) + b"RMID" + b"data" + struct.pack("<I", len(inner)) + inner
    assert tokens_of(wrapped) == [[60, N]]


def test_a_file_larger_than_max_bytes_is_too_large(tmp_path):
    path = tmp_path / "big.mid"
    path.write_bytes(midi_bytes(track(HIGH)))
    assert convert_file(path, Settings(max_bytes=20)).reason == "too_large"


def test_a_file_that_takes_longer_than_max_seconds_is_a_timeout():
    ticks = iter(range(0, 1000, 5))  # a clock that advances 5 s per reading
    data = midi_bytes(track(HIGH), track(LOW))
    result = convert_bytes(data, "slow.mid", Settings(max_seconds=7), lambda: next(ticks))
    assert (result.status, result.reason) == ("skipped", "timeout")


def test_a_wild_time_stamp_ends_the_track_at_its_last_plausible_event():
    # the note-off of 62 comes a million steps later (a 5-byte delta time): 62 keeps one step
    notes = [(60, 0, 2 * STEP), (62, 2 * STEP, 10**6 * STEP), (64, (10**6 + 1) * STEP, (10**6 + 2) * STEP)]
    assert tokens_of(midi_bytes(track(notes)), Settings(min_steps=1, max_file_steps=1000)) == [[60, N, 62]]


NOTE_60 = b"\x00\x90\x3c\x50" + b"\x83\x60\x80\x3c\x00"  # note 60 held 480 ticks (4 steps)
END = b"\x00\xff\x2f\x00"
TRACK_CHUNK = b"MTrk" + struct.pack(">I", len(NOTE_60 + END)) + NOTE_60 + END


def raw_midi(body: bytes, file_type=1, tracks=1, division=TPB, chunk=b"MTrk", size=None) -> bytes:
    """A MIDI file written byte by byte: header, then one track chunk holding ``body``."""
    header = b"MThd" + struct.pack(">IHHh", 6, file_type, tracks, division)
    return header + chunk + struct.pack(">I", len(body) if size is None else size) + body


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("invalid key signature", raw_midi(b"\x00\xff\x59\x02\x14\x00" + NOTE_60 + END), "corrupt"),
        ("running status without a status", raw_midi(b"\x00\x3c\x50" + NOTE_60 + END), "corrupt"),
        ("undefined status byte", raw_midi(b"\x00\xf4" + NOTE_60 + END), "corrupt"),
        ("missing MTrk", raw_midi(NOTE_60 + END, chunk=b"\x00\x00\x00\x07"), "corrupt"),
        ("an alien chunk instead of the track", raw_midi(NOTE_60 + END, chunk=b"XFIH"), "no_notes"),
        ("chunk size past the end", raw_midi(NOTE_60 + END, size=500), "corrupt"),
        ("ticks_per_beat 0", raw_midi(NOTE_60 + END, division=0), "corrupt"),
        ("only meta events", raw_midi(b"\x00\xff\x51\x03\x07\xa1\x20" + END), "no_notes"),
        ("RIFF that is not RMID", b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(8), "not_midi"),
        ("a ZIP archive", b"PK\x03\x04" + bytes(40), "not_midi"),
    ],
)
def test_hostile_files_are_skipped_with_their_reason(name, data, reason):
    assert reason_of(data) == reason, name


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("header type 29697", raw_midi(NOTE_60 + END, file_type=29697)),
        ("header promises more tracks than there are", raw_midi(NOTE_60 + END, tracks=3)),
        ("no end_of_track", raw_midi(NOTE_60)),
        ("an alien chunk before the track", raw_midi(b"data", chunk=b"XFIH") + TRACK_CHUNK),
    ],
)
def test_odd_but_readable_files_are_kept(name, data):
    assert tokens_of(data) == [[60, N, N, N]], name


def test_all_voices_keeps_every_non_drum_part_as_melodies():
    drums = track(steps((36, 0, 1), (38, 1, 2)), channel=9)
    data = midi_bytes(track(LOW, channel=0), track(HIGH, channel=1), drums)
    assert tokens_of(data, Settings(min_steps=1, all_voices=True)) == [
        [48, N, N, N, 50, N, N, N, 52, N, N, N],
        [72, N, N, N, 74, N, N, N, 76, N, N, N],
    ]


def test_the_report_line_names_file_status_counts_and_reason():
    result = convert_bytes(b"PK\x03\x04zipzip", "a.mid", LOOSE)
    assert result.report() == {"file": "a.mid", "status": "skipped", "melodies": 0, "steps": 0,
                               "reason": "not_midi", "message": "starts with b'PK\\x03\\x04zipz'"}


# --- round trip: tokens -> MIDI (device.core.encoding) -> converter -> the same tokens ---

melody_tokens = st.lists(
    st.one_of(st.integers(0, 127), st.sampled_from([NOTE_OFF, NO_EVENT, NO_EVENT, NO_EVENT])), min_size=1, max_size=120
).filter(lambda tokens: any(t < NOTE_OFF for t in tokens))


def stripped(tokens):
    """Canonical tokens from the bar line (4/4) before the first note-on to the end of the last note."""
    canon = canonical(tokens)
    start = next(i for i, t in enumerate(canon) if t < NOTE_OFF) // 16 * 16
    last_event = max(i for i, t in enumerate(canon) if t != NO_EVENT)
    end = last_event if canon[last_event] == NOTE_OFF else len(canon)
    return canon[start:end]


@given(tokens=melody_tokens, ticks_per_beat=st.sampled_from([96, 480, 960]), bpm=st.sampled_from([60.0, 133.0]))
def test_round_trip_through_tokens_to_midi_file(tokens, ticks_per_beat, bpm):
    buffer = io.BytesIO()
    tokens_to_midi_file(tokens, bpm=bpm, ticks_per_beat=ticks_per_beat).save(file=buffer)
    assert tokens_of(buffer.getvalue()) == [stripped(tokens)]


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=melody_tokens)
def test_round_trip_through_write_midi_and_a_file(tokens, tmp_path):
    path = tmp_path / "melody.mid"
    write_midi(tokens, path, channel=3, program=73)
    assert [m.tolist() for m in convert_file(path, LOOSE).melodies] == [stripped(tokens)]


def test_round_trip_keeps_rests_repeated_pitches_and_long_holds():
    tokens = [N, 60, 60, N, OFF, N, 62, *[N] * 40, 62, OFF, 64, N, OFF, OFF]
    assert tokens_of(midi_bytes(*tokens_to_midi_file(tokens).tracks)) == [
        [N, 60, 60, N, OFF, N, 62, *[N] * 40, 62, OFF, 64, N]
    ]


# --- fuzzing: whatever the bytes, the converter keeps or skips with a reason ---

VALID = midi_bytes(track(steps((60, 0, 4), (64, 4, 8), (67, 8, 9), (72, 12, 40))), track(LOW, channel=9))


def check_outcome(result):
    assert result.status in ("kept", "skipped")
    if result.status == "skipped":
        assert result.reason in REASONS and not result.melodies
    else:
        assert result.melodies and all(1 <= len(m) <= 512 and m.min() >= 0 and m.max() <= 129 for m in result.melodies)


@given(data=st.binary(max_size=400))
def test_random_bytes_are_kept_or_skipped_with_a_reason(data):
    check_outcome(convert_bytes(data, "fuzz.mid", Settings(min_steps=1)))


@given(data=st.binary(max_size=300))
def test_random_bytes_after_a_midi_header_are_kept_or_skipped_with_a_reason(data):
    check_outcome(convert_bytes(VALID[:14] + data, "fuzz.mid", Settings(min_steps=1)))


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(VALID) - 1), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, len(VALID)), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, len(VALID) - 1), st.integers(1, 8)),
    st.tuples(st.just("truncate"), st.integers(0, len(VALID) - 1), st.just(0)),
)


def mutate(data: bytes, mutations) -> bytes:
    data = bytearray(data)
    for kind, at, arg in mutations:
        at = min(at, len(data))
        if kind == "flip" and at < len(data):
            data[at] ^= arg
        elif kind == "insert":
            data[at:at] = arg
        elif kind == "delete":
            del data[at : at + arg]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


@settings(max_examples=300)
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_midi_files_are_kept_or_skipped_with_a_reason(mutations):
    check_outcome(convert_bytes(mutate(VALID, mutations), "fuzz.mid", Settings(min_steps=1)))

