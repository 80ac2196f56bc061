"""The synthetic camera picture: moving stripes, a colour per camera, and three burned-in lines
— the camera's code, the frame counter and the UTC time (ms) — that :func:`read_overlay` reads
back from a decoded frame (to check which camera one sees, count frames, measure latency)."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import av
import numpy as np
from numpy.typing import NDArray

from server.streams import font

CODE_CHARS = 16
_FRAME_PREFIX = "FRAME "
_FRAME_DIGITS = 8
_TIME_CHARS = len("HH:MM:SS.mmm")
DAY_MS = 86_400_000
_PERIOD = 220  # of the stripes, in pixels


@dataclass(frozen=True, slots=True)
class Layout:
    scale: int
    x: int
    ys: tuple[int, int, int]


def layout(width: int, height: int) -> Layout:
    """Where the three lines go: the same for the painter and the reader of a frame size."""
    scale = max(2, min(width // 160, height // 90))
    step = (font.CELL_H + 2) * scale
    top = 2 * scale
    return Layout(scale, 2 * scale, (top, top + step, top + 2 * step))


@dataclass(frozen=True, slots=True)
class Overlay:
    code: str
    frame: int | None
    time_ms: int | None  # milliseconds since UTC midnight


def read_overlay(luma: NDArray[np.uint8]) -> Overlay:
    """The burned-in lines of a decoded frame's luma plane (fields unreadable → None)."""
    h, w = luma.shape
    lay = layout(w, h)
    code = font.read(luma, CODE_CHARS, lay.x, lay.ys[0], lay.scale).rstrip()
    counter = font.read(luma, len(_FRAME_PREFIX) + _FRAME_DIGITS, lay.x, lay.ys[1], lay.scale)
    stamp = font.read(luma, _TIME_CHARS, lay.x, lay.ys[2], lay.scale)
    frame = int(counter[len(_FRAME_PREFIX) :]) if counter[len(_FRAME_PREFIX) :].isdigit() else None
    return Overlay(code, frame, _parse_time(stamp))


def time_of_day_ms(now: float) -> int:
    return round(now * 1000) % DAY_MS


def _format_time(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d}"


def _parse_time(text: str) -> int | None:
    try:
        hms, ms = text.split(".")
        h, m, s = (int(p) for p in hms.split(":"))
        return ((h * 60 + m) * 60 + s) * 1000 + int(ms)
    except ValueError:
        return None


class Painter:
    """Frames of one synthetic camera. The base picture is built once; each frame is a shifted
    copy with the three lines drawn on it (about a millisecond at 720p)."""

    def __init__(self, code: str, width: int, height: int, *, noise: bool = False) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"the picture size must be even, not {width}x{height}")
        self.code = font.drawable(code)[:CODE_CHARS]
        self.width, self.height = width, height
        self.layout = layout(width, height)
        xs = np.arange(width + height + _PERIOD, dtype=np.int32)
        ramp = ((xs * 3) % _PERIOD + 16).astype(np.uint8)
        # Diagonal stripes, one period wider than the picture: a frame is a window into it.
        window = np.lib.stride_tricks.sliding_window_view(ramp, width + _PERIOD)
        self._base = window[:height][::-1].copy()
        hue = zlib.crc32(code.encode()) & 0xFFFF
        self._u = np.full((height // 2, width // 2), 64 + (hue & 0x7F), dtype=np.uint8)
        self._v = np.full((height // 2, width // 2), 64 + (hue >> 9), dtype=np.uint8)
        self._rng = np.random.default_rng(hue) if noise else None

    def luma(self, index: int, now: float) -> NDArray[np.uint8]:
        shift = (4 * index) % _PERIOD
        y = self._base[:, shift : shift + self.width].copy()
        if self._rng is not None:  # texture, so an encoder spends a camera's bitrate
            y = y + self._rng.integers(0, 24, size=y.shape, dtype=np.uint8)
        side = self.height // 6
        bx = (index * 6) % max(1, self.width - side)
        y[self.height - side - 8 : self.height - 8, bx : bx + side] = font.INK
        lay = self.layout
        font.draw(y, self.code.ljust(CODE_CHARS), lay.x, lay.ys[0], lay.scale)
        counter = f"{_FRAME_PREFIX}{index % 10**_FRAME_DIGITS:0{_FRAME_DIGITS}d}"
        font.draw(y, counter, lay.x, lay.ys[1], lay.scale)
        font.draw(y, _format_time(time_of_day_ms(now)), lay.x, lay.ys[2], lay.scale)
        return y

    def frame(self, index: int, now: float | None = None) -> av.VideoFrame:
        """Frame ``index`` stamped with ``now`` (epoch seconds; the wall clock by default)."""
        y = self.luma(index, time.time() if now is None else now)
        planes = np.concatenate(
            [y, self._u.reshape(-1, self.width), self._v.reshape(-1, self.width)]
        )
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")
