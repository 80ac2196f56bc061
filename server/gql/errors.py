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
from server.kernel.errors import codes_of


def code_of(exc: e.OneMapError) -> str:
    """The GraphQL ``extensions.code`` of a domain error, from the one error table."""
    return codes_of(exc).graphql


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
