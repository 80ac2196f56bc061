"""The per-request GraphQL context: who is asking, the database gateway, the DataLoaders.

Every statement goes through :meth:`Context.fetch`, which also counts them: the contract tests
assert how many statements an operation takes. Every access decision asks ``geo.access``:
the layer views a caller reads (with their jurisdiction already in the row filter) and the
capabilities they hold.
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

from geo import access
from geo.access import ANONYMOUS, Capability, Principal
from geo.layers import LayerView
from geo.queries import Query, fetch
from geo.services.clock_states import SupervisionRules
from geo.services.clocks import ClockRules
from geo.services.warnings import Issuer
from geo.weather import SyntheticWeather, WeatherProvider
from server.kernel.events import EventBroker
from server.kernel.geocode_settings import GeocodeSettings
from server.kernel.read_your_writes import Reads
from server.kernel.replicas import Replica
from server.kernel.settings import GraphQLSettings, HotlineSettings
from server.kernel.warning_settings import WarningSettings
from server.kernel.webpush import Pusher


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
    #: The city's working calendar and warning share, for case clocks (ONEMAP_CLOCK_…).
    clocks: ClockRules = field(default_factory=ClockRules)
    #: When overdue cases escalate (ONEMAP_SUPERVISION_…), for the stored clocks.
    supervision: SupervisionRules = field(default_factory=SupervisionRules)
    #: Similar-case suggestions and callbacks (ONEMAP_HOTLINE_…).
    hotline: HotlineSettings = field(default_factory=HotlineSettings)
    #: How sure an address without coordinates must be (ONEMAP_GEOCODE_…).
    geocode: GeocodeSettings = field(default_factory=GeocodeSettings)
    #: Where an incident's weather comes from (ONEMAP_EMERGENCY_WEATHER_PROVIDER).
    weather: WeatherProvider = field(default_factory=SyntheticWeather)
    #: Warnings: who they come from (ONEMAP_WARNINGS_…), and their Web Push after a write.
    issuer: Issuer = field(default_factory=lambda: WarningSettings().issuer())
    pusher: Pusher | None = None
    #: Read replicas (docs/scale.md): the request's routing, and the replica a query's reads
    #: go to (set for query operations only, server/gql/replicas.py; None: the primary).
    reads: Reads | None = None
    replica: Replica | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    async def fetch[T](self, query: Query[T]) -> T:
        """A read: on the operation's replica when it has one (the primary if that fails)."""
        self.statements += 1
        if self.replica is not None and self.reads is not None:
            return await self.reads.router.fetch(self.replica, query)
        async with self.pool.connection() as conn:
            return await fetch(conn, query)

    async def write[T](self, query: Query[T]) -> T:
        """A statement that writes (an audit row of a read): always on the primary."""
        self.statements += 1
        async with self.pool.connection() as conn:
            return await fetch(conn, query)

    def loader(self, name: str) -> Any:
        """The request's DataLoader ``name`` (created on first use; see loaders.py)."""
        from server.gql.loaders import make_loader

        if name not in self._cache:
            self._cache[name] = make_loader(self, name)
        return self._cache[name]

    # -- who may see what: geo.access decides ---------------------------------------------

    def require(self, capability: Capability | None = None) -> Principal:
        """Unauthorized without a user; Forbidden without ``capability`` (when given)."""
        return access.require(self.principal, capability)

    def can(self, capability: Capability) -> bool:
        return self.principal.can(capability)

    def view(self, layer: str) -> LayerView:
        """The caller's view of ``layer`` (scoped to their jurisdiction, with the columns the
        GraphQL types read); Unauthorized or Forbidden when the layer is closed to them."""
        from server.gql.views import layer as view_of

        return view_of(self.principal, layer)


type Info = StrawberryInfo[Context, None]
