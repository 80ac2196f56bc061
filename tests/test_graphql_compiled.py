"""The SQL-rendered fast path answers exactly as the typed path does, for every shape it takes,
and takes the typed path for shapes it cannot render."""

from __future__ import annotations

from typing import Any

import pytest

from geo.access import CITY, Principal
from geo.enums import CaseSource
from geo.params import LonLat
from geo.queries import keyset
from geo.services.cases import create_case
from server.gql.context import Context
from server.gql.schema import contract_schema
from server.kernel.events import EventBroker
from server.kernel.settings import GraphQLSettings

pytestmark = pytest.mark.anyio
DISPATCHER = Principal(user_id=6, roles=frozenset({"dispatcher"}), jurisdiction=CITY)
BBOX = "{minLon: 121.40, minLat: 31.16, maxLon: 121.58, maxLat: 31.32}"
AFTER = keyset.cursor("ID:ASC", None, 40)  # a cursor as the API gives out: after id 40


async def _both(pool: Any, doc: str, variables: dict[str, Any] | None,
                principal: Principal | None) -> tuple[Any, Any, int, int]:  # fmt: skip
    schema = contract_schema()
    answers = []
    for compiled in (True, False):
        ctx = Context(pool=pool, broker=EventBroker(""), principal=principal or Principal(),
                      settings=GraphQLSettings(compiled_pages=compiled))  # fmt: skip
        result = await schema.execute(doc, variable_values=variables, context_value=ctx)
        assert result.errors is None, result.errors
        answers.append((result.data, ctx.statements))
    return answers[0][0], answers[1][0], answers[0][1], answers[1][1]


#: The case board without its clocks (graphql/operations/case_board.graphql): the clocks are
#: the typed path's (a timeline and the stage limits each page, test_graphql_queries).
BOARD = """query ($first: Int) { cases(first: $first) { edges { cursor node { id publicId
    category status priority reportedAt dueAt gridCell { id code name }
    department { id code nameZh } } } pageInfo { hasNextPage endCursor } } }"""
SHAPES = [
    ("case board", BOARD, {"first": 100}, DISPATCHER),
    ("near with cells", """{ facilities(where: {near: {lon: 121.48, lat: 31.23, radiusM: 800}},
        first: 300) { nodes { id code category nameZh nameEn address capacity distanceM geometry
        __typename gridCell { id code name population healthRisk __typename } } } }""", None, None),
    ("aliases and edges", f"""{{ f: facilities(where: {{bbox: {BBOX}}}, first: 50, after: "{AFTER}")
        {{ pageInfo {{ hasNextPage endCursor }} e: edges {{ c: cursor __typename
        node {{ i: id cat: category }} }} n: nodes {{ i: id cat: category }} }} }}""", None, None),
    ("cases with times", """{ cases(first: 200, statuses: [CLOSED, IN_PROGRESS]) { nodes {
        id publicId category status priority reportedAt dueAt resolvedAt closedAt geometry
        gridCell { code } } } }""", None, DISPATCHER),
    ("full cases with their timelines", """{ cases(first: 100) { nodes { id publicId
        description address source duplicateOfId events { id eventType fromStatus toStatus note
        at __typename } } } }""", None, DISPATCHER),
    ("public cases", """{ cases(first: 100) { nodes { id status reportedAt closedAt } } }""",
     None, None),
    ("cameras", """{ cameras(first: 100, statuses: [ONLINE, OFFLINE, UNKNOWN]) { nodes {
        id code name heading fov status lastSeenAt geometry } } }""", None, DISPATCHER),
    ("within a polygon", """{ facilities(first: 1000, where: {within: {geometry: {type: "Polygon",
        coordinates: [[[121.47, 31.22], [121.49, 31.22], [121.49, 31.24], [121.47, 31.22]]]}}})
        { nodes { id } } }""", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "doc", "variables", "principal"), SHAPES,
                         ids=[s[0] for s in SHAPES])  # fmt: skip
async def test_sql_rendering_matches_the_typed_path(
    pool: Any, name: str, doc: str, variables: Any, principal: Principal | None
) -> None:
    fast, typed, fast_statements, _ = await _both(pool, doc, variables, principal)
    assert fast == typed
    assert fast_statements == 1  # the page (with its cells) in one statement
    assert any(fast.values())


async def test_microseconds_render_like_python(pool: Any) -> None:
    """A case made now has sub-second times: both paths must print them the same."""
    async with pool.connection() as conn:
        made = await create_case(
            conn, actor=DISPATCHER, category="noise",
            point=LonLat(121.48, 31.23), description="", source=CaseSource.HOTLINE,
        )  # fmt: skip
    doc = """{ cases(first: 1000, statuses: [REPORTED]) { nodes { id reportedAt } } }"""
    fast, typed, _, _ = await _both(pool, doc, None, DISPATCHER)
    assert fast == typed
    mine = next(n for n in typed["cases"]["nodes"] if n["id"] == str(made.id))
    assert mine["reportedAt"] == made.reported_at.isoformat()
    assert "." in mine["reportedAt"]


async def test_the_public_record_refuses_full_fields_as_the_typed_path_does(pool: Any) -> None:
    """Anonymous callers asking for a case's description get the typed path's FORBIDDEN."""
    schema = contract_schema()
    ctx = Context(pool=pool, broker=EventBroker(""), principal=Principal(),
                  settings=GraphQLSettings(compiled_pages=True))  # fmt: skip
    result = await schema.execute("{ cases(first: 3) { nodes { id description } } }",
                                  context_value=ctx)  # fmt: skip
    assert result.errors
    assert result.errors[0].extensions["code"] == "FORBIDDEN"
    assert "description" in result.errors[0].message


async def test_shapes_it_cannot_render_take_the_typed_path(pool: Any) -> None:
    doc = """{ facilities(first: 5) { nodes { id attributes gridCell { worker { id } } } } }"""
    fast, typed, fast_statements, typed_statements = await _both(pool, doc, None, DISPATCHER)
    assert fast == typed
    assert fast_statements == typed_statements >= 2
