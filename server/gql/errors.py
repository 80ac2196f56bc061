"""GraphQL errors: domain errors get a stable ``extensions.code``; nothing internal leaks.

Auth, validation and input errors reach the client as they are; anything unexpected is masked
as "Unexpected error." (and logged by strawberry).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from geo import errors as e
from graphql import GraphQLError
from server.gql.scalars import GeoJSONError

CODES: dict[type[e.OneMapError], str] = {
    e.OutsideCity: "OUTSIDE_CITY",
    e.InvalidInput: "BAD_USER_INPUT",
    e.Unauthorized: "UNAUTHENTICATED",
    e.Forbidden: "FORBIDDEN",
    e.NotFound: "NOT_FOUND",
    e.Conflict: "CONFLICT",
    e.Unavailable: "UNAVAILABLE",
}


def code_of(exc: e.OneMapError) -> str:
    for cls in type(exc).__mro__:
        if cls in CODES:
            return CODES[cls]
    return "BAD_USER_INPUT"


class DomainErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or []:
            original = error.original_error
            if isinstance(original, e.OneMapError):
                error.extensions = {**(error.extensions or {}), "code": code_of(original)}
            elif isinstance(original, GeoJSONError):
                error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}


def should_mask_error(error: GraphQLError) -> bool:
    original = error.original_error
    shown = original is None or isinstance(original, e.OneMapError | GraphQLError | GeoJSONError)
    return not shown


@contextlib.contextmanager
def coded_errors() -> Iterator[None]:
    """For subscription streams, whose errors bypass the operation's extensions: raise domain
    errors as GraphQL errors that carry their code."""
    try:
        yield
    except e.OneMapError as exc:
        raise GraphQLError(
            exc.message, extensions={"code": code_of(exc)}, original_error=exc
        ) from exc
