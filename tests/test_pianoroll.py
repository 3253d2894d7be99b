"""The matplotlib-free piano-roll PNG writer."""

import struct
import zlib

import numpy as np

from device.core.encoding import NO_EVENT, NOTE_OFF
from device.render.pianoroll import (
    BAR,
    BELOW,
    CAP_H,
    LABEL_H,
    LABEL_W,
    NOTE,
    TEXT_SCALE,
    WHITE,
    png_bytes,
    roll_image,
    save_pianoroll,
    stack,
    text_image,
)

TOKENS = [60, NO_EVENT, NO_EVENT, NOTE_OFF, 64, NO_EVENT, 67, NO_EVENT]  # C 3 steps, E 2 steps, G 2 steps


def decode_png(data):
    """A minimal PNG reader for 8-bit RGB, filter type 0 (what png_bytes writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(height, 1 + width * 3)
    assert not raw[:, 0].any()
    return raw[:, 1:].reshape(height, width, 3)


def test_png_round_trips_an_image():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    assert np.array_equal(decode_png(png_bytes(image)), image)


def test_file_has_the_png_signature_and_ihdr_size(tmp_path):
    path = tmp_path / "roll.png"
    save_pianoroll(TOKENS, path, step_px=6, pitch_px=5)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    # 8 steps x 6 px; pitches 58..69 (60..67 plus a margin of 2, widened to 12 semitones) x 5 px; plus the axes
    assert (width, height) == (LABEL_W + 48, LABEL_H + 12 * 5 + BELOW)


def test_note_pixels_are_set_where_the_notes_are():
    image = roll_image(TOKENS, step_px=6, pitch_px=5, axes=False)
    high = 69

    def centre(pitch, step):
        return tuple(image[(high - pitch) * 5 + 2, step * 6 + 3])

    assert [centre(60, s) for s in range(3)] == [NOTE] * 3
    assert centre(60, 3) != NOTE
    assert [centre(64, s) for s in (4, 5)] == [NOTE] * 2
    assert [centre(67, s) for s in (6, 7)] == [NOTE] * 2
    assert centre(62, 1) == WHITE
    rows, columns = np.nonzero(np.all(image == NOTE, axis=2))
    cells = {(high - r // 5, c // 6) for r, c in zip(rows, columns, strict=True)}
    assert cells == {(60, 0), (60, 1), (60, 2), (64, 4), (64, 5), (67, 6), (67, 7)}


def test_an_empty_melody_still_draws():
    image = decode_png(png_bytes(roll_image([NO_EVENT] * 16, axes=False)))
    assert image.shape == (13 * 12, 16 * 10, 3)


def ink_of(image):
    """The non-white pixels of an image, as a boolean array."""
    return np.any(image != WHITE, axis=2)


def test_text_draws_each_glyph_from_its_rows():
    one = ink_of(text_image("1"))[::TEXT_SCALE, ::TEXT_SCALE]  # one pixel per font pixel
    assert one.astype(int).tolist() == [[0, 0, 1, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0],
                                        [0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [0] * 5, [0] * 5]


def test_lower_case_has_its_own_glyphs_and_unknown_characters_are_blank():
    assert not np.array_equal(text_image("c4"), text_image("C4"))
    assert ink_of(text_image("g"))[-TEXT_SCALE:].any()  # a descender, below the capitals
    assert not ink_of(text_image("~")).any()


def test_note_names_label_the_cs_on_the_pitch_axis():
    image = roll_image(TOKENS, step_px=6, pitch_px=5, pitches=(55, 74))
    label = ink_of(text_image("C4"))
    middle = LABEL_H + (74 - 60) * 5 + 2  # the C4 row's centre
    top = middle - CAP_H // 2
    assert np.array_equal(ink_of(image[top : top + label.shape[0], TEXT_SCALE : TEXT_SCALE + label.shape[1]]), label)


def test_thin_rows_label_only_the_cs():
    image = roll_image(TOKENS, step_px=6, pitch_px=2, pitches=(50, 70))  # C4, E4 and G4 are in the span
    label = ink_of(text_image("C4"))
    top = LABEL_H + (70 - 60) * 2 + 1 - CAP_H // 2
    expected = np.zeros(image.shape[:2], dtype=bool)
    expected[top : top + label.shape[0], TEXT_SCALE : TEXT_SCALE + label.shape[1]] = label
    assert np.array_equal(ink_of(image[LABEL_H:, :LABEL_W]), expected[LABEL_H:, :LABEL_W])


def test_bar_numbers_stand_above_each_bar_line():
    image = roll_image([NO_EVENT] * 40, step_px=4, pitch_px=5)
    for bar, step in [(1, 0), (2, 16), (3, 32)]:
        number = ink_of(text_image(str(bar)))
        left = LABEL_W + step * 4 + TEXT_SCALE
        strip = ink_of(image[TEXT_SCALE : TEXT_SCALE + number.shape[0], left : left + number.shape[1]])
        assert np.array_equal(strip, number)
        assert tuple(image[LABEL_H + 3, LABEL_W + step * 4]) == BAR


def test_a_title_adds_a_line_above():
    plain, titled = roll_image(TOKENS), roll_image(TOKENS, title="gate 1")
    assert titled.shape[0] == plain.shape[0] + LABEL_H
    assert np.array_equal(titled[LABEL_H:], plain)


def test_rolls_can_share_a_pitch_span():
    assert roll_image([60, NOTE_OFF], axes=False, pitches=(48, 84)).shape[0] == 37 * 12


def test_stack_puts_images_one_above_the_other():
    a, b = np.zeros((3, 4, 3), np.uint8), np.full((2, 6, 3), 7, np.uint8)
    canvas = stack([a, b], gap=1)
    assert canvas.shape == (6, 6, 3)
    assert np.array_equal(canvas[:3, :4], a) and np.array_equal(canvas[4:], b)
    assert np.all(canvas[3] == WHITE) and np.all(canvas[:3, 4:] == WHITE)


def test_marked_notes_are_drawn_in_orange():
    from device.render.pianoroll import MARKED

    image = roll_image(TOKENS, step_px=6, pitch_px=5, axes=False, marked=lambda pitch: pitch == 64)
    high = 69
    assert tuple(image[(high - 64) * 5 + 2, 4 * 6 + 3]) == MARKED
    assert tuple(image[(high - 60) * 5 + 2, 0 * 6 + 3]) == NOTE


# Pulse rolls: notes as the box plays them (device.engine.dynamics.articulate), in pulses, shaded by velocity.


def brightness(colour):
    """Perceived lightness of an RGB colour, 0 (black) .. 255 (white)."""
    red, green, blue = (int(channel) for channel in colour)
    return 0.299 * red + 0.587 * green + 0.114 * blue


def test_a_louder_note_is_drawn_darker_at_its_pulse_columns():
    from device.engine.dynamics import PulseNote
    from device.render.pianoroll import pulse_roll_image, velocity_shades

    notes = [PulseNote(60, 120, 0, 12), PulseNote(62, 60, 12, 24)]  # a loud 8th, then a soft one
    image = pulse_roll_image(notes, 24, pulse_px=2, pitch_px=5, axes=False, pitches=(58, 64))
    loud, soft = velocity_shades(120)[1], velocity_shades(60)[1]

    def fill_columns(pitch, colour):
        row = image[(64 - pitch) * 5 + 2]
        return np.nonzero(np.all(row == colour, axis=1))[0].tolist()

    # a note covers its pulses' columns less one at each end, the edge inside that, the fill within
    assert fill_columns(60, loud) == list(range(2, 22))
    assert fill_columns(62, soft) == list(range(26, 46))
    assert brightness(loud) < brightness(soft) - 60


def test_the_velocity_shades_darken_with_every_step_of_velocity():
    from device.render.pianoroll import velocity_shades

    fills = [velocity_shades(velocity)[1] for velocity in range(1, 128)]
    assert all(brightness(louder) < brightness(softer) for softer, louder in zip(fills, fills[1:], strict=False))
    assert velocity_shades(0) == velocity_shades(1) and velocity_shades(200) == velocity_shades(127)


def test_a_gated_note_ends_at_its_pulse_column():
    from device.engine.controlstate import ControlState
    from device.engine.dynamics import Dynamics, articulate
    from device.render.pianoroll import pulse_roll_image

    tokens = [60, NO_EVENT, 62, NO_EVENT]  # C for two 16ths (12 pulses), then D

    def row_of_c(gate):
        notes = articulate(tokens, ControlState(gate=gate), Dynamics(100))
        image = pulse_roll_image(notes, 24, pulse_px=3, pitch_px=5, axes=False, pitches=(58, 64))
        return notes[0].end, np.any(image[(64 - 60) * 5 + 2] != WHITE, axis=1)

    end, inked = row_of_c(1.0)  # legato: up to the D, less the one-column gap
    assert end == 12 and inked[1:35].all() and not inked[35]
    end, inked = row_of_c(0.5)  # 4 of the last 16th's 6 pulses sound: it ends at pulse 10
    assert end == 10 and inked[1:29].all() and not inked[29:36].any()


def test_a_pulse_roll_has_bar_numbers_beat_lines_and_note_names():
    from device.engine.dynamics import PulseNote
    from device.render.pianoroll import BEAT, STEP_LINE, pulse_roll_image

    notes = [PulseNote(67, 100, 0, 30)]
    # two bars of 3/4 (12 16ths, 72 pulses each), one pixel a pulse, with a title
    image = pulse_roll_image(notes, 144, pulse_px=1, pitch_px=5, pitches=(55, 74), title="gate 0.5", bar_steps=12)
    top = 2 * LABEL_H
    assert image.shape == (top + 20 * 5 + BELOW, LABEL_W + 144, 3)

    def written(text, top, left):
        label = ink_of(text_image(text))
        return np.array_equal(ink_of(image[top : top + label.shape[0], left : left + label.shape[1]]), label)

    assert written("gate 0.5", TEXT_SCALE, TEXT_SCALE)
    assert written("1", LABEL_H + TEXT_SCALE, LABEL_W + TEXT_SCALE)
    assert written("2", LABEL_H + TEXT_SCALE, LABEL_W + 72 + TEXT_SCALE)  # above the second bar line
    row = top + (74 - 62) * 5 + 2  # D4: a white key, no note
    assert tuple(image[row, LABEL_W + 72]) == BAR  # bar 2 starts 72 pulses in
    assert tuple(image[row, LABEL_W + 24]) == BEAT  # a quarter is 24 pulses
    assert tuple(image[row, LABEL_W + 6]) == STEP_LINE  # a 16th is 6 pulses
    assert tuple(image[row, LABEL_W + 3]) == WHITE
    assert written("C4", top + (74 - 60) * 5 + 2 - CAP_H // 2, TEXT_SCALE)  # beside the C4 row's middle


def test_the_velocity_legend_says_darker_is_louder_and_shows_each_shade():
    from device.render.pianoroll import velocity_legend, velocity_shades

    legend = velocity_legend((40, 120))
    words = ink_of(text_image("velocity, darker = louder:"))
    assert np.array_equal(ink_of(legend[:, : words.shape[1]]), words)
    middle = legend[legend.shape[0] // 2]
    for velocity in (40, 120):
        assert np.all(middle == velocity_shades(velocity)[1], axis=1).sum() >= 10
