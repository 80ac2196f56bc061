"""One camera's fan-out: encoded H.264 packets from its source to every viewer's track.

aiortc's ``MediaRelay`` is made for decoded frames: unbuffered it drops whatever a slow viewer
missed — for encoded packets that corrupts the picture until the next keyframe — and buffered
its queues have no bound. This relay gives each viewer a bounded queue; a viewer that falls
behind by a full queue skips to the next keyframe, and a new viewer starts at one, so what a
viewer decodes is always whole pictures. It never stops the source: the feed counts viewers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class ViewerTrack(MediaStreamTrack):
    """What one viewer's RTP sender reads: the camera's packets, whole pictures only."""

    kind = "video"

    def __init__(self, relay: Relay, limit: int) -> None:
        super().__init__()
        self._relay: Relay | None = relay
        self._queue: deque[av.Packet[Any]] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self._ended = False
        self._need_keyframe = True
        self.received = 0
        self.skipped = 0

    def _put(self, packet: av.Packet[Any]) -> None:
        if self._need_keyframe and not packet.is_keyframe:
            self.skipped += 1
            return
        self._need_keyframe = False
        if len(self._queue) >= self._limit:
            self.skipped += len(self._queue) + 1
            self._queue.clear()
            self._need_keyframe = not packet.is_keyframe
            if self._need_keyframe:
                return
        self._queue.append(packet)
        self.received += 1
        self._ready.set()

    def _end(self) -> None:
        self._ended = True
        self._ready.set()

    async def recv(self) -> av.Packet[Any]:
        while not self._queue:
            if self._ended or self.readyState != "live":
                self.stop()
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def stop(self) -> None:
        super().stop()
        if self._relay is not None:
            self._relay.unsubscribe(self)
            self._relay = None


class Relay:
    def __init__(self, *, queue_limit: int, on_subscribe: Callable[[], None]) -> None:
        self._viewers: set[ViewerTrack] = set()
        self._queue_limit = queue_limit
        self._on_subscribe = on_subscribe
        self.packets = 0

    def subscribe(self) -> ViewerTrack:
        track = ViewerTrack(self, self._queue_limit)
        self._viewers.add(track)
        self._on_subscribe()  # e.g. ask an encoder for a keyframe, so the viewer starts soon
        return track

    def unsubscribe(self, track: ViewerTrack) -> None:
        self._viewers.discard(track)

    def push(self, packet: av.Packet[Any]) -> None:
        """Hand one packet to every viewer (on the event loop's thread)."""
        self.packets += 1
        for viewer in self._viewers:
            viewer._put(packet)

    def resync(self) -> None:
        """A new source stream begins: every viewer waits for its first keyframe."""
        for viewer in self._viewers:
            viewer._need_keyframe = True

    def end(self) -> None:
        """The relay is finished: every viewer's track ends once its queue is drained."""
        for viewer in list(self._viewers):
            viewer._end()
        self._viewers.clear()

    def __len__(self) -> int:
        return len(self._viewers)
