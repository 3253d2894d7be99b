"""training.data.metre: bar lines from time signatures, and cutting melodies on them."""

from hypothesis import given
from hypothesis import strategies as st

from device.core.encoding import Note
from training.data.metre import FOUR_FOUR, LONGEST_BAR, BarGrid, bar_steps_of, cut_on_bars, metre_names, model_bar


def test_bar_steps_of_sane_signatures():
    assert [bar_steps_of(n, d) for n, d in [(4, 4), (3, 4), (6, 8), (2, 2), (12, 8), (3, 8), (16, 4)]] == [
        16, 12, 12, 16, 24, 6, 64]


def test_signatures_that_say_nothing_about_bars_give_none():
    assert [bar_steps_of(n, d) for n, d in [(1, 4), (1, 1), (3, 32), (17, 4), (3, 3), (4, 0), (0, 4)]] == [None] * 7


def test_no_signature_is_four_four_from_step_0():
    assert BarGrid.from_signatures([]) == FOUR_FOUR == BarGrid(((0, 16),))


def test_a_one_four_signature_is_four_four_from_where_it_stands():
    assert BarGrid.from_signatures([(0, 1, 4)]).segments == ((0, 16),)


def test_a_change_of_metre_starts_a_segment_and_a_repeat_of_the_same_does_not():
    grid = BarGrid.from_signatures([(0, 3, 4), (24, 3, 4), (36, 2, 4), (44, 2, 4)])
    assert grid.segments == ((0, 12), (36, 8))


def test_a_signature_off_the_bar_lines_restarts_the_bars_there():
    assert BarGrid.from_signatures([(0, 4, 4), (12, 4, 4)]).segments == ((0, 16), (12, 16))


def test_bar_line_and_position_follow_the_segments():
    grid = BarGrid(((0, 12), (36, 8)))
    assert [grid.bar_line(s) for s in (0, 11, 12, 35, 36, 43, 44)] == [0, 0, 12, 24, 36, 36, 44]
    assert [grid.position(s) for s in (5, 35, 37)] == [(12, 5), (12, 11), (8, 1)]


def test_a_cut_is_the_last_bar_line_that_fits_or_the_next_change_of_metre():
    grid = BarGrid(((0, 12), (36, 8)))
    assert [grid.cut(0, 30), grid.cut(0, 40), grid.cut(36, 20), grid.cut(0, 10)] == [24, 36, 52, 10]


@st.composite
def grids_and_notes(draw):
    starts = sorted(set(draw(st.lists(st.integers(1, 300), max_size=4))))
    segments = ((0, draw(st.sampled_from([6, 8, 12, 16, 24]))),)
    segments += tuple((s, draw(st.sampled_from([6, 8, 12, 16]))) for s in starts)
    notes, at = [], draw(st.integers(0, 40))
    for _ in range(draw(st.integers(1, 30))):
        length = draw(st.integers(1, 20))
        notes.append(Note(60, at, at + length))
        at += length + draw(st.integers(0, 10))
    return BarGrid(segments), notes, draw(st.integers(4, 64))


@given(grids_and_notes())
def test_pieces_keep_every_onset_once_in_order_within_max_steps_from_a_bar_line(case):
    grid, notes, max_steps = case
    pieces = cut_on_bars(notes, grid, max_steps)
    assert [n.start for _, piece in pieces for n in piece] == [n.start for n in notes]
    end = 0
    for origin, piece in pieces:
        assert piece and end <= origin <= piece[0].start and all(n.end <= origin + max_steps for n in piece)
        assert (origin - grid.bar_line(origin)) % max_steps == 0  # a bar line, or a cut inside a longer bar
        end = grid.cut(origin, max_steps)


def test_bars_up_to_the_longest_the_corpus_has_are_kept_whole():
    assert [model_bar(n, d) for n, d in [(4, 4), (6, 8), (9, 8), (12, 8), (3, 2), (5, 4)]] == [16, 12, 18, 24, 24, 20]


def test_longer_bars_are_cut_into_equal_bars_of_whole_beats():
    # 4/1: four whole notes -> 4 bars of 16; 4/2 -> 2 of 16; 9/4 -> 3 of 12; 15/8 (five dotted quarters) -> 5 of 6
    assert [model_bar(n, d) for n, d in [(4, 1), (4, 2), (9, 4), (15, 8), (7, 4), (16, 4)]] == [16, 16, 12, 6, 4, 16]


def test_every_bar_a_signature_gives_is_one_the_model_reads():
    from device.core.features import MAX_BAR_STEPS

    bars = {model_bar(n, d) for n in range(1, 33) for d in (1, 2, 4, 8, 16, 32)} - {None}
    assert max(bars) == LONGEST_BAR <= MAX_BAR_STEPS and min(bars) >= 4


def test_a_long_bar_is_cut_on_the_grid_from_its_signature():
    assert BarGrid.from_signatures([(0, 4, 2)]).segments == ((0, 16),)
    assert BarGrid.from_signatures([(0, 3, 4), (36, 4, 1)]).segments == ((0, 12), (36, 16))


def test_the_report_names_each_metre_once_in_order():
    assert metre_names([(64, 4, 2), (0, 6, 8), (128, 6, 8), (200, 1, 4)]) == [
        "6/8", "4/2 (cut into 2 bars of 16 steps)", "1/4 (read as 4/4)"]
    assert metre_names([]) == ["4/4 (none given)"]
