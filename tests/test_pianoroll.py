"""The matplotlib-free piano-roll PNG writer."""

import struct
import zlib

import numpy as np

from device.encoding import NO_EVENT, NOTE_OFF
from device.pianoroll import NOTE, WHITE, png_bytes, roll_image, save_pianoroll

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
    # 8 steps x 6 px; pitches 58..69 (60..67 plus a margin of 2, widened to 12 semitones) x 5 px
    assert (width, height) == (48, 12 * 5)


def test_note_pixels_are_set_where_the_notes_are():
    image = roll_image(TOKENS, step_px=6, pitch_px=5)
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
    image = decode_png(png_bytes(roll_image([NO_EVENT] * 16)))
    assert image.shape == (13 * 5, 16 * 6, 3)
