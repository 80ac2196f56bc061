"""The internal hop: how a process pulls a camera's relay from the process holding its lease.

One long-lived HTTP/1.1 response on the owner's internal address carries the relay's encoded
H.264 packets, each framed as ``length (4 bytes) · pts in 1/90000 (8) · flags (1) · bytes``.
It is TCP inside the cluster, so unlike WebRTC it loses nothing, needs no ICE or DTLS and no
depacketising: the pulling process hands the owner's packets to its own relay as if they
came from the camera. The request carries a token (an HMAC of the camera and an expiry under
the deployment's internal secret), so the address serves nobody else.

This module is both ends' wire format and the puller's reader, which runs in the feed's
reading thread like any source.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import av

from server.streams.encode import TIME_BASE
from server.streams.sources import SourceError

MEDIA_TYPE = "application/vnd.onemap.h264-packets"
SCHEME = "OneMap-Relay"
HEADER = struct.Struct(">Iqb")
KEYFRAME = 1
#: A token is good for this long after it is made (it is checked once, when the hop opens).
TOKEN_S = 60
MAX_PACKET = 8 * 1024 * 1024


def hop_secret(configured: bytes | None, signing_key_material: bytes) -> bytes:
    """The key of the hop's tokens: the configured one, or one derived from the JWT signing
    key (every process of a deployment has it; outsiders do not)."""
    if configured:
        return hashlib.sha256(b"onemap relay hop\x00" + configured).digest()
    return hashlib.sha256(b"onemap relay hop (derived)\x00" + signing_key_material).digest()


def token(secret: bytes, camera_id: int, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + TOKEN_S)
    return f"{expires}.{_mac(secret, camera_id, expires)}"


def token_valid(secret: bytes, camera_id: int, value: str, now: float | None = None) -> bool:
    expires, _, mac = value.partition(".")
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(mac, _mac(secret, camera_id, int(expires)))


def _mac(secret: bytes, camera_id: int, expires: int) -> str:
    return hmac.new(secret, f"{camera_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def frame(packet: av.Packet[Any]) -> bytes:
    data = bytes(packet)
    flags = KEYFRAME if packet.is_keyframe else 0
    return HEADER.pack(len(data), int(packet.pts or 0), flags) + data


class HopReader:
    """A camera's packets from its owner's relay (blocking: runs in the reading thread)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._closed = False

    def request_keyframe(self) -> None:
        """The owner's encoder was asked for one when this hop subscribed; a PLI from one of
        this process's viewers does not travel further (as with a forwarded camera)."""

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        self.sock.close()

    def packets(self) -> Iterator[av.Packet[Any]]:
        try:
            while not self._closed:
                size, pts, flags = HEADER.unpack(self._exactly(HEADER.size))
                if size > MAX_PACKET:
                    raise SourceError("the owner's relay sent a packet too large")
                packet = av.Packet(self._exactly(size))
                packet.pts, packet.dts, packet.time_base = pts, pts, TIME_BASE
                packet.is_keyframe = bool(flags & KEYFRAME)
                yield packet
        except OSError as exc:
            if self._closed:
                return
            raise SourceError(f"the owner's relay failed: {type(exc).__name__}") from None

    def _exactly(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = self.sock.recv(min(n - got, 1 << 16))
            if not chunk:
                if self._closed:
                    raise OSError("closed")
                raise SourceError("the owner's relay ended")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


def open_hop(
    internal_url: str, camera_id: int, secret: bytes, open_timeout_s: float, read_timeout_s: float
) -> HopReader:
    """Connect to the owner's internal address and subscribe to the camera's relay (blocking:
    call it in a thread). SourceError when the owner does not serve it."""
    parts = urlsplit(internal_url)
    if parts.hostname is None or parts.port is None:
        raise SourceError("the lease names no internal address")
    try:
        sock = socket.create_connection((parts.hostname, parts.port), timeout=open_timeout_s)
    except OSError as exc:
        raise SourceError(f"the owner's relay cannot be reached: {type(exc).__name__}") from None
    try:
        request = (
            f"GET /relay/{camera_id} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: {SCHEME} {token(secret, camera_id)}\r\n"
            f"Accept: {MEDIA_TYPE}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode("ascii"))
        head = _head(sock)
        status = head.split(b" ", 2)
        if len(status) < 2 or status[1] != b"200":
            reason = head.split(b"\r\n", 1)[0].decode("latin-1")
            raise SourceError(f"the owner's relay refused: {reason[:80]}")
        sock.settimeout(read_timeout_s)  # a silent owner (its host gone) is a lost source
    except (OSError, SourceError) as exc:
        sock.close()
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"the owner's relay failed: {type(exc).__name__}") from None
    return HopReader(sock)


def _head(sock: socket.socket) -> bytes:
    """The response's status line and headers (read a byte at a time: the body follows)."""
    data = bytearray()
    while not data.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte or len(data) > 8192:
            raise SourceError("the owner's relay answered no HTTP")
        data += byte
    return bytes(data)
