"""The GraphQL contract in graphql/: the exported schema is current, every operation is valid."""

from __future__ import annotations

from pathlib import Path

from graphql import parse, validate
from server.gql.export import sdl
from server.gql.schema import contract_schema
from tests.gql_helpers import OPERATIONS

CONTRACT = OPERATIONS.parent / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert CONTRACT.read_text() == sdl(), (
        "graphql/schema.graphql is stale: run `python -m server.gql.export > "
        "graphql/schema.graphql` and commit it"
    )


def test_every_operation_document_is_valid_against_the_schema() -> None:
    schema = contract_schema()._schema
    documents = sorted(Path(OPERATIONS).glob("*.graphql"))
    assert len(documents) >= 7
    for path in documents:
        errors = validate(schema, parse(path.read_text()))
        assert errors == [], f"{path.name}: {errors}"
