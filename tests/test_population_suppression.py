"""Small-count suppression of the population counts (docs/base-data.md, "Small counts"), over
GraphQL on the seeded test city: no published count lies between 1 and the threshold minus 1;
a building under the threshold is withheld whole; a withheld residence class never stands
alone beside its total; every shown building count is the persons counted; and a grid cell's
counts are exactly the sums of its buildings' published counts, so subtracting a cell's
buildings from the cell recovers no withheld count."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from server.kernel.settings import GraphQLSettings

Conn = psycopg.Connection[Any]
K = GraphQLSettings().population_min_count
FIELDS = ("total", "registered", "resident", "floating", "elderlyAlone", "disabled", "lowIncome")
COLUMNS = "total, registered, resident, floating, elderly_alone, disabled, low_income"
PARTITION = ("registered", "resident", "floating")
COUNTS = " ".join(FIELDS) + " suppressed suppressedFields partialFields"


@pytest.fixture(scope="module")
def db(database_url: str) -> Any:
    with psycopg.connect(database_url) as conn:
        yield conn


@pytest.fixture(scope="module")
def analyst(tokens: TokenService) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.issue_access(9002, ["analyst"])}


def gql(client: TestClient, query: str, headers: dict[str, str]) -> Any:
    r = client.post("/graphql", json={"query": query}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


def building(client: TestClient, headers: dict[str, str], building_id: int) -> dict[str, Any]:
    found: dict[str, Any] = gql(
        client, f"{{ populationOfBuilding(id: {building_id}) {{ {COUNTS} }} }}", headers
    )["populationOfBuilding"]
    return found


def stored(db: Conn, building_id: int) -> dict[str, int]:
    row = db.execute(
        f"SELECT {COLUMNS} FROM building_population WHERE building_id = %s",
        (building_id,),
    ).fetchone()
    assert row is not None
    return dict(zip(FIELDS, row, strict=True))


def test_the_threshold_is_five_by_default() -> None:
    assert K == 5


def test_a_small_building_is_withheld_whole(
    client: TestClient, analyst: dict[str, str], db: Conn
) -> None:
    row = db.execute(
        "SELECT building_id FROM building_population WHERE total BETWEEN 1 AND %s "
        "ORDER BY building_id LIMIT 1",
        (K - 1,),
    ).fetchone()
    assert row is not None, "the test city has no building with a handful of residents"
    shown = building(client, analyst, row[0])
    assert all(shown[f] is None for f in FIELDS), shown
    assert shown["suppressed"] is True and shown["suppressedFields"] == list(FIELDS)


def test_a_small_residence_class_and_its_complement_are_withheld(
    client: TestClient, analyst: dict[str, str], db: Conn
) -> None:
    # a building of K or more persons with exactly one residence class between 1 and K-1
    row = db.execute(
        "SELECT building_id FROM building_population WHERE total >= %(k)s AND "
        "((registered BETWEEN 1 AND %(k)s - 1)::int + (resident BETWEEN 1 AND %(k)s - 1)::int "
        "+ (floating BETWEEN 1 AND %(k)s - 1)::int) = 1 ORDER BY building_id LIMIT 1",
        {"k": K},
    ).fetchone()
    assert row is not None, "no building has one small residence class"
    counted = stored(db, row[0])
    shown = building(client, analyst, row[0])
    small = next(p for p in PARTITION if 0 < counted[p] < K)
    assert shown["total"] == counted["total"] and shown[small] is None
    hidden = [p for p in PARTITION if shown[p] is None]
    assert len(hidden) == 2, shown  # else total minus the other two gives it back
    (complement,) = set(hidden) - {small}
    assert counted[complement] == min(counted[p] for p in PARTITION if p != small)
    assert set(shown["suppressedFields"]) >= set(hidden) and shown["suppressed"] is True


def test_no_small_count_is_published_and_cells_add_up_to_their_buildings(
    client: TestClient, analyst: dict[str, str], db: Conn
) -> None:
    # the cells within 1 km of the building with the most persons, and each of their buildings
    lon, lat = db.execute(
        "SELECT ST_X(ST_Centroid(b.geom)), ST_Y(ST_Centroid(b.geom)) FROM buildings b "
        "JOIN building_population n ON n.building_id = b.id ORDER BY n.total DESC, b.id LIMIT 1"
    ).fetchone() or (None, None)
    cells = gql(
        client,
        f"{{ populationByCell(near: {{lon: {lon!r}, lat: {lat!r}, radiusM: 1000}}) "
        f"{{ id {COUNTS} }} }}",
        analyst,
    )["populationByCell"]
    assert len(cells) > 5
    withheld = exact = 0
    for cell in cells:
        ids = [
            r[0]
            for r in db.execute(
                "SELECT building_id FROM building_population WHERE grid_cell_id = %s",
                (int(cell["id"]),),
            )
        ]
        parts = [building(client, analyst, b) for b in ids]
        for b, shown in zip(ids, parts, strict=True):
            counted = stored(db, b)
            for f in FIELDS:
                v = shown[f]
                assert v is None or v == counted[f], (b, f, shown, counted)
                assert v is None or not 0 < v < K, (b, f, v)
            assert sum(shown[p] is None for p in PARTITION) != 1, (b, shown)
            withheld += shown["suppressed"]
            exact += not shown["suppressed"]
        for f in FIELDS:
            # the cell is the sum of what its buildings publish: subtracting them leaves 0
            total = sum(p[f] or 0 for p in parts)
            left_out = any(p[f] is None for p in parts)
            if left_out and total == 0:
                assert cell[f] is None and f in cell["suppressedFields"], (cell, f)
            else:
                assert cell[f] == total, (cell, f, total)
                assert (f in cell["partialFields"]) == left_out, (cell, f)
            assert cell[f] is None or not 0 < cell[f] < K
    assert withheld and exact, (withheld, exact)  # both kinds of building were seen


def oracle(counts: dict[str, int], k: int) -> dict[str, int | None]:
    """The rule of geo/population_disclosure.py written out in Python, one building at a time:
    the threshold on each count, the whole record under it, and the smaller other residence
    class (the earlier on a tie) beside a lone withheld one."""
    if 0 < counts["total"] < k:
        return dict.fromkeys(counts)
    withheld = {f for f, v in counts.items() if 0 < v < k}
    alone = [p for p in PARTITION if p in withheld]
    if len(alone) == 1:
        others = [p for p in PARTITION if p not in withheld]
        withheld.add(min(others, key=lambda p: (counts[p], PARTITION.index(p))))
    return {f: None if f in withheld else v for f, v in counts.items()}


@pytest.mark.parametrize("k", [K, 3, 10])
def test_the_statement_publishes_what_the_rule_says_for_every_building(db: Conn, k: int) -> None:
    """Every building of the city with its counts (every pattern of small classes the seed
    made), at the default threshold and two others: the statement's answer is the oracle's."""
    from geo.queries import fetch_sync
    from geo.queries.base_data import population_of_building

    rows = db.execute(
        f"SELECT building_id, {COLUMNS} FROM building_population ORDER BY building_id"
    ).fetchall()
    assert len(rows) > 1000
    kinds = set()
    for building_id, *values in rows:
        raw = dict(zip(FIELDS, values, strict=True))
        expected = oracle({_snake(f): v for f, v in raw.items()}, k)
        found = fetch_sync(db, population_of_building(building_id, k))[0]
        assert found.counts == expected, (building_id, raw)
        assert set(found.suppressed) == {f for f, v in expected.items() if v is None}
        kinds.add(tuple(sorted(found.suppressed)))
    # the city holds whole withheld records, lone-class complements and clean ones alike
    assert len(kinds) >= 4, kinds


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
