"""A pixel font for pictures drawn with numpy (the piano roll's labels and titles): no font files needed.

Capitals and digits are 5x7 pixels, lower case has its descenders below them, in a cell 5 pixels wide and 9
high; ``text_image`` draws a line of text ``scale`` times larger (2: capitals 14 pixels high, readable at a
glance). Characters outside the font are drawn as blanks. The glyphs are drawn for this box.
"""

from __future__ import annotations

import numpy as np

CELL_W, CELL_H = 5, 9  # pixels of a glyph's cell
CAP_H = 7  # pixels of a capital or a digit, from the cell's top; lower case descends below
CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#-.:=/,()+%'_ "
# One glyph per character of CHARS, in order: 9 rows of 5 pixels, each row a base-32 digit (16 = the left pixel).
GLYPHS = (
    "ehjlphe00 4c4444e00 eh1248v00 eh161he00 26aiv2200 vgu11he00 68guhhe00 v12488800 ehhehhe00 ehhf12c00 "
    "ehhvhhh00 uhhuhhu00 ehggghe00 uhhhhhu00 vgguggv00 vgguggg00 ehgnhhf00 hhhvhhh00 e44444e00 72222ic00 "
    "hikokih00 ggggggv00 hrllhhh00 hhpljhh00 ehhhhhe00 uhhuggg00 ehhhlid00 uhhukih00 fgge11u00 v44444400 "
    "hhhhhhe00 hhhhha400 hhhllla00 hha4ahh00 hha444400 v1248gv00 00e1fhf00 gguhhhu00 00egghe00 11fhhhf00 "
    "00ehvge00 698s88800 00fhhhf1e gguhhhh00 40c444e00 2062222ic ggikoki00 c44444e00 00qllll00 00uhhhh00 "
    "00ehhhe00 00uhhhugg 00fhhhf11 00mpggg00 00fge1u00 88s889600 00hhhjd00 00hhha400 00hhlla00 00ha4ah00 "
    "00hhhhf1e 00v248v00 aavavaa00 000v00000 00000cc00 0cc0cc000 00v0v0000 11248gg00 00000cc48 248884200 "
    "842224800 044v44000 op248j300 448000000 0000000v0 000000000"
)
FONT = dict(zip(CHARS, GLYPHS.split(), strict=True))
WHITE, INK = (255, 255, 255), (40, 40, 40)


def glyph(char: str) -> np.ndarray:
    """The 9x5 pixels of ``char`` (True = ink); a character outside the font is blank."""
    rows = FONT.get(char, "0" * CELL_H)
    return np.array([[int(row, 32) >> (CELL_W - 1 - column) & 1 for column in range(CELL_W)] for row in rows],
                    dtype=bool)


def advance(scale: int) -> int:
    """Pixels from one character's left edge to the next's: a cell and one font pixel between."""
    return (CELL_W + 1) * scale


def text_width(text: str, scale: int) -> int:
    """Pixels ``text`` takes drawn at ``scale``."""
    return max(len(text) * advance(scale) - scale, 1)


def text_image(text: str, scale: int = 2, colour: tuple[int, int, int] = INK) -> np.ndarray:
    """``text`` as an RGB array on white, ``CELL_H * scale`` pixels high, each font pixel ``scale`` pixels square."""
    image = np.full((CELL_H * scale, text_width(text, scale), 3), WHITE, dtype=np.uint8)
    for index, char in enumerate(text):
        big = np.kron(glyph(char), np.ones((scale, scale), dtype=bool))
        left = index * advance(scale)
        image[:, left : left + CELL_W * scale][big] = colour
    return image
