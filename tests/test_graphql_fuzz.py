"""schemathesis against /graphql on a running server: generated queries and mutations (with a
generator for the GeoJSON scalar) never produce a server error or a masked internal error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

import graphql
from server.kernel.auth.tokens import TokenService
from tests.running_server import running_server


def _field(name: str, value: graphql.ValueNode) -> graphql.ObjectFieldNode:
    return graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)


lon = st.floats(min_value=121.3, max_value=121.7) | st.floats(allow_nan=False, width=32)
lat = st.floats(min_value=31.1, max_value=31.4) | st.floats(allow_nan=False, width=32)
position = st.tuples(lon, lat).map(lambda p: nodes.List([nodes.Float(p[0]), nodes.Float(p[1])]))


def _geometry(kind: str, coords: st.SearchStrategy[graphql.ValueNode]) -> Any:
    return coords.map(lambda c: nodes.Object([_field("type", nodes.String(kind)),
                                              _field("coordinates", c)]))  # fmt: skip


# Valid-looking and broken geometries alike: the server must answer both without a 500.
GEOJSON = st.one_of(
    _geometry("Point", position),
    _geometry("LineString", st.lists(position, min_size=0, max_size=5).map(nodes.List)),
    _geometry("Polygon", st.lists(st.lists(position, min_size=0, max_size=6).map(nodes.List),
                                  min_size=0, max_size=2).map(nodes.List)),
    _geometry("Hexagon", position),
    st.just(nodes.String("not geojson")),
)  # fmt: skip
schemathesis.graphql.scalar("GeoJSON", GEOJSON)


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


def test_no_server_errors(server: str, tokens: TokenService) -> None:
    """Every root field, queries and mutations, with generated arguments, as a dispatcher."""
    schema = schemathesis.graphql.from_url(f"{server}/graphql")
    token = tokens.issue_access(6, ["dispatcher"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    answered: list[bool] = []  # did the server return data (not only errors)?

    @given(data=st.data())
    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy())
        response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code < 500, response.text
        answered.append(bool(response.json().get("data")))
        for error in response.json().get("errors") or []:
            assert error["message"] != "Unexpected error.", (case.body, error)

    check()
    # Not just a parade of refusals: a good share of the generated operations ran for real.
    assert sum(answered) >= len(answered) // 4
