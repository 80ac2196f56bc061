"""Running GraphQL documents against the seed city, counting SQL statements."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from strawberry import Schema

from geo.access import Principal
from server.gql.context import Context
from server.kernel.events import EventBroker
from server.kernel.settings import GraphQLSettings

OPERATIONS = Path(__file__).resolve().parent.parent / "graphql" / "operations"


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


@dataclass
class Outcome:
    data: Any
    errors: list[Any]
    statements: int


async def run(
    schema: Schema,
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    operation_name: str | None = None,
) -> Outcome:
    ctx = Context(
        pool=pool,
        broker=EventBroker(""),  # never started: queries and mutations do not need it
        settings=GraphQLSettings(),
        principal=principal or Principal(),
    )
    result = await schema.execute(
        document, variable_values=variables, context_value=ctx, operation_name=operation_name
    )
    return Outcome(result.data, list(result.errors or []), ctx.statements)
