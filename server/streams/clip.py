"""Generate a small H.264 clip (MPEG-TS) of the synthetic picture instead of committing video.

Tests and the benchmark play it through ``file://`` cameras: H.264 in MPEG-TS is Annex-B with
SPS/PPS before every keyframe, so it is forwarded without re-encoding; another ``codec``
(``mpeg4``) makes a source that the server must encode (once). The burned-in time is the
clip's own (00:00:00.000 at frame 0); the frame counter is the frame's index.
"""

from __future__ import annotations

import fractions
import os
from pathlib import Path

import av

from server.streams.pattern import Painter


def make_clip(
    directory: Path,
    *,
    code: str = "CLIP",
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    seconds: float = 4.0,
    gop: int = 25,
    bitrate: int = 1_500_000,
    noise: bool = False,
    codec: str = "libx264",
) -> Path:
    """Write (once) and return ``directory/<name>.ts``; the name encodes every parameter, so a
    clip is reused only when it is the one asked for."""
    name = f"{code}-{width}x{height}-{fps}fps-{seconds:g}s-g{gop}-{bitrate // 1000}k"
    extra = ("-noise" if noise else "") + ("" if codec == "libx264" else f"-{codec}")
    path = directory / f"{name}{extra}.ts"
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    painter = Painter(code, width, height, noise=noise)
    with av.open(str(partial), "w", format="mpegts") as out:
        stream = out.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = 0
        if codec == "libx264":
            stream.codec_context.profile = "Baseline"
            stream.codec_context.options = {"preset": "veryfast", "tune": "zerolatency"}
        for i in range(round(seconds * fps)):
            frame = painter.frame(i, now=i / fps)
            frame.pts, frame.time_base = i, fractions.Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    partial.replace(path)  # atomic: a reader never sees half a clip
    return path
