"""Shared by the plan and incident tests: demo principals, a plan draft, independent reads."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

import psycopg

from geo.access import CITY, Jurisdiction, Principal, Scope
from geo.enums import FacilityCategory
from geo.plan_enums import ResponseLevel
from geo.services.plan_drafts import MeasureDraft, PlanDraft, Resource

FLOOD_NUMBER = "演示市政办发〔2026〕18号"


def user_id(conn: psycopg.Connection[Any], role: str) -> int:
    row = conn.execute(
        "SELECT id FROM users WHERE %s = ANY(roles) ORDER BY id LIMIT 1", (role,)
    ).fetchone()
    assert row is not None, role
    return int(row[0])


def principal(conn: psycopg.Connection[Any], role: str) -> Principal:
    return Principal(user_id(conn, role), frozenset({role}), "t", CITY)


def department_staff(conn: psycopg.Connection[Any], code: str) -> Principal:
    dept = department(conn, code)
    return Principal(user_id(conn, "department_staff"), frozenset({"department_staff"}), "t",
                     Jurisdiction(Scope.DEPARTMENT, (dept,)))  # fmt: skip


def department(conn: psycopg.Connection[Any], code: str) -> int:
    row = conn.execute("SELECT id FROM departments WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return int(row[0])


def unique_number() -> str:
    return f"测试预案〔2026〕{secrets.token_hex(4)}号"


def draft(conn: psycopg.Connection[Any], tag: str = "v1", change_note: str = "") -> PlanDraft:
    """A small complete plan: two measures at II, one at each other level."""
    water, fire = department(conn, "water_authority"), department(conn, "fire_rescue")
    one = (MeasureDraft(f"{tag} 巡查", f"{tag} patrol", water),)
    return PlanDraft(
        title_zh=f"测试防汛预案 {tag}", title_en=f"Test flood plan {tag}",
        issuing_body="测试办公厅", valid_from=date(2026, 1, 1), valid_to=None,
        scope_text="全市", change_note=change_note,
        levels={
            ResponseLevel.I: one, ResponseLevel.III: one, ResponseLevel.IV: one,
            ResponseLevel.II: (
                MeasureDraft(f"{tag} 抽排", f"{tag} pump", water, due_minutes=30),
                MeasureDraft(f"{tag} 救援", f"{tag} rescue", fire,
                             (Resource(FacilityCategory.FIRE_STATION, 2),)),
            ),
        },
    )  # fmt: skip


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def waterlogging_point(conn: psycopg.Connection[Any], reach_m: float) -> tuple[float, float]:
    """The seeded waterlogging point with the most schools, kindergartens, hospitals … and
    cameras within ``reach_m``: the test's place has something to find."""
    row = conn.execute(
        "SELECT ST_X(w.geom), ST_Y(w.geom) FROM facilities w WHERE w.category = "
        "'waterlogging_point' ORDER BY (SELECT count(*) FROM facilities f WHERE f.category IN "
        "('school', 'kindergarten', 'hospital', 'elderly_care') AND ST_DWithin(f.geom::geography, "
        "w.geom::geography, %(r)s)) + (SELECT count(*) FROM cameras c WHERE "
        "ST_DWithin(c.geom::geography, w.geom::geography, %(r)s)) DESC, w.id LIMIT 1",
        {"r": reach_m},
    ).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])
