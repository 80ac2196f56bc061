"""What each caller sees of cases through GraphQL: jurisdictions applied in SQL, and the public
record (``cases_public``) and nothing more exact for everyone else."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from strawberry import Schema

from geo.access import CITY, Jurisdiction, Principal, Scope
from tests.gql_helpers import run

pytestmark = pytest.mark.anyio
Pool = AsyncConnectionPool[AsyncConnection[Any]]
LIST = "{ cases(first: 1000) { nodes { id gridCell { id } } } }"
LIST_TYPED = "{ cases(first: 1000) { nodes { id description department { id } } } }"
# The cases under a district, by its grid cells' communities and streets (admin areas).
IN_DISTRICT = (
    "SELECT c.id FROM cases c JOIN grid_cells g ON g.id = c.grid_cell_id "
    "JOIN admin_areas m ON m.id = g.community_id JOIN admin_areas s ON s.id = m.parent_id "
    "WHERE s.parent_id = %s ORDER BY c.id LIMIT 1000"
)


def _rows(database_url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, args).fetchall()


def _first_district(database_url: str) -> int:
    return int(_rows(database_url, "SELECT id FROM admin_areas WHERE level = 'district' "
                     "ORDER BY code LIMIT 1")[0][0])  # fmt: skip


def _ids(out: Any) -> list[int]:
    assert out.errors == [], out.errors
    return [int(n["id"]) for n in out.data["cases"]["nodes"]]


async def test_a_district_dispatcher_lists_only_the_district_cases(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    district = _first_district(database_url)
    dispatcher = Principal(6, frozenset({"dispatcher"}), None,
                           Jurisdiction(Scope.DISTRICT, (district,)))  # fmt: skip
    expected = [r[0] for r in _rows(database_url, IN_DISTRICT, district)]
    everything = _rows(database_url, "SELECT count(*) FROM cases")[0][0]
    assert 0 < len(expected) < everything
    # Both the SQL-rendered page and the typed one (description is not plain).
    assert _ids(await run(schema, pool, LIST, principal=dispatcher)) == expected
    assert _ids(await run(schema, pool, LIST_TYPED, principal=dispatcher)) == expected
    # A case elsewhere is not there for them: not readable, not dispatchable.
    outside = _rows(database_url, "SELECT id FROM cases WHERE status = 'reported' AND id <> "
                    "ALL(%s) ORDER BY id LIMIT 1", expected)[0][0]  # fmt: skip
    read = await run(schema, pool, "query($id: ID!) { case(id: $id) { id } }",
                     {"id": str(outside)}, principal=dispatcher)  # fmt: skip
    assert read.errors[0].extensions["code"] == "NOT_FOUND"
    act = await run(schema, pool, "mutation($id: ID!) { dispatchCase(id: $id) { "
                    "... on CaseError { code } } }", {"id": str(outside)},
                    principal=dispatcher)  # fmt: skip
    assert act.data["dispatchCase"] == {"code": "NOT_FOUND"}
    assert _rows(database_url, "SELECT status FROM cases WHERE id = %s", outside)[0][0] == (
        "reported")  # fmt: skip


async def test_department_staff_list_their_department_cases(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    uid, dept = _rows(database_url, "SELECT id, department_id FROM users WHERE phone LIKE "
                      "'1381%%' ORDER BY id LIMIT 1")[0]  # fmt: skip
    staff = Principal(uid, frozenset({"department_staff"}), None,
                      Jurisdiction(Scope.DEPARTMENT, (dept,)))  # fmt: skip
    out = await run(schema, pool, LIST_TYPED, principal=staff)
    # The cases it leads, and those it has a co-handling or joint task on (other tests may
    # have given it some): every one it lists is one of these.
    expected = [r[0] for r in _rows(database_url, "SELECT c.id FROM cases c WHERE "
                                    "c.department_id = %s OR EXISTS (SELECT 1 FROM case_tasks k "
                                    "WHERE k.case_id = c.id AND k.department_id = %s) "
                                    "ORDER BY c.id LIMIT 1000", dept, dept)]  # fmt: skip
    assert expected and _ids(out) == expected
    led = {r[0] for r in _rows(database_url, "SELECT id FROM cases WHERE department_id <> %s "
                               "OR department_id IS NULL", dept)}  # fmt: skip
    helped = {r[0] for r in _rows(database_url, "SELECT case_id FROM case_tasks WHERE "
                                  "department_id = %s", dept)}  # fmt: skip
    others = [n for n in out.data["cases"]["nodes"] if int(n["id"]) in led]
    assert {int(n["id"]) for n in others} <= helped


async def test_a_grid_worker_cannot_dispatch_and_reads_only_their_cells(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    worker, cells = _rows(
        database_url, "SELECT worker_id, array_agg(id) FROM grid_cells WHERE worker_id = "
        "(SELECT g.worker_id FROM cases c JOIN grid_cells g ON g.id = c.grid_cell_id "
        "WHERE g.worker_id IS NOT NULL ORDER BY c.id LIMIT 1) GROUP BY 1")[0]  # fmt: skip
    gw = Principal(worker, frozenset({"grid_worker"}), None,
                   Jurisdiction(Scope.GRID_CELLS, tuple(cells)))  # fmt: skip
    out = await run(schema, pool, LIST, principal=gw)
    assert {int(n["gridCell"]["id"]) for n in out.data["cases"]["nodes"]} <= set(cells)
    in_cells = _rows(database_url, "SELECT count(*) FROM cases WHERE grid_cell_id = ANY(%s)",
                     cells)[0][0]  # fmt: skip
    assert len(_ids(out)) == in_cells > 0
    mine = _ids(out)[0]
    act = await run(schema, pool, "mutation($id: ID!) { dispatchCase(id: $id) { "
                    "... on CaseError { code } } }", {"id": str(mine)}, principal=gw)  # fmt: skip
    assert act.data["dispatchCase"] == {"code": "FORBIDDEN"}


PUBLIC_FIELDS = "id publicId category status priority reportedAt closedAt dueAt geometry"


async def test_anonymous_case_values_are_the_public_record(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    doc = f"{{ cases(first: 1000) {{ nodes {{ {PUBLIC_FIELDS} department {{ id }} }} }} }}"
    public = {
        r[0]: r[1:] for r in _rows(database_url, "SELECT id, ST_X(geom), ST_Y(geom), "
                                   "reported_at, closed_at FROM cases_public ORDER BY id "
                                   "LIMIT 1000")
    }  # fmt: skip
    for compiled_doc in (doc, doc.replace("department { id }", "description")):
        out = await run(schema, pool, compiled_doc)
        nodes = out.data["cases"]["nodes"] if out.data else []
        if "description" in compiled_doc:
            assert {e.extensions["code"] for e in out.errors} == {"FORBIDDEN"}
            continue
        assert out.errors == []
        assert [int(n["id"]) for n in nodes] == list(public)
        for n in nodes:
            lon, lat, reported, closed = public[int(n["id"])]
            assert n["geometry"]["coordinates"] == [lon, lat]
            assert n["reportedAt"] == reported.isoformat()
            assert n["closedAt"] == (closed.isoformat() if closed else None)
            assert reported.minute == reported.second == 0
            assert n["dueAt"] is None and n["department"] is None


async def test_sensitive_cases_are_absent_for_the_public_and_analysts(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    hidden = _rows(database_url, "SELECT c.id FROM cases c JOIN case_categories k ON "
                   "k.code = c.category WHERE k.sensitive ORDER BY c.id LIMIT 1")  # fmt: skip
    assert hidden, "the seed should hold a case of a sensitive category"
    analyst = Principal(2, frozenset({"analyst"}), None, CITY)
    doc = "query($id: ID!) { case(id: $id) { id } }"
    for who in (None, analyst):
        out = await run(schema, pool, doc, {"id": str(hidden[0][0])}, principal=who)
        assert out.errors[0].extensions["code"] == "NOT_FOUND"
        listed = await run(schema, pool, LIST, principal=who)
        assert hidden[0][0] not in _ids(listed)


async def test_analysts_get_the_public_case_record_only(
    schema: Schema, pool: Pool, database_url: str
) -> None:
    case_id, lon, lat, reported = _rows(
        database_url, "SELECT id, ST_X(geom), ST_Y(geom), reported_at FROM cases_public "
        "ORDER BY id LIMIT 1")[0]  # fmt: skip
    analyst = Principal(2, frozenset({"analyst"}), None, CITY)
    doc = "query($id: ID!) { case(id: $id) { geometry reportedAt dueAt department { id } } }"
    out = await run(schema, pool, doc, {"id": str(case_id)}, principal=analyst)
    assert out.errors == []
    assert out.data["case"] == {"geometry": {"type": "Point", "coordinates": [lon, lat]},
                                "reportedAt": reported.isoformat(), "dueAt": None,
                                "department": None}  # fmt: skip
    for field in ("description", "address", "events { id }", "reporter { phone }"):
        denied = await run(schema, pool, f'{{ case(id: "{case_id}") {{ {field} }} }}',
                           principal=analyst)  # fmt: skip
        assert denied.errors[0].extensions["code"] == "FORBIDDEN", field
