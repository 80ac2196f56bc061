"""The health code's writer: inputs (declarations, check-ins, test results, risk cells), the
derived status and its history, online verifications, appeals.

The status is derived on demand from the facts (one statement) by the published rules
(``health_rules``); it is written only when it changes, with a history row naming the rule.
The subject of a code is pairwise: an HMAC of the user id for one audience, so verifiers of
different audiences cannot link their scans, and nobody can recover the user from it without
the deployment's secret.
"""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from geo.citizen_enums import AppealStatus, Colour, RiskLevel, TestResult
from geo.enums import FacilityCategory
from geo.errors import Conflict, InvalidInput, NotFound
from geo.services import health_rules as rules

_FACTS = """
WITH t AS (
  SELECT max(sampled_at) FILTER (WHERE result = 'positive') AS pos,
         max(sampled_at) FILTER (WHERE result = 'negative') AS neg
  FROM health_test_results WHERE user_id = %(u)s),
d AS (SELECT at, fever OR cardinality(symptoms) > 0 AS sym, contact_with_case
      FROM health_declarations WHERE user_id = %(u)s AND at > %(since)s
      ORDER BY at DESC LIMIT 1),
r AS (SELECT rc.level, ci.at FROM health_checkins ci
      JOIN facilities f ON f.id = ci.facility_id
      JOIN health_risk_cells rc ON rc.grid_cell_id = f.grid_cell_id
       AND ci.at >= rc.starts_at AND ci.at < rc.ends_at
      WHERE ci.user_id = %(u)s AND ci.at > %(since)s
      ORDER BY rc.level = 'high' DESC, ci.at DESC LIMIT 1),
o AS (SELECT id, corrected_colour, override_until FROM health_appeals
      WHERE user_id = %(u)s AND status = 'upheld' AND override_until > %(now)s
      ORDER BY decided_at DESC LIMIT 1),
s AS (SELECT subject, colour, rule_version, rule_id, reason FROM health_status
      WHERE user_id = %(u)s)
SELECT t.pos, t.neg, d.at, d.sym, d.contact_with_case, r.level, r.at,
       o.corrected_colour, o.override_until, o.id,
       s.subject, s.colour, s.rule_version, s.rule_id, s.reason
FROM t LEFT JOIN d ON true LEFT JOIN r ON true LEFT JOIN o ON true LEFT JOIN s ON true
"""


def subject_of(secret: bytes, audience: str, user_id: int) -> str:
    mac = hmac.new(secret, f"{audience}\x1f{user_id}".encode(), "sha256").digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


async def current(
    conn: AsyncConnection[Any], user_id: int, secret: bytes, audience: str
) -> tuple[rules.Decision, str]:
    """The user's colour now (recorded when it changed) and their subject for ``audience``."""
    now = datetime.now(UTC)
    row = await (
        await conn.execute(_FACTS, {"u": user_id, "now": now, "since": now - rules.LOOKBACK})
    ).fetchone()
    assert row is not None
    facts = rules.Facts(
        now=now, positive_at=row[0], negative_at=row[1], declared_at=row[2],
        declared_fever_or_symptoms=bool(row[3]), declared_contact=bool(row[4]),
        risk_level=row[5], risk_checkin_at=row[6], override_colour=row[7],
        override_until=row[8], override_appeal=row[9],
    )  # fmt: skip
    decision = rules.decide(facts)
    subject = subject_of(secret, audience, user_id)
    known = (subject, decision.colour.value, decision.version, decision.rule.id, decision.reason)
    if tuple(row[10:15]) != known:
        await _record(conn, user_id, subject, decision, colour_changed=row[11] != known[1])
    return decision, subject


async def _record(
    conn: AsyncConnection[Any], user_id: int, subject: str, d: rules.Decision, colour_changed: bool
) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO health_rule_versions (version, rules) VALUES (%s, %s) "
            "ON CONFLICT (version) DO NOTHING", (d.version, Jsonb(rules.published())),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO health_status (user_id, subject, colour, rule_version, rule_id, reason) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET "
            "subject = excluded.subject, colour = excluded.colour, rule_version = "
            "excluded.rule_version, rule_id = excluded.rule_id, reason = excluded.reason, "
            "since = CASE WHEN health_status.colour = excluded.colour THEN health_status.since "
            "ELSE now() END",
            (user_id, subject, d.colour.value, d.version, d.rule.id, d.reason),
        )
        if colour_changed:
            await conn.execute(
                "INSERT INTO health_status_changes (user_id, colour, rule_version, rule_id, "
                "reason) VALUES (%s, %s, %s, %s, %s)",
                (user_id, d.colour.value, d.version, d.rule.id, d.reason),
            )


async def declare(
    conn: AsyncConnection[Any], user_id: int, fever: bool, symptoms: list[str], contact: bool
) -> dict[str, Any]:
    return await _insert_returning(
        conn, "INSERT INTO health_declarations (user_id, fever, symptoms, contact_with_case) "
        "VALUES (%s, %s, %s, %s) RETURNING id, at", (user_id, fever, symptoms, contact),
    )  # fmt: skip


async def check_in(conn: AsyncConnection[Any], user_id: int, venue_code: str) -> dict[str, Any]:
    async with conn.transaction():
        venue = await (
            await conn.execute(
                "SELECT id, code, name_zh, name_en FROM facilities WHERE code = %s "
                "AND category <> %s", (venue_code, FacilityCategory.HAZARD_SOURCE.value),
            )
        ).fetchone()  # fmt: skip
        if venue is None:
            raise NotFound(f"No venue with code {venue_code!r}.", field="venue_code")
        row = await _insert_returning(
            conn, "INSERT INTO health_checkins (user_id, facility_id) VALUES (%s, %s) "
            "RETURNING id, at", (user_id, venue[0]),
        )  # fmt: skip
    return {**row, "venue": {"code": venue[1], "name_zh": venue[2], "name_en": venue[3]}}


async def record_test(
    conn: AsyncConnection[Any],
    officer_id: int,
    phone: str,
    result: TestResult,
    sampled_at: datetime,
) -> dict[str, Any]:
    if sampled_at > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidInput("sampled_at is in the future.")
    async with conn.transaction():
        user = await (
            await conn.execute("SELECT id FROM users WHERE phone = %s", (phone,))
        ).fetchone()
        if user is None:
            raise NotFound("No user with this phone number.", field="phone")
        row = await _insert_returning(
            conn, "INSERT INTO health_test_results (user_id, result, sampled_at, recorded_by) "
            "VALUES (%s, %s, %s, %s) RETURNING id, recorded_at AS at",
            (user[0], result.value, sampled_at, officer_id),
        )  # fmt: skip
    return {**row, "user_id": user[0]}


async def set_risk_cell(
    conn: AsyncConnection[Any],
    officer_id: int,
    cell_code: str,
    level: RiskLevel,
    starts_at: datetime,
    ends_at: datetime,
    note: str | None,
) -> dict[str, Any]:
    if ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at.")
    async with conn.transaction():
        cell = await (
            await conn.execute("SELECT id FROM grid_cells WHERE code = %s", (cell_code,))
        ).fetchone()
        if cell is None:
            raise NotFound(f"No grid cell {cell_code!r}.", field="grid_cell_code")
        return await _insert_returning(
            conn, "INSERT INTO health_risk_cells (grid_cell_id, level, starts_at, ends_at, "
            "set_by, note) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, created_at AS at",
            (cell[0], level.value, starts_at, ends_at, officer_id, note),
        )  # fmt: skip


async def appeal(conn: AsyncConnection[Any], user_id: int, reason: str) -> dict[str, Any]:
    async with conn.transaction():
        open_ = await (
            await conn.execute(
                "SELECT id FROM health_appeals WHERE user_id = %s AND status = 'open'", (user_id,)
            )
        ).fetchone()
        if open_ is not None:
            raise Conflict(f"Appeal {open_[0]} is still open; wait for its decision.")
        return await _insert_returning(
            conn, "INSERT INTO health_appeals (user_id, reason) VALUES (%s, %s) "
            "RETURNING id, status, created_at", (user_id, reason),
        )  # fmt: skip


async def decide_appeal(
    conn: AsyncConnection[Any],
    officer_id: int,
    appeal_id: int,
    upheld: bool,
    note: str,
    corrected: Colour | None,
    override_hours: int,
) -> dict[str, Any]:
    if upheld and corrected is None:
        raise InvalidInput("An upheld appeal needs the corrected colour.")
    until = datetime.now(UTC) + timedelta(hours=override_hours) if upheld else None
    async with conn.transaction():
        row = await _insert_returning(
            conn, "UPDATE health_appeals SET status = %s, decided_by = %s, decided_at = now(), "
            "decision_note = %s, corrected_colour = %s, override_until = %s "
            "WHERE id = %s AND status = 'open' RETURNING id, user_id, status, decided_at",
            ((AppealStatus.UPHELD if upheld else AppealStatus.DISMISSED).value, officer_id, note,
             corrected.value if upheld and corrected else None, until, appeal_id),
            missing=f"No open appeal {appeal_id}.",
        )  # fmt: skip
    return row


async def verification(
    conn: AsyncConnection[Any],
    *,
    verifier_id: int,
    jti: str | None,
    subject: str | None,
    colour: str | None,
    valid: bool,
    reason: str | None,
) -> tuple[int | None, str | None]:
    """Record an online verification; the user (if the subject is known) and their colour now.
    What a token said is recorded as text PostgreSQL can hold: no NUL, bounded."""
    jti, subject, colour, reason = (_text(v) for v in (jti, subject, colour, reason))
    async with conn.transaction():
        user = None
        if subject is not None:
            user = await (
                await conn.execute(
                    "SELECT user_id, colour FROM health_status WHERE subject = %s", (subject,)
                )
            ).fetchone()
        await conn.execute(
            "INSERT INTO health_verifications (jti, user_id, verifier_id, colour, valid, reason) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (jti, user[0] if user else None, verifier_id, colour, valid, reason),
        )
    return (user[0], user[1]) if user else (None, None)


def _text(value: str | None, most: int = 200) -> str | None:
    return value.replace("\x00", "")[:most] if value is not None else None


async def history(conn: AsyncConnection[Any], user_id: int, limit: int = 100) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT colour, rule_version, rule_id, reason, at FROM health_status_changes "
            "WHERE user_id = %s ORDER BY at DESC, id DESC LIMIT %s", (user_id, limit),
        )  # fmt: skip
        changes = await cur.fetchall()
        await cur.execute(
            "SELECT v.at, v.valid, v.colour, u.display_name AS verifier "
            "FROM health_verifications v "
            "JOIN users u ON u.id = v.verifier_id WHERE v.user_id = %s "
            "ORDER BY v.at DESC, v.id DESC LIMIT %s", (user_id, limit),
        )  # fmt: skip
        verifications = await cur.fetchall()
    return {"changes": changes, "verifications": verifications}


async def _insert_returning(
    conn: AsyncConnection[Any], query: str, args: tuple[Any, ...], missing: str | None = None
) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, args)
        row = await cur.fetchone()
    if row is None:
        raise NotFound(missing or "Nothing was written.")
    return row
