"""The owner's end of the internal hop (``server.streams.hop``): a small listener on
``ONEMAP_STREAMS_INTERNAL_HOST`` that serves ``GET /relay/{camera}`` to other processes of
the deployment — the relay of a camera this process holds the lease of, packet by packet.

It is not the public app: no routes but this one, a token on every request, and only cameras
whose source this very process pulls (a process never passes on what it pulls itself, so
there are no chains). A subscriber is one more viewer of the relay: it keeps the feed running
and starts at a keyframe; it is not audited — its viewers are, where they are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from aiortc.mediastreams import MediaStreamError

from server.streams.feeds import Feed
from server.streams.hop import MEDIA_TYPE, SCHEME, frame, token_valid

log = logging.getLogger("onemap.streams")

_REQUEST = re.compile(rb"^GET /relay/([0-9]{1,19}) HTTP/1\.[01]$")
#: The camera's feed when this process holds its lease and pulls its source, else None.
OwnedFeed = Callable[[int], Awaitable[Feed | None]]


class HopServer:
    def __init__(self, host: str, port: int, secret: bytes, owned_feed: OwnedFeed) -> None:
        self.host = host
        self.port = port
        self.secret = secret
        self.owned_feed = owned_feed
        self.server: asyncio.Server | None = None
        self.url = ""
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        port = self.server.sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        return self.url

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except TimeoutError:
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        lines = head.split(b"\r\n")
        match = _REQUEST.match(lines[0])
        if match is None:
            return await _status(writer, 404, "Not Found")
        camera_id = int(match.group(1))
        auth = next((ln.split(b":", 1)[1].strip() for ln in lines[1:]
                     if ln.lower().startswith(b"authorization:")), b"")  # fmt: skip
        scheme, _, value = auth.decode("latin-1").partition(" ")
        if scheme != SCHEME or not token_valid(self.secret, camera_id, value.strip()):
            return await _status(writer, 401, "Unauthorized")
        feed = await self.owned_feed(camera_id)
        if feed is None:  # not (or no longer) this process's camera: the puller re-resolves
            return await _status(writer, 409, "Conflict")
        track = feed.attach()
        try:
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: {MEDIA_TYPE}\r\nCache-Control: no-store\r\n"
                "Connection: close\r\n\r\n".encode("ascii")
            )
            while True:
                try:
                    packet = await track.recv()
                except MediaStreamError:
                    return  # the feed stopped: the puller re-resolves
                if not feed.owned:  # it lost the lease: pull from the new owner directly
                    return
                writer.write(frame(packet))
                await writer.drain()
        finally:
            feed.detach(track)

    @property
    def subscribers(self) -> int:
        return len(self._clients)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.wait(self._clients, timeout=2.0)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2.0)


async def _status(writer: asyncio.StreamWriter, code: int, reason: str) -> None:
    writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                 .encode("ascii"))  # fmt: skip
    await writer.drain()
