"""Which database a GraphQL operation reads (docs/scale.md): a query's plain reads go to a
read replica within the lag bound, unless the caller has just written (the request's
:class:`~server.kernel.read_your_writes.Reads` says); a mutation reads and writes on the
primary and marks the request as a write, so its answer carries the write's LSN. Subscriptions
stay on the primary: they follow NOTIFY events the primary sends.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from server.gql.context import Context


class ReadRouting(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context.context
        if isinstance(ctx, Context) and ctx.reads is not None:
            try:
                operation = self.execution_context.operation_type
            except RuntimeError:  # no document: nothing runs
                operation = None
            if operation is OperationType.QUERY:
                ctx.replica = ctx.reads.replica()
            elif operation is OperationType.MUTATION:
                ctx.reads.wrote = True
        yield
