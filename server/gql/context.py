"""The per-request GraphQL context: who is asking, the database gateway, the DataLoaders.

Every statement goes through :meth:`Context.fetch`, which also counts them: the contract tests
assert how many statements an operation takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from geo.enums import Role
from geo.queries import Query, fetch
from server.kernel.auth.principal import ANONYMOUS, Principal, require
from server.kernel.events import EventBroker
from server.kernel.settings import GraphQLSettings

STAFF = frozenset(r.value for r in Role if r is not Role.CITIZEN)
FULL_CASE_ROLES = frozenset({Role.DISPATCHER.value, Role.ADMIN.value})
VIDEO_ROLES = frozenset({Role.CAMERA_VIEWER.value, Role.DISPATCHER.value, Role.ADMIN.value})


@dataclass
class Context:
    pool: AsyncConnectionPool[AsyncConnection[Any]]
    broker: EventBroker
    settings: GraphQLSettings
    principal: Principal = ANONYMOUS
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    connection_params: dict[str, Any] | None = None
    statements: int = 0
    _cache: dict[str, Any] = field(default_factory=dict)

    async def fetch[T](self, query: Query[T]) -> T:
        self.statements += 1
        async with self.pool.connection() as conn:
            return await fetch(conn, query)

    def loader(self, name: str) -> Any:
        """The request's DataLoader ``name`` (created on first use; see loaders.py)."""
        from server.gql.loaders import make_loader

        if name not in self._cache:
            self._cache[name] = make_loader(self, name)
        return self._cache[name]

    # -- who may see what ---------------------------------------------------------------

    def require(self, *roles: str) -> Principal:
        return require(self.principal, *roles)

    @property
    def is_staff(self) -> bool:
        return self.principal.has_any(STAFF)

    @property
    def sees_everything(self) -> bool:
        return self.principal.has_any(FULL_CASE_ROLES)

    @property
    def may_view_video(self) -> bool:
        return self.principal.has_any(VIDEO_ROLES)

    async def profile(self) -> tuple[int | None, frozenset[int]]:
        """The caller's department and the grid cells they are responsible for (cached)."""
        if "profile" not in self._cache:
            uid = self.principal.user_id
            if uid is None:
                self._cache["profile"] = (None, frozenset())
            else:
                row = await self.fetch(_profile_query(uid))
                self._cache["profile"] = row
        result: tuple[int | None, frozenset[int]] = self._cache["profile"]
        return result

    async def sees_case(self, row: dict[str, Any]) -> bool:
        """Full details of a case: dispatchers and admins; its reporter; the grid worker of its
        cell; staff of its department."""
        if self.sees_everything:
            return True
        uid = self.principal.user_id
        if uid is None:
            return False
        if row.get("reporter_id") == uid:
            return True
        if not self.is_staff:
            return False
        department, cells = await self.profile()
        return row.get("grid_cell_id") in cells or (
            department is not None and row.get("department_id") == department
        )


def _profile_query(user_id: int) -> Query[tuple[int | None, frozenset[int]]]:
    from psycopg import sql

    statement = sql.SQL(
        "SELECT u.department_id, coalesce(array_agg(g.id) FILTER (WHERE g.id IS NOT NULL), '{}') "
        "FROM users u LEFT JOIN grid_cells g ON g.worker_id = u.id WHERE u.id = %(uid)s "
        "GROUP BY u.department_id"
    )

    def decode(rows: Any) -> tuple[int | None, frozenset[int]]:
        if not rows:
            return (None, frozenset())
        return (rows[0][0], frozenset(rows[0][1]))

    return Query(statement, {"uid": user_id}, decode)


type Info = StrawberryInfo[Context, None]
