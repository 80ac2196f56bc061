"""The audit log's hash chain, verified in Python (``onemap audit verify``).

Each ``audit_log`` row carries ``seq`` (1, 2, 3 … without gaps), ``prev_hash`` (the previous
row's ``row_hash``; NULL for seq 1) and ``row_hash`` = SHA-256 of :func:`message`, a canonical
encoding of the row. The database computes them in a trigger (migration 0006); this module
recomputes them with :mod:`hashlib` from the stored values, never calling the database's own
hash function, and names the first row that does not fit (docs/audit.md).

The encoding (version ``onemap-audit-v1``): the version tag, then for each field a newline and
``~`` for NULL or ``<n>:<text>``, where ``<text>`` is the field's canonical text and ``<n>`` its
length in UTF-8 bytes. The fields, in order:

=============  ============================================================================
seq            decimal
prev_hash      lowercase hex (NULL for the first row)
at             microseconds since 1970-01-01T00:00:00Z, decimal
actor_id       decimal
actor_role     as stored
action         as stored
object_type    as stored
object_id      as stored
client_addr    PostgreSQL's ``inet`` output (``abbrev``): ``203.0.113.9``, ``10.0.0.0/8``
detail         PostgreSQL's ``jsonb`` text output (``detail::text``), read back as text
=============  ============================================================================

``client_addr`` and ``detail`` are read back as the database renders them (its ``inet`` and
``jsonb`` output functions are canonical: keys sorted, fixed spacing), so Python hashes the same
bytes without re-serialising JSON.

Who can break the chain without being seen: nobody who goes through the trigger. A superuser
who rewrites rows *and* recomputes every later hash leaves a valid chain; only a head recorded
earlier outside the database (an *anchor*, ``SEQ:HASH``, printed by every successful verify)
shows that. Keep anchors where the database's administrators cannot write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

from psycopg import Connection, pq

from geo.errors import InvalidInput

VERSION = "onemap-audit-v1"
#: The advisory lock chain writers hold (b"onemap-a" as a big-endian integer; migration 0006).
CHAIN_LOCK = int.from_bytes(b"onemap-a", "big")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

#: The stored values, in chain order; ``abbrev``/``::text`` read inet and jsonb canonically.
_SELECT = (
    "SELECT id, seq, prev_hash, row_hash, (extract(epoch FROM at) * 1000000)::bigint, actor_id, "
    "actor_role, action, object_type, object_id, abbrev(client_addr), detail::text "
    "FROM audit_log ORDER BY seq"
)
_TOP = "SELECT coalesce(max(seq), 0) FROM audit_log"
_AT_SEQ = "SELECT id, row_hash FROM audit_log WHERE seq = %s ORDER BY id"
_ANCHOR = re.compile(r"^(\d{1,19}):([0-9a-f]{64})$")


def epoch_us(at: datetime) -> int:
    """Microseconds since the Unix epoch (exact: integer arithmetic on the timestamp)."""
    return (at - EPOCH) // _US


def message(
    seq: int,
    prev_hash: bytes | None,
    at_us: int,
    actor_id: int | None,
    actor_role: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    client_addr: str | None,
    detail: str | None,
) -> bytes:
    """The bytes a row's ``row_hash`` is the SHA-256 of (see the module's docstring).

    Written for speed (verify calls it a million times): a length is the string's when it is
    ASCII (``isascii`` is O(1)), else its UTF-8 encoding's."""
    out = [
        f"{VERSION}\n{len(s := str(seq))}:{s}\n",
        "~" if prev_hash is None else f"64:{prev_hash.hex()}",
        f"\n{len(a := str(at_us))}:{a}",
    ]
    for v in (None if actor_id is None else str(actor_id), actor_role, action, object_type,
              object_id, client_addr, detail):  # fmt: skip
        out.append("\n~" if v is None else f"\n{len(v) if v.isascii() else len(v.encode())}:{v}")
    return "".join(out).encode()


def row_hash(*fields: Any) -> bytes:
    """SHA-256 of :func:`message` (same arguments)."""
    return sha256(message(*fields)).digest()


@dataclass(frozen=True, slots=True)
class Anchor:
    """A head seen earlier: row ``seq`` had ``row_hash``."""

    seq: int
    row_hash: bytes

    @classmethod
    def parse(cls, text: str) -> Anchor:
        found = _ANCHOR.match(text.strip().lower())
        if found is None:
            raise InvalidInput(f"an anchor is SEQ:HASH (decimal seq, 64 hex digits); got {text!r}.")
        return cls(int(found.group(1)), bytes.fromhex(found.group(2)))

    def __str__(self) -> str:
        return f"{self.seq}:{self.row_hash.hex()}"


@dataclass
class Finding:
    """The first problem in the chain. ``kind``: changed, inserted, missing, head, link."""

    kind: str
    seq: int | None
    row_id: int | None
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Report:
    rows: int = 0
    head: Anchor | None = None
    finding: Finding | None = None
    anchors_checked: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.finding is None

    def summary(self) -> str:
        if self.finding is not None:
            return f"audit chain broken: {self.finding}"
        if self.head is None:
            return "audit chain intact: the log is empty"
        anchors = f", {self.anchors_checked} anchor(s) match" if self.anchors_checked else ""
        return f"audit chain intact: {self.rows:,} rows, head {self.head}{anchors}"


@dataclass(slots=True)
class _Row:
    id: int
    seq: int
    prev_hash: bytes | None
    row_hash: bytes
    computed: bytes
    fields: tuple[Any, ...]  # (at_us, actor_id, role, action, type, id, client, detail)

    @property
    def name(self) -> str:
        return f"row seq {self.seq} (id {self.id})"

    def hash_as(self, seq: int) -> bytes:
        return row_hash(seq, self.prev_hash, *self.fields)


def _row(raw: Sequence[Any]) -> _Row:
    rid, seq, prev, stored, at_us, actor_id, role, action, otype, oid, client, detail = raw
    fields = (at_us, actor_id, role, action, otype, oid, client, detail)
    computed = sha256(message(seq, prev, *fields)).digest()
    return _Row(rid, seq, prev, stored if stored is not None else b"", computed, fields)


#: How far back a renumbered row is looked for (rows removed, the rest shifted down).
RENUMBER_SEARCH = 10_000


class _Walker:
    """Checks rows in seq order and keeps the first finding. Rows that chain go through
    :meth:`walk`'s tight loop as plain tuples; the first one that does not is looked at
    closely (:meth:`feed`) to say what is wrong with it."""

    def __init__(self) -> None:
        self.rows = 0
        self.last: _Row | None = None
        self.before_last: _Row | None = None
        self.finding: Finding | None = None

    def walk(self, rows: Sequence[Sequence[Any]]) -> bool:
        """Feed a batch; False once a finding is made (the walk stops there)."""
        last_raw = before_raw = None
        last_seq = self.last.seq if self.last else 0
        last_hash = self.last.row_hash if self.last else None
        done = 0
        for raw in rows:
            _, seq, prev, stored, *fields = raw
            if (seq == last_seq + 1 and prev == last_hash
                    and sha256(message(seq, prev, *fields)).digest() == stored):  # fmt: skip
                before_raw, last_raw = last_raw, raw
                last_seq, last_hash = seq, stored
                done += 1
                continue
            self._advance(done, before_raw, last_raw)
            return self.feed(_row(raw))
        self._advance(done, before_raw, last_raw)
        return True

    def _advance(self, done: int, before_raw: Any, last_raw: Any) -> None:
        self.rows += done
        if done >= 2:
            self.before_last, self.last = _row(before_raw), _row(last_raw)
        elif done == 1:
            self.before_last, self.last = self.last, _row(last_raw)

    def _found(self, kind: str, row: _Row, text: str) -> bool:
        self.finding = Finding(kind, row.seq, row.id, text)
        return False

    def feed(self, row: _Row) -> bool:
        """False once a finding is made (the walk stops there)."""
        self.rows += 1
        last = self.last
        if last is not None and row.seq == last.seq:
            return self._found("inserted", row, f"inserted row: {row.name} repeats seq "
                               f"{row.seq} (also id {last.id}).")  # fmt: skip
        expected = 1 if last is None else last.seq + 1
        if row.seq != expected:
            missing = (f"seq {expected}" if row.seq == expected + 1
                       else f"seq {expected}–{row.seq - 1}")  # fmt: skip
            after = f"after {last.name}" if last else "at the start of the log"
            return self._found("missing", row, f"missing row: {missing} is gone ({after}, "
                               f"before {row.name}).")  # fmt: skip
        if row.prev_hash != (None if last is None else last.row_hash):
            return self._broken_link(row)
        if row.computed != row.row_hash:
            return self._found("changed", row, f"changed row: {row.name} does not hash to its "
                               "row_hash (its content or its hash was altered).")  # fmt: skip
        self.before_last, self.last = last, row
        return True

    def _broken_link(self, row: _Row) -> bool:
        """``row`` does not link to the row before it: say which row is wrong."""
        last, before = self.last, self.before_last
        if last is not None and before is not None and row.prev_hash == before.row_hash:
            return self._found("inserted", last, f"inserted row: {last.name} is not part of "
                               f"the chain ({row.name} links to {before.name}).")  # fmt: skip
        if last is not None and row.computed == row.row_hash:
            return self._found("changed", last, f"changed row: {last.name} was altered and "
                               f"its hash recomputed ({row.name} still links to its old "
                               "hash).")  # fmt: skip
        for gap in range(1, RENUMBER_SEARCH + 1):
            if row.hash_as(row.seq + gap) == row.row_hash:
                was = row.seq + gap
                return self._found("missing", row, f"missing row: {gap} row(s) before {row.name} "
                                   f"were removed and the later rows renumbered (it was seq "
                                   f"{was}).")  # fmt: skip
        return self._found("inserted", row, f"inserted row: {row.name} was not written by the "
                           "chain (its prev_hash links to no row before it and its hash is "
                           "wrong).")  # fmt: skip


def verify(
    conn: Connection[Any],
    *,
    anchors: Iterable[Anchor] = (),
    batch: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Walk ``audit_log`` in chain order and report the first problem (or the head).

    One REPEATABLE READ, read-only transaction and a server-side cursor: a consistent snapshot
    read ``batch`` rows at a time (rows appended meanwhile are left for the next run).
    ``progress(rows done, rows in the snapshot)`` is called after each batch."""
    report = Report()
    wanted = sorted(anchors, key=lambda a: a.seq)
    walker = _Walker()
    fresh = conn.info.transaction_status == pq.TransactionStatus.IDLE
    with conn.transaction():
        if fresh:  # inside a caller's transaction its snapshot rules
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        top = int((conn.execute(_TOP).fetchone() or (0,))[0])
        with conn.cursor(name="onemap_audit_verify", binary=True) as cur:
            cur.itersize = batch
            cur.execute(_SELECT)
            while walker.finding is None and (rows := cur.fetchmany(batch)):
                walker.walk(rows)
                if progress is not None:
                    progress(walker.rows, top)
        if walker.finding is None:
            report.finding = _check_anchors(conn, wanted, walker.last)
            report.anchors_checked = len(wanted) if report.finding is None else 0
    report.rows = walker.rows
    report.finding = walker.finding or report.finding
    if walker.last is not None:
        report.head = Anchor(walker.last.seq, walker.last.row_hash)
    report.extra["max_seq"] = top
    return report


def _check_anchors(
    conn: Connection[Any], anchors: Sequence[Anchor], head: _Row | None
) -> Finding | None:
    """Each anchor's row still has its hash: the head was not rewritten or cut off."""
    last_seq = head.seq if head is not None else 0
    for anchor in anchors:
        if anchor.seq > last_seq:
            return Finding("head", None, None, f"changed head: the log ends at seq {last_seq} but "
                           f"seq {anchor.seq} was seen before (anchor {anchor}): rows "
                           f"{last_seq + 1}–{anchor.seq} are gone.")  # fmt: skip
        rows = conn.execute(_AT_SEQ, (anchor.seq,)).fetchall()
        if not rows or bytes(rows[0][1]) != anchor.row_hash:
            rid = rows[0][0] if rows else None
            return Finding("head", anchor.seq, rid, f"changed head: row seq {anchor.seq} (id "
                           f"{rid}) no longer has the hash recorded in anchor {anchor}: the "
                           f"chain was rewritten from there or before.")  # fmt: skip
    return None
