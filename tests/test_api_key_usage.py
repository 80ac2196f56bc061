"""The usage recorder (geo/services/api_key_usage.py) on a real PostgreSQL: counts add up in
memory and reach ``api_key_usage`` in one additive upsert; a flush that cannot reach the
database keeps its counts for the next one; two recorders (two workers) add into the same rows.
A key granted a layer with a restricted internal view reads its public record."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from geo import access
from geo.access import Capability, DataClass, system
from geo.services import api_keys
from geo.services.api_key_usage import UsageRecorder


def _connect(url: str) -> Any:
    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection[Any]]:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=2) as c:
            yield c

    return connect


@pytest.mark.anyio
async def test_counts_survive_a_failed_flush_and_add_up_across_recorders(
    database_url: str,
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
        made = await api_keys.create(c, system(Capability.MANAGE_API_KEYS),
                                     department="transport", name="usage test",
                                     datasets=["roads"])  # fmt: skip
    key_id = made.row.id
    down = UsageRecorder(_connect("postgresql://postgres@127.0.0.1:1/none"))
    down.add(key_id, "roads", 10, 1000)
    down.add(key_id, "roads", 5, 500)
    assert await down.flush() == 0  # nothing written, nothing lost
    down._connect = _connect(database_url)
    assert await down.flush() == 1
    other = UsageRecorder(_connect(database_url))  # another worker
    other.add(key_id, "roads", 1, 100)
    await other.close()
    async with await psycopg.AsyncConnection.connect(database_url) as c:
        row = await (await c.execute(
            "SELECT requests, rows, bytes FROM api_key_usage WHERE key_id = %s", (key_id,)
        )).fetchone()  # fmt: skip
    assert row == (3, 16, 1600)


def test_a_key_reads_restricted_layers_as_their_public_record() -> None:
    classes = access.grantable()
    assert classes["cases"] is DataClass.PUBLIC
    assert classes["buildings"] is DataClass.INTERNAL and "cameras" not in classes
    principal = access.api_client(1, ["cases", "buildings", "cameras"])
    views = access.views_for(principal)
    assert set(views) == {"cases", "buildings"}
    assert views["cases"].table == "cases_public" and views["buildings"].internal
    assert not principal.capabilities and not principal.authenticated
