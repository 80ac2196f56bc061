"""H.264 encoding, once per camera: frames in, Annex-B packets out (what every viewer's RTP
sender forwards as is). Baseline profile, no B-frames, SPS/PPS repeated before each keyframe,
so a viewer may join at any keyframe and every browser can decode it."""

from __future__ import annotations

import contextlib
import fractions
from typing import Any

import av

#: RTP's video clock; packets carry pts in it so viewers' timestamps need no conversion.
TIME_BASE = fractions.Fraction(1, 90_000)


class H264Encoder:
    def __init__(self, width: int, height: int, fps: int, gop: int, bitrate: int) -> None:
        ctx = av.CodecContext.create("libx264", "w")
        assert isinstance(ctx, av.VideoCodecContext)
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = TIME_BASE
        ctx.framerate = fractions.Fraction(fps, 1)
        ctx.bit_rate = bitrate
        ctx.gop_size = gop
        ctx.max_b_frames = 0
        ctx.profile = "Baseline"
        # zerolatency: no lookahead or frame threads, a packet per frame at once.
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "level": "31"}
        self.ctx = ctx
        self.fps = fps

    def encode(
        self, frame: av.VideoFrame, pts: int, *, keyframe: bool = False
    ) -> list[av.Packet[Any]]:
        """Encode one frame with ``pts`` in :data:`TIME_BASE` ticks."""
        ctx = self.ctx
        if (frame.format.name, frame.width, frame.height) != ("yuv420p", ctx.width, ctx.height):
            # Once here, never per viewer (and no relay ever carries another pixel format).
            frame = frame.reformat(width=ctx.width, height=ctx.height, format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        frame.pict_type = (
            av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        )
        packets = ctx.encode(frame)
        for packet in packets:
            packet.time_base = TIME_BASE
        return packets

    def close(self) -> None:
        with contextlib.suppress(av.FFmpegError):
            self.ctx.encode(None)
