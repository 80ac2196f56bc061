"""A WHEP viewer in aiortc: what the tests, the benchmark and an operator's check use to watch a
camera the way any WHEP client does (recvonly offer → POST → answer; DELETE at the end).

HTTP goes through the standard library in a thread, so the server needs no HTTP client package.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from server.streams.pattern import Overlay, read_overlay

#: 307/308 answers followed with the same offer (a redirect re-sends the POST, RFC 9110).
MAX_REDIRECTS = 3


class WhepRefused(Exception):
    def __init__(self, status: int, headers: dict[str, str], problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('detail', '')}")
        self.status = status
        self.headers = headers
        self.problem = problem


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> HttpAnswer:
    """One blocking HTTP request (any status is an answer, not an exception)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return HttpAnswer(response.status, _lower(response.headers), response.read())
    except urllib.error.HTTPError as err:
        return HttpAnswer(err.code, _lower(err.headers), err.read())


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


class Viewer:
    """One viewing session of ``whep_url`` with ``token``."""

    def __init__(self, whep_url: str, token: str, *, receive_buffer: int | None = None) -> None:
        self.whep_url = whep_url
        self.token = token
        self.receive_buffer = receive_buffer  # SO_RCVBUF, for many viewers in one process
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.session_url: str | None = None
        self.session_id: str | None = None  # kept after the end, for the audit trail
        self.track: MediaStreamTrack | None = None
        self._track_ready = asyncio.Event()

    async def start(self) -> None:
        """Offer, POST, answer. WhepRefused when the server says no."""
        self.pc.addTransceiver("video", direction="recvonly")

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.track = track
            self._track_ready.set()

        await self.pc.setLocalDescription(await self.pc.createOffer())
        if self.receive_buffer:
            self._enlarge_receive_buffers(self.receive_buffer)
        for _ in range(MAX_REDIRECTS + 1):
            answer = await asyncio.to_thread(
                http,
                "POST",
                self.whep_url,
                self.pc.localDescription.sdp.encode(),
                {"Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"},
            )
            if answer.status not in (307, 308) or "location" not in answer.headers:
                break
            # The camera is served by another process (docs/streams.md): offer it there.
            self.whep_url = urljoin(self.whep_url, answer.headers["location"])
        if answer.status != 201:
            await self.pc.close()
            try:
                problem = json.loads(answer.body)
            except ValueError:
                problem = {"detail": answer.body[:200].decode(errors="replace")}
            raise WhepRefused(answer.status, answer.headers, problem)
        self.session_url = urljoin(self.whep_url, answer.headers["location"])
        self.session_id = self.session_url.rsplit("/", 1)[-1]
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer.body.decode(), type="answer")
        )

    def _enlarge_receive_buffers(self, size: int) -> None:
        # aioice has no option for it: reach its sockets (private attributes, checked here).
        for transceiver in self.pc.getTransceivers():
            connection = getattr(transceiver.receiver.transport.transport, "_connection", None)
            for protocol in getattr(connection, "_protocols", []):
                sock = protocol.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)

    async def frame(self, timeout_s: float = 10.0) -> av.VideoFrame:
        await asyncio.wait_for(self._track_ready.wait(), timeout_s)
        assert self.track is not None
        frame = await asyncio.wait_for(self.track.recv(), timeout_s)
        assert isinstance(frame, av.VideoFrame)
        return frame

    async def overlay(self, timeout_s: float = 10.0) -> Overlay:
        """The burned-in lines of the next frame (synthetic cameras and generated clips)."""
        frame = await self.frame(timeout_s)
        planes = frame.to_ndarray(format="yuv420p")
        return read_overlay(planes[: frame.height].astype(np.uint8, copy=False))

    async def stop(self) -> HttpAnswer | None:
        """End the session (DELETE) and close the peer connection."""
        result = None
        if self.session_url is not None:
            result = await asyncio.to_thread(
                http, "DELETE", self.session_url, None, {"Authorization": f"Bearer {self.token}"}
            )
            self.session_url = None
        await self.pc.close()
        return result
