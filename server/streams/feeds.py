"""Feeds: one source and one relay per camera, started by the first viewer, stopped a few
seconds after the last one leaves, reconnected with backoff when the source drops.

Across processes a camera's source is pulled by one of them only: a feed claims the camera's
lease first (``server.streams.leases``). Holding it, it opens the source; otherwise its
"source" is the owner's relay over the internal hop (``server.streams.hop``), and when that
drops (the owner died or let go) it claims again — taking the lease once it has expired, or
pulling from whoever holds it now. Its viewers stay connected throughout.

The source is opened in a thread with a timeout (an RTSP open blocks for seconds) and read by
its own thread; packets reach the relay on the event loop's thread. Status changes (online,
offline) go to a callback that writes them to the one map.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from geo.enums import CameraStatus
from geo.services.camera_relays import Lease
from server.kernel.settings import StreamSettings
from server.streams.hop import open_hop
from server.streams.leases import LeaseUnavailable, Ownership
from server.streams.relay import Relay, ViewerTrack
from server.streams.sources import (
    Reader,
    ReadOptions,
    SourceError,
    SourceSpec,
    open_reader,
    parse_source,
)

log = logging.getLogger("onemap.streams")

StatusSink = Callable[[int, CameraStatus], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CameraRef:
    id: int
    code: str
    source: str  # never leaves the stream service


class SourceOffline(Exception):
    """The camera's source could not be opened; ``retry_after_s`` says when to try again."""

    def __init__(self, camera_id: int, retry_after_s: float) -> None:
        super().__init__(f"camera {camera_id} is offline")
        self.retry_after_s = retry_after_s


class Feed:
    def __init__(self, camera: CameraRef, spec: SourceSpec, feeds: Feeds) -> None:
        self.camera = camera
        self.spec = spec
        self.feeds = feeds
        settings = feeds.settings
        self.relay = Relay(queue_limit=settings.relay_queue_packets, on_subscribe=self._keyframe)
        self.reader: Reader | None = None
        self.started: asyncio.Task[None] | None = None
        self.idle_stop: asyncio.TimerHandle | None = None
        self.reconnecting: asyncio.Task[None] | None = None
        self.stopped = False
        #: This process holds the camera's lease and pulls its source (else: the owner's relay).
        self.owned = False
        self.last_packet = 0.0
        self._last_heartbeat = 0.0

    async def open(self) -> None:
        """Claim the camera and open its source, or the owner's relay; start reading.
        SourceError when the source cannot be opened in time, or no owner serves it before
        its lease could have expired."""
        settings = self.feeds.settings
        deadline = time.monotonic() + settings.lease_ttl_s + 2 * settings.lease_renew_s
        while True:
            try:
                lease = await self.feeds.ownership.claim(self.camera.id)
            except LeaseUnavailable as exc:
                raise SourceError(str(exc)) from None
            self.owned = lease.mine
            try:
                return await self._open(lease)
            except SourceError as exc:
                if lease.mine or self.stopped or time.monotonic() > deadline:
                    raise
                # The owner is gone or letting go: its lease expires within the deadline.
                log.info("camera %s: owner's relay not served (%s); re-resolving",
                         self.camera.id, exc)  # fmt: skip
                await asyncio.sleep(settings.lease_renew_s)

    async def _open(self, lease: Lease) -> None:
        loop = asyncio.get_running_loop()
        settings = self.feeds.settings
        options = ReadOptions(
            open_timeout_s=settings.open_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            gop=max(1, round(settings.gop_s * self.spec.fps)),
            bitrate=settings.bitrate,
        )
        if lease.mine:
            opening: Callable[[], Reader] = lambda: open_reader(  # noqa: E731
                self.spec, self.camera.code, options
            )
            log.info("camera %s: holding its lease; opening the source", self.camera.id)
        else:
            opening = lambda: open_hop(  # noqa: E731
                lease.internal_url, self.camera.id, self.feeds.hop_secret,
                settings.open_timeout_s, settings.read_timeout_s,
            )  # fmt: skip
        job = loop.run_in_executor(self.feeds.executor, opening)
        try:
            reader = await asyncio.wait_for(asyncio.shield(job), settings.open_timeout_s)
        except TimeoutError:
            job.add_done_callback(_close_abandoned)  # the open may still succeed, later
            raise SourceError("the source did not open in time") from None
        except SourceError:
            raise
        except Exception as exc:  # a library's surprise is still just an unusable source
            log.exception("camera %s: opening the source failed", self.camera.id)
            raise SourceError(f"cannot open the source: {type(exc).__name__}") from None
        if self.stopped:
            reader.close()
            raise SourceError("the feed was stopped while opening")
        self.reader = reader
        self.relay.resync()
        threading.Thread(
            target=self._pump, args=(reader, loop), name=f"onemap-camera-{self.camera.id}",
            daemon=True,
        ).start()  # fmt: skip
        self._heartbeat(force=True)

    def _pump(self, reader: Reader, loop: asyncio.AbstractEventLoop) -> None:
        """The reading thread: packets to the loop until the reader ends or fails."""
        reason = "closed"
        try:
            for packet in reader.packets():
                loop.call_soon_threadsafe(self._deliver, reader, packet)
        except RuntimeError:  # the loop closed under us: the process is shutting down
            reader.close()
            return
        except SourceError as exc:
            reason = str(exc)
        except Exception as exc:  # a library failure must not kill the thread silently
            log.exception("camera %s: reader failed", self.camera.id)
            reason = type(exc).__name__
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody to tell
            loop.call_soon_threadsafe(self._lost, reader, reason)

    def _deliver(self, reader: Reader, packet: av.Packet[Any]) -> None:
        if reader is not self.reader:
            return  # a packet of a reader we have already replaced or stopped
        self.last_packet = time.monotonic()
        self.relay.push(packet)
        self._heartbeat()

    def _heartbeat(self, force: bool = False) -> None:
        """Online, and last seen now: written when the source opens, then every few minutes
        (by the process that pulls the source: the owner)."""
        if not self.owned:
            return
        now = time.monotonic()
        if force or now - self._last_heartbeat >= self.feeds.settings.status_heartbeat_s:
            self._last_heartbeat = now
            self.feeds.report(self.camera.id, CameraStatus.ONLINE)

    def _lost(self, reader: Reader, reason: str) -> None:
        if reader is not self.reader or self.stopped:
            return
        log.warning("camera %s: source lost (%s)", self.camera.id, reason)
        self.reader = None
        if self.owned:  # the camera itself dropped, not the hop to its owner
            self.feeds.report(self.camera.id, CameraStatus.OFFLINE)
        if len(self.relay):
            self.reconnecting = asyncio.ensure_future(self._reconnect())
        else:
            self.feeds.forget(self)

    async def _reconnect(self) -> None:
        """Retry with exponential backoff while anybody is watching."""
        delay = 0.5
        if not self.owned:  # the owner's relay dropped: re-resolve at once
            delay = 0.0
        while not self.stopped and len(self.relay):
            await asyncio.sleep(delay)
            delay = max(delay, 0.5)
            try:
                await self.open()
            except SourceError:
                delay = min(delay * 2, self.feeds.settings.reconnect_max_s)
                continue
            log.info("camera %s: source back", self.camera.id)
            return

    def attach(self) -> ViewerTrack:
        if self.idle_stop is not None:
            self.idle_stop.cancel()
            self.idle_stop = None
        return self.relay.subscribe()

    def detach(self, track: ViewerTrack) -> None:
        track.stop()
        if not len(self.relay) and not self.stopped and self.idle_stop is None:
            loop = asyncio.get_running_loop()
            self.idle_stop = loop.call_later(self.feeds.settings.idle_stop_s, self.stop)

    def _keyframe(self) -> None:
        if self.reader is not None:
            self.reader.request_keyframe()

    def let_source_go(self) -> None:
        """The lease is another process's now: stop pulling the source; the reconnection
        (while anybody watches) then pulls the new owner's relay."""
        self.owned = False
        if self.reader is not None:
            self.reader.close()

    def stop(self) -> None:
        """Stop reading and end every viewer's track (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        for handle in (self.idle_stop, self.reconnecting):
            if handle is not None:
                handle.cancel()
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        self.relay.end()
        self.feeds.forget(self)
        log.info("camera %s: feed stopped", self.camera.id)

    @property
    def live(self) -> bool:
        return self.reader is not None and not self.stopped


def _close_abandoned(job: asyncio.Future[Reader]) -> None:
    if not job.cancelled() and job.exception() is None:
        job.result().close()


class Feeds:
    """Every running feed of this process, by camera id."""

    def __init__(
        self,
        settings: StreamSettings,
        data_dir: Path,
        on_status: StatusSink,
        *,
        ownership: Ownership,
        hop_secret: bytes,
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.on_status = on_status
        self.ownership = ownership
        self.hop_secret = hop_secret
        ownership.on_lost = self._lease_lost
        self.executor = ThreadPoolExecutor(settings.open_threads, "onemap-stream-open")
        self.feeds: dict[int, Feed] = {}
        self.failed: dict[int, float] = {}  # camera id → when its source last failed to open
        self._reports: set[asyncio.Task[None]] = set()

    async def watch(self, camera: CameraRef) -> tuple[Feed, ViewerTrack]:
        """A new viewer's track of ``camera``, opening its source if nobody watches it yet."""
        retry = self.settings.offline_retry_s
        failed_at = self.failed.get(camera.id)
        if failed_at is not None and time.monotonic() - failed_at < retry:
            raise SourceOffline(camera.id, retry - (time.monotonic() - failed_at))
        feed = self.feeds.get(camera.id)
        if feed is None or feed.stopped:
            try:
                spec = parse_source(camera.source, self.data_dir)
            except ValueError as exc:
                log.error("camera %s: unusable source: %s", camera.id, exc)
                await self._offline(camera.id)
                raise SourceOffline(camera.id, retry) from None
            feed = self.feeds[camera.id] = Feed(camera, spec, self)
            feed.started = asyncio.ensure_future(feed.open())
        assert feed.started is not None
        try:
            await asyncio.shield(feed.started)
        except SourceError as exc:
            log.warning("camera %s: cannot open its source (%s)", camera.id, exc)
            self.forget(feed)
            await self._offline(camera.id)
            raise SourceOffline(camera.id, retry) from None
        if not feed.live:  # reconnecting: its viewers wait, a new one is told to come back
            raise SourceOffline(camera.id, retry)
        self.failed.pop(camera.id, None)
        return feed, feed.attach()

    async def _offline(self, camera_id: int) -> None:
        self.failed[camera_id] = time.monotonic()
        await self.on_status(camera_id, CameraStatus.OFFLINE)

    def report(self, camera_id: int, status: CameraStatus) -> None:
        """Write a status change in the background (the caller is on the loop, not awaiting)."""
        task = asyncio.ensure_future(self.on_status(camera_id, status))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    def forget(self, feed: Feed) -> None:
        if self.feeds.get(feed.camera.id) is feed:
            del self.feeds[feed.camera.id]
            if feed.owned:
                feed.owned = False
                self.ownership.let_go(feed.camera.id)

    def _lease_lost(self, camera_id: int) -> None:
        feed = self.feeds.get(camera_id)
        if feed is not None and feed.owned:
            feed.let_source_go()

    async def owned_feed(self, camera_id: int) -> Feed | None:
        """The camera's feed when this process holds its lease and pulls its source (what
        the internal hop serves), once it has opened; else None."""
        feed = self.feeds.get(camera_id)
        if feed is None or feed.stopped or feed.started is None:
            return None
        with contextlib.suppress(SourceError):
            await asyncio.shield(feed.started)
        return feed if feed.owned and not feed.stopped else None

    def relays(self) -> dict[str, list[int]]:
        """Which cameras this process pulls from their source, and which from their owner."""
        owned = sorted(c for c, f in self.feeds.items() if f.owned)
        pulled = sorted(c for c, f in self.feeds.items() if not f.owned and f.live)
        return {"owned": owned, "pulled": pulled}

    def viewers(self) -> dict[int, int]:
        return {camera_id: len(feed.relay) for camera_id, feed in self.feeds.items()}

    async def close(self) -> None:
        for feed in list(self.feeds.values()):
            feed.stop()
        if self._reports:
            await asyncio.wait(self._reports, timeout=2.0)
        self.executor.shutdown(wait=False, cancel_futures=True)
