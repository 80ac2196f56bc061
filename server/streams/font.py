"""A blocky 5×7 font drawn into a picture's luma plane, and its reader.

The synthetic camera burns its code, a frame counter and the time into every frame with it. The
glyphs are big square cells, so they survive H.264 and any viewer (the tests, the benchmark, an
operator's probe) can read them back by sampling cell centres: no OCR engine needed.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

_GLYPHS = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    " ": "00000 00000 00000 00000 00000 00000 00000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    "_": "00000 00000 00000 00000 00000 00000 11111",
    "/": "00001 00001 00010 00100 01000 10000 10000",
    "?": "01110 10001 00001 00010 00100 00000 00100",
}

GLYPH_W, GLYPH_H = 5, 7
CELL_W, CELL_H = GLYPH_W + 1, GLYPH_H + 1  # one blank column and row between glyphs
INK, PAPER = 235, 16  # video-range white on black

_BITMAPS: dict[str, NDArray[np.bool_]] = {
    ch: np.array([[c == "1" for c in row] for row in rows.split()], dtype=bool)
    for ch, rows in _GLYPHS.items()
}
_CHARS = list(_BITMAPS)
_STACK = np.stack([_BITMAPS[c] for c in _CHARS])  # (n, 7, 5)


def drawable(text: str) -> str:
    """``text`` as the font can draw it: upper case, unknown characters as ``?``."""
    return "".join(c if c in _BITMAPS else "?" for c in text.upper())


def text_size(n_chars: int, scale: int) -> tuple[int, int]:
    """Width and height in pixels of a line of ``n_chars`` (with a one-cell margin)."""
    return (n_chars * CELL_W + 1) * scale, (CELL_H + 1) * scale


def draw(luma: NDArray[np.uint8], text: str, x: int, y: int, scale: int) -> None:
    """Draw ``text`` on a black box into ``luma`` (H×W, modified in place) at (x, y)."""
    text = drawable(text)
    w, h = text_size(len(text), scale)
    box = luma[y : y + h, x : x + w]
    box[:] = PAPER
    for i, ch in enumerate(text):
        glyph = _scaled(ch, scale)
        gx, gy = (1 + i * CELL_W) * scale, scale
        cell = box[gy : gy + GLYPH_H * scale, gx : gx + GLYPH_W * scale]
        cell[glyph[: cell.shape[0], : cell.shape[1]]] = INK


@functools.cache
def _scaled(ch: str, scale: int) -> NDArray[np.bool_]:
    return np.kron(_BITMAPS[ch], np.ones((scale, scale), dtype=bool))


def read(luma: NDArray[np.uint8], n_chars: int, x: int, y: int, scale: int) -> str:
    """Read ``n_chars`` drawn by :func:`draw` at (x, y): each cell's centre decides a bit, and
    the nearest glyph (fewest differing bits) wins, so a few compression errors do no harm."""
    half = scale // 2
    rows = y + scale + np.arange(GLYPH_H) * scale + half
    out = []
    for i in range(n_chars):
        cols = x + (1 + i * CELL_W) * scale + np.arange(GLYPH_W) * scale + half
        bits = luma[np.ix_(rows, cols)] > (INK + PAPER) // 2
        distance = (bits != _STACK).sum(axis=(1, 2))
        out.append(_CHARS[int(distance.argmin())])
    return "".join(out)
