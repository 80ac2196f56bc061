"""Camera relay leases (``geo.services.camera_relays``, ``server.streams.leases``) on the
session's PostGIS: who gets a camera, when it moves, what its holder learns when it lost it."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from geo.errors import NotFound
from geo.services import camera_relays
from server.kernel.settings import StreamSettings
from server.streams.leases import Ownership

pytestmark = pytest.mark.anyio


async def _camera(conn: AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT min(id) FROM cameras")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _claim(conn: AsyncConnection[Any], camera: int, owner: str) -> camera_relays.Lease:
    lease = await camera_relays.claim(
        conn, camera, owner=owner, internal_url=f"http://{owner}:1", public_url=None, ttl_s=5
    )
    assert lease is not None
    return lease


async def _expire(conn: AsyncConnection[Any], camera: int) -> None:
    await conn.execute(
        "UPDATE camera_relays SET expires_at = now() - interval '1 second' WHERE camera_id = %s",
        [camera],
    )


async def test_one_holder_at_a_time_until_its_lease_expires(conn: AsyncConnection[Any]) -> None:
    camera = await _camera(conn)
    first = await _claim(conn, camera, "a")
    assert first.mine and first.owner == "a"
    second = await _claim(conn, camera, "b")
    assert not second.mine and second.owner == "a" and second.internal_url == "http://a:1"
    assert (await _claim(conn, camera, "a")).mine  # its own lease: renewed, not refused
    assert await camera_relays.renew(conn, [camera], owner="a", ttl_s=5) == {camera}

    await _expire(conn, camera)  # a died (or was cut off) and nobody renewed
    taken = await _claim(conn, camera, "b")
    assert taken.mine and taken.owner == "b" and taken.internal_url == "http://b:1"
    assert await camera_relays.renew(conn, [camera], owner="a", ttl_s=5) == set()  # a lost it
    await camera_relays.release(conn, [camera], owner="a")  # a cannot give b's lease away
    assert not (await _claim(conn, camera, "c")).mine
    await camera_relays.release(conn, [camera], owner="b")
    assert (await _claim(conn, camera, "c")).mine


async def test_no_lease_for_a_camera_that_does_not_exist(conn: AsyncConnection[Any]) -> None:
    with pytest.raises(NotFound):
        await _claim(conn, 2**31 - 1, "a")


async def test_a_holder_learns_it_lost_the_lease_at_its_next_heartbeat(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
) -> None:
    ownership = Ownership(StreamSettings(lease_ttl_s=2, lease_renew_s=1), pool)
    ownership.internal_url = "http://127.0.0.1:1"
    lost: list[int] = []
    ownership.on_lost = lost.append
    async with pool.connection() as conn:
        camera = await _camera(conn)
    try:
        assert (await ownership.claim(camera)).mine
        await ownership.renew()
        assert lost == [] and ownership.owned == {camera}
        async with pool.connection() as conn:
            await _expire(conn, camera)
            assert (await _claim(conn, camera, "another process")).mine
        await ownership.renew()
        assert lost == [camera] and ownership.owned == set()
        assert not (await ownership.claim(camera)).mine
    finally:
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM camera_relays WHERE camera_id = %s", [camera])


def test_a_lease_is_renewed_well_before_it_expires() -> None:
    with pytest.raises(ValueError, match="at most half"):
        StreamSettings(lease_ttl_s=2, lease_renew_s=1.5)
