"""Camera sources: where a camera's picture comes from, opened and read in a worker thread.

A camera's ``source`` (never shown to clients: it may hold credentials) is one of
``testsrc://…`` (the synthetic picture with the camera's code burned in; ``?size=1280x720&fps=25``),
``file:///abs/clip.ts`` or ``file://relative/clip.ts`` (under the data directory; looped), or
``rtsp://…`` / ``rtsps://…``. Every reader yields H.264 Annex-B packets with pts in 1/90000:
H.264 sources are forwarded as they are; anything else is decoded, converted to yuv420p and
encoded once here — never once per viewer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit

import av
import av.container

from server.streams.encode import TIME_BASE, H264Encoder
from server.streams.pattern import Painter

_PASSTHROUGH = "h264"
# Containers whose H.264 is length-prefixed (avcC): converted to Annex-B packet by packet.
_LENGTH_PREFIXED = ("mp4", "mov", "matroska", "flv")


class SourceError(Exception):
    """The source cannot be opened or read (said without naming its address)."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    kind: Literal["testsrc", "file", "rtsp"]
    location: str = ""
    width: int = 640
    height: int = 360
    fps: int = 25


@dataclass(frozen=True, slots=True)
class ReadOptions:
    open_timeout_s: float
    read_timeout_s: float
    gop: int  # frames between keyframes when we encode
    bitrate: int


def parse_source(url: str, data_dir: Path) -> SourceSpec:
    """The spec of a camera's source URL; ValueError (with a reason) for an unusable one."""
    parts = urlsplit(url)
    if parts.scheme == "testsrc":
        query = parse_qs(parts.query)
        width, height = 640, 360
        if "size" in query:
            w, _, h = query["size"][0].partition("x")
            if not (w.isdigit() and h.isdigit()) or int(w) % 2 or int(h) % 2:
                raise ValueError("testsrc size must be WIDTHxHEIGHT, both even")
            width, height = int(w), int(h)
        fps = int(query.get("fps", ["25"])[0])
        if not (64 <= width <= 3840 and 64 <= height <= 2160 and 1 <= fps <= 60):
            raise ValueError("testsrc size or fps out of range")
        return SourceSpec("testsrc", width=width, height=height, fps=fps)
    if parts.scheme == "file":
        raw = parts.netloc + parts.path
        path = Path(raw) if raw.startswith("/") else data_dir / raw
        return SourceSpec("file", str(path))
    if parts.scheme in ("rtsp", "rtsps"):
        return SourceSpec("rtsp", url)
    raise ValueError(f"unsupported source scheme {parts.scheme!r}")


class Reader(Protocol):
    def packets(self) -> Iterator[av.Packet[Any]]: ...
    def request_keyframe(self) -> None: ...
    def close(self) -> None: ...


def open_reader(spec: SourceSpec, code: str, options: ReadOptions) -> Reader:
    """Open a source (blocking: call it in a thread). Raises SourceError."""
    if spec.kind == "testsrc":
        return SyntheticReader(code, spec, options)
    container_options = {"rtsp_transport": "tcp"} if spec.kind == "rtsp" else {}
    try:
        container = av.open(
            spec.location,
            "r",
            options=container_options,
            timeout=(options.open_timeout_s, options.read_timeout_s),
        )
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open the source: {type(exc).__name__}") from exc
    if not container.streams.video:
        container.close()
        raise SourceError("the source has no video")
    return ContainerReader(container, live=spec.kind == "rtsp", options=options)


class _Closable:
    def __init__(self) -> None:
        self._closed = threading.Event()
        self._keyframe = threading.Event()

    def request_keyframe(self) -> None:
        self._keyframe.set()

    def close(self) -> None:
        self._closed.set()

    def _pace(self, start: float, at_s: float) -> None:
        """Sleep until ``at_s`` seconds after ``start`` (or until closed)."""
        delay = start + at_s - time.monotonic()
        if delay > 0:
            self._closed.wait(delay)


class SyntheticReader(_Closable):
    """The test pattern, painted and encoded in real time (encoded once for all viewers)."""

    def __init__(self, code: str, spec: SourceSpec, options: ReadOptions) -> None:
        super().__init__()
        self.fps = spec.fps
        self.painter = Painter(code, spec.width, spec.height)
        self.encoder = H264Encoder(spec.width, spec.height, spec.fps, options.gop, options.bitrate)

    def packets(self) -> Iterator[av.Packet[Any]]:
        start, tick = time.monotonic(), TIME_BASE.denominator // self.fps
        index = 0
        try:
            while not self._closed.is_set():
                self._pace(start, index / self.fps)
                keyframe = self._keyframe.is_set()
                self._keyframe.clear()
                frame = self.painter.frame(index)
                yield from self.encoder.encode(frame, index * tick, keyframe=keyframe)
                index += 1
        finally:
            self.encoder.close()


class ContainerReader(_Closable):
    """A file (paced to real time, looped) or a live RTSP stream, through FFmpeg."""

    def __init__(
        self, container: av.container.InputContainer, *, live: bool, options: ReadOptions
    ) -> None:
        super().__init__()
        self.container = container
        self.stream = container.streams.video[0]
        self.live = live
        self.options = options
        self.passthrough = self.stream.codec_context.name == _PASSTHROUGH
        self.annexb = None
        if self.passthrough and container.format.name.split(",")[0] in _LENGTH_PREFIXED:
            self.annexb = av.BitStreamFilterContext("h264_mp4toannexb", self.stream)
        self.encoder: H264Encoder | None = None
        self._slices: list[av.Packet[Any]] = []
        self._reading = False
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        self.fps = max(1, round(float(rate)))

    def close(self) -> None:
        super().close()
        if not self._reading:  # never read: nobody else will close the container
            self.container.close()

    def packets(self) -> Iterator[av.Packet[Any]]:
        self._reading = True
        start = time.monotonic()
        offset = 0  # added to pts (in 1/90000) after each loop, so time never runs backwards
        first: int | None = None
        last = 0
        frame_ticks = TIME_BASE.denominator // self.fps
        try:
            while not self._closed.is_set():
                got = False
                for packet in self.container.demux(self.stream):
                    if self._closed.is_set():
                        return
                    if packet.pts is None and self.live and self.passthrough and packet.size:
                        self._slices.append(packet)  # the first slice of the next picture
                        continue
                    if packet.pts is None or packet.time_base is None or not packet.size:
                        continue
                    ticks = int(packet.pts * packet.time_base / TIME_BASE)
                    first = ticks if first is None else first
                    pts = ticks - first + offset
                    last = max(last, pts)
                    got = True
                    if not self.live:
                        self._pace(start, float(pts * TIME_BASE))
                    yield from self._forward(packet, pts)
                if self.live or not got:
                    raise SourceError("the source ended")
                offset, first = last + frame_ticks, None
                self.container.seek(0)
        except av.FFmpegError as exc:
            raise SourceError(f"the source failed: {type(exc).__name__}") from exc
        finally:
            self.container.close()
            if self.encoder is not None:
                self.encoder.close()

    def _forward(self, packet: av.Packet[Any], pts: int) -> Iterator[av.Packet[Any]]:
        if self.passthrough:
            for out in self.annexb.filter(packet) if self.annexb else [packet]:
                out.pts, out.dts, out.time_base = pts, pts, TIME_BASE
                if self.live:
                    yield from self._whole_picture(out)
                else:
                    yield out
            return
        for frame in packet.decode():
            assert isinstance(frame, av.VideoFrame)
            if self.encoder is None:
                self.encoder = H264Encoder(
                    frame.width - frame.width % 2,
                    frame.height - frame.height % 2,
                    self.fps,
                    self.options.gop,
                    self.options.bitrate,
                )
            keyframe = self._keyframe.is_set()
            self._keyframe.clear()
            yield from self.encoder.encode(frame, pts, keyframe=keyframe)

    def _whole_picture(self, packet: av.Packet[Any]) -> Iterator[av.Packet[Any]]:
        """FFmpeg's RTSP demuxer gives a picture's slices as separate packets (the first one
        may have no pts); a viewer's sender must get a picture as one packet, so slices are
        joined here, which holds each picture back until the next starts (one frame)."""
        pending = next((p.pts for p in self._slices if p.pts is not None), None)
        if pending is not None and pending != packet.pts:
            joined = av.Packet(b"".join(bytes(p) for p in self._slices))
            joined.pts, joined.dts, joined.time_base = pending, pending, TIME_BASE
            joined.is_keyframe = any(p.is_keyframe for p in self._slices)
            self._slices.clear()
            yield joined
        self._slices.append(packet)
