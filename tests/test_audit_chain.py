"""The audit log's hash chain (migration 0006, docs/audit.md): the trigger chains every row and
overwrites what a caller sends for the chain; concurrent writers keep it gap-free; and
``verify`` (Python, hashlib) names exactly the row an attacker with superuser rights changed,
removed or forged — or the head they cut off, given an anchor.

Attacks run in the ``db`` fixture's transaction (rolled back): ``session_replication_role =
replica`` switches the append-only and chain triggers off, as a superuser could. The command
line is tried on a database of its own, where the tampering is committed."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from geo import migrate
from geo.services import audit as audit_log
from geo.services.audit_chain import CHAIN_LOCK, Anchor, message, row_hash, verify
from tests.conftest import ROOT, sqlalchemy_url

Conn = psycopg.Connection[Any]
ONEMAP = str(Path(sys.executable).with_name("onemap"))
FIELDS = (
    "(extract(epoch FROM at) * 1000000)::bigint, actor_id, actor_role, action, object_type, "
    "object_id, abbrev(client_addr), detail::text"
)


def _append(db: Conn, n: int, tag: str = "test.chain") -> list[tuple[int, int, bytes]]:
    """``n`` rows through the trigger: (id, seq, row_hash) each."""
    rows = []
    for i in range(n):
        row = db.execute(
            "INSERT INTO audit_log (actor_role, action, object_type, object_id, client_addr, "
            "detail) VALUES ('auditor', %s, 'case', %s, '203.0.113.9', %s) "
            "RETURNING id, seq, row_hash",
            (tag, str(i), Jsonb({"i": i, "note": "审计 ü", "nested": {"b": [1, 2.5], "a": None}})),
        ).fetchone()
        assert row is not None
        rows.append((row[0], row[1], bytes(row[2])))
    return rows


def _attacker(db: Conn) -> None:
    """A superuser switching the triggers off for the rest of the (rolled-back) transaction."""
    db.execute("SET LOCAL session_replication_role = replica")


def _forged_hash(db: Conn, row_id: int, seq: int, prev: bytes | None) -> bytes:
    """What an attacker who knows the encoding computes for row ``row_id`` at ``seq``."""
    fields = db.execute(f"SELECT {FIELDS} FROM audit_log WHERE id = %s", (row_id,)).fetchone()
    assert fields is not None
    return row_hash(seq, prev, *fields)


def test_python_reproduces_the_trigger_s_hash(db: Conn) -> None:
    """The encoding is the same on both sides, non-ASCII text, NULLs and an IPv6 address too."""
    db.execute(
        "INSERT INTO audit_log (actor_id, action, object_type, client_addr, detail) VALUES "
        "(NULL, 'test.encoding', 'user', '2001:db8::1', '{\"z\": \"é\\n\", \"a\": [1e3, 0.10]}')"
    )
    row = db.execute(
        f"SELECT seq, prev_hash, row_hash, {FIELDS} FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    seq, prev, stored, *fields = row
    assert fields[6] == "2001:db8::1" and fields[4] == "user"
    assert row_hash(seq, bytes(prev) if prev else None, *fields) == bytes(stored)
    encoded = message(seq, prev, *fields).decode()
    assert encoded.startswith(f"onemap-audit-v1\n{len(str(seq))}:{seq}\n")
    assert "\n~\n~\n13:test.encoding\n4:user\n~\n11:2001:db8::1\n" in encoded  # NULLs: ~


def test_callers_cannot_choose_the_chain(db: Conn) -> None:
    (_, last_seq, last_hash), = _append(db, 1)  # fmt: skip
    row = db.execute(
        "INSERT INTO audit_log (action, object_type, seq, prev_hash, row_hash, at) VALUES "
        "('test.chain', 'case', 1, '\\x00', '\\x00', '2000-01-01T00:00:00Z') "
        "RETURNING seq, prev_hash, row_hash, at > now() - interval '1 hour'"
    ).fetchone()
    assert row is not None
    seq, prev, stored, recent = row
    assert (seq, bytes(prev), recent) == (last_seq + 1, last_hash, True)
    assert len(bytes(stored)) == 32 and bytes(stored) != b"\x00"


def test_the_log_cannot_be_truncated_or_rewritten(db: Conn) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute("TRUNCATE audit_log")


def test_an_intact_chain_verifies_and_names_its_head(db: Conn) -> None:
    rows = _append(db, 3)
    report = verify(db)
    assert report.ok, report.summary()
    assert report.head == Anchor(rows[-1][1], rows[-1][2])
    assert report.summary().startswith("audit chain intact:")
    assert verify(db, anchors=[Anchor(rows[0][1], rows[0][2]), report.head]).ok


def test_a_changed_row_is_named(db: Conn) -> None:
    _a, (b_id, b_seq, _), _c = _append(db, 3)
    _attacker(db)
    db.execute("UPDATE audit_log SET detail = '{\"i\": 666}' WHERE id = %s", (b_id,))
    report = verify(db)
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("changed", b_id)
    assert f"row seq {b_seq} (id {b_id})" in str(report.finding)


def test_a_changed_and_rehashed_row_is_named(db: Conn) -> None:
    """The attacker recomputes the changed row's hash: the next row still links to the old."""
    (_, _, a_hash), (b_id, b_seq, _), _c = _append(db, 3)
    _attacker(db)
    db.execute("UPDATE audit_log SET actor_role = 'admin' WHERE id = %s", (b_id,))
    db.execute("UPDATE audit_log SET row_hash = %s WHERE id = %s",
               (_forged_hash(db, b_id, b_seq, a_hash), b_id))  # fmt: skip
    report = verify(db)
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("changed", b_id)


def test_a_deleted_row_is_named(db: Conn) -> None:
    _a, (b_id, b_seq, _), (c_id, _, _) = _append(db, 3)
    _attacker(db)
    db.execute("DELETE FROM audit_log WHERE id = %s", (b_id,))
    report = verify(db)
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("missing", c_id)
    assert f"seq {b_seq} is gone" in str(report.finding)


def test_a_deleted_row_is_found_when_the_rest_is_renumbered(db: Conn) -> None:
    _a, (b_id, b_seq, _), (c_id, _, _) = _append(db, 3)
    _attacker(db)
    db.execute("DELETE FROM audit_log WHERE id = %s", (b_id,))
    db.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > %s", (b_seq,))
    report = verify(db)
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("missing", c_id)
    assert f"it was seq {b_seq + 1}" in str(report.finding)


def test_a_forged_row_at_the_end_is_named(db: Conn) -> None:
    _a, _b, (_, c_seq, _) = _append(db, 3)
    _attacker(db)
    forged = db.execute(
        "INSERT INTO audit_log (action, object_type, seq, prev_hash, row_hash) VALUES "
        "('facility.delete', 'facility', %s, %s, %s) RETURNING id",
        (c_seq + 1, secrets.token_bytes(32), secrets.token_bytes(32)),
    ).fetchone()
    assert forged is not None
    report = verify(db)
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("inserted", forged[0])


def test_a_perfectly_forged_row_in_the_middle_is_named(db: Conn) -> None:
    """The forger knows the encoding, links the row to the one before, hashes it right and
    shifts the later rows: the row after it still links to the real one."""
    _a, (_, b_seq, b_hash), (c_id, c_seq, _) = _append(db, 3)
    _attacker(db)
    db.execute("UPDATE audit_log SET seq = -seq WHERE seq > %s", (b_seq,))
    db.execute("UPDATE audit_log SET seq = -seq + 1 WHERE seq < 0")
    forged = db.execute(
        "INSERT INTO audit_log (action, object_type, object_id, seq, prev_hash, row_hash, at) "
        "VALUES ('camera.view.start', 'camera', '7', %s, %s, '\\x00', now()) RETURNING id",
        (c_seq, b_hash),
    ).fetchone()
    assert forged is not None
    db.execute("UPDATE audit_log SET row_hash = %s WHERE id = %s",
               (_forged_hash(db, forged[0], c_seq, b_hash), forged[0]))  # fmt: skip
    report = verify(db)
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("inserted", forged[0])
    assert f"id {c_id}" in str(report.finding)


def test_a_row_with_a_repeated_seq_is_named(db: Conn) -> None:
    _a, (_, b_seq, _), _c = _append(db, 3)
    _attacker(db)
    db.execute("ALTER TABLE audit_log DROP CONSTRAINT uq_audit_log_seq")
    forged = db.execute(
        "INSERT INTO audit_log (action, object_type, seq, prev_hash, row_hash) VALUES "
        "('health_code.verify', 'user', %s, %s, %s) RETURNING id",
        (b_seq, secrets.token_bytes(32), secrets.token_bytes(32)),
    ).fetchone()
    assert forged is not None
    report = verify(db)
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("inserted", forged[0])


def test_a_cut_off_or_rewritten_head_needs_an_anchor(db: Conn) -> None:
    """Without an anchor, removing the newest row leaves a valid (shorter) chain; the anchor
    an earlier verify printed shows it. The same for a head rewritten and re-hashed."""
    _a, (_, b_seq, b_hash), (c_id, c_seq, c_hash) = _append(db, 3)
    anchor = Anchor(c_seq, c_hash)
    _attacker(db)
    db.execute("UPDATE audit_log SET detail = '{\"i\": 0}', row_hash = '\\x00' WHERE id = %s",
               (c_id,))  # fmt: skip
    db.execute("UPDATE audit_log SET row_hash = %s WHERE id = %s",
               (_forged_hash(db, c_id, c_seq, b_hash), c_id))  # fmt: skip
    assert verify(db).ok
    report = verify(db, anchors=[anchor])
    assert report.finding is not None
    assert (report.finding.kind, report.finding.row_id) == ("head", c_id)
    db.execute("DELETE FROM audit_log WHERE id = %s", (c_id,))
    assert verify(db).ok and verify(db).head == Anchor(b_seq, b_hash)
    report = verify(db, anchors=[anchor])
    assert report.finding is not None and report.finding.kind == "head"
    assert f"ends at seq {b_seq}" in str(report.finding)


def test_anchors_parse_strictly() -> None:
    good = Anchor.parse("12:" + "ab" * 32)
    assert good == Anchor(12, bytes.fromhex("ab" * 32)) and str(good) == "12:" + "ab" * 32
    for bad in ("12", "x:" + "ab" * 32, "12:" + "ab" * 31, "-1:" + "ab" * 32):
        with pytest.raises(Exception, match="SEQ:HASH"):
            Anchor.parse(bad)


@pytest.mark.anyio
async def test_concurrent_writers_keep_one_gap_free_chain(
    pool: AsyncConnectionPool[AsyncConnection[Any]], database_url: str
) -> None:
    """8 tasks × 50 rows on their own connections (committed), some through the group writer:
    every row gets its own seq and the chain verifies."""
    tag = f"test.concurrent.{secrets.token_hex(3)}"

    async def one_by_one(task: int) -> None:
        async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
            for i in range(50):
                await audit_log.record(
                    conn, actor_id=None, actor_role=None, action=tag, object_type="test",
                    object_id=f"{task}-{i}", client_addr="198.51.100.7", detail={"task": task},
                )  # fmt: skip

    group = audit_log.GroupWriter(pool, max_batch=16)

    async def grouped(task: int) -> None:
        await asyncio.gather(*(group.record(audit_log.Entry(
            None, None, tag, "test", f"{task}-{i}", "testclient", {"task": task}))
            for i in range(50)))  # fmt: skip

    await asyncio.gather(*(one_by_one(t) for t in range(6)), grouped(6), grouped(7))
    await group.close()
    with psycopg.connect(database_url) as conn:
        seqs = [r[0] for r in conn.execute(
            "SELECT seq FROM audit_log WHERE action = %s ORDER BY seq", (tag,))]  # fmt: skip
        report = verify(conn)
        detail = conn.execute(
            "SELECT detail->>'client' FROM audit_log WHERE action = %s AND object_id = '7-0'",
            (tag,),
        ).fetchone()
    assert len(seqs) == len(set(seqs)) == 400
    assert report.ok, report.summary()
    assert detail == ("testclient",)  # not an IP address: kept in detail, the row still written


@pytest.mark.anyio
async def test_the_group_writer_refuses_what_it_cannot_write(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
) -> None:
    from geo.errors import Unavailable

    group = audit_log.GroupWriter(pool)
    bad = audit_log.Entry(None, None, "x" * 100, "test")  # action is varchar(64)
    with pytest.raises(Unavailable, match="cannot be written"):
        await group.record(bad)
    await group.close()
    with pytest.raises(Unavailable, match="closing"):
        await group.record(audit_log.Entry(None, None, "test.late", "test"))


def test_the_chain_lock_is_the_documented_one() -> None:
    assert CHAIN_LOCK == 8029466706108755297
    assert str(CHAIN_LOCK) in (ROOT / "docs" / "audit.md").read_text()


# -- the migration and the command line, on a database of their own -------------------------


def _onemap(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONEMAP_DATABASE_URL": url, "ONEMAP_LOG_LEVEL": "WARNING"}
    return subprocess.run([ONEMAP, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)  # fmt: skip


def test_the_migration_chains_old_rows_and_the_command_line_verifies(
    empty_database_url: str, tmp_path: Path
) -> None:
    url = empty_database_url
    migrate.upgrade(sqlalchemy_url(url), "0005")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (action, object_type, object_id, client_addr, detail, at) "
            "SELECT 'old.' || g, 'case', g::text, '192.0.2.1', jsonb_build_object('g', g), "
            "'2026-01-01T00:00:00Z'::timestamptz + g * interval '1 minute' "
            "FROM generate_series(1, 5) g"
        )
    migrate.upgrade(sqlalchemy_url(url))
    with psycopg.connect(url, autocommit=True) as conn:
        chained = conn.execute("SELECT id, seq FROM audit_log ORDER BY id").fetchall()
        assert [seq for _, seq in chained] == [1, 2, 3, 4, 5]
        assert conn.execute("SELECT prev_hash IS NULL FROM audit_log WHERE seq = 1").fetchone() == (
            True,
        )
        conn.execute("INSERT INTO audit_log (action, object_type) VALUES ('new', 'case')")

    anchors = tmp_path / "anchors.txt"
    done = _onemap(url, "audit", "verify", "--anchors-file", str(anchors))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("audit chain intact: 6 rows, head 6:")
    assert anchors.read_text().startswith("6:")

    exported = _onemap(url, "audit", "export", "--action", "old.*", "--since",
                       "2026-01-01T00:02:00Z")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["action"] for r in table] == ["old.2", "old.3", "old.4", "old.5"]
    assert table[0]["client_addr"] == "192.0.2.1" and table[0]["detail"] == '{"g": 2}'

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        target = conn.execute("SELECT id FROM audit_log WHERE seq = 3").fetchone()
        assert target is not None
        conn.execute("UPDATE audit_log SET object_id = '99' WHERE seq = 3")
    broken = _onemap(url, "audit", "verify")
    assert broken.returncode == 1
    lines = broken.stdout.strip().splitlines()
    assert len(lines) == 1 and f"row seq 3 (id {target[0]})" in lines[0]
    assert lines[0].startswith("audit chain broken: changed row")

    again = _onemap(url, "audit", "verify", "--anchors-file", str(anchors))
    assert again.returncode == 1  # the anchors file is kept, not appended to
    assert len(anchors.read_text().splitlines()) == 1
    bad = _onemap(url, "audit", "verify", "--anchor", "nonsense")
    assert bad.returncode == 2 and "SEQ:HASH" in bad.stderr


@pytest.mark.parametrize("command", [["audit"], ["audit", "verify"], ["audit", "export"]])
def test_the_audit_commands_have_help(command: list[str]) -> None:
    done = subprocess.run([ONEMAP, *command, "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "Usage: onemap audit" in done.stdout
