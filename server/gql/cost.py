"""What an operation will cost, estimated before it runs, and the budget each caller has.

Depth, alias and token limits bound the document; they do not bound the answer: one anonymous
``caseStats`` over every cell, category, status and day, or thirty aliases of a 1,000-row page,
each built field by field on the event loop, stalled every other request for seconds. So each
operation is priced before execution, from the document, its variables and the schema:

- every selected field costs 1 for each row it is completed for (2 with a resolver function, 10
  with an async one: :data:`ASYNC_FIELD_WEIGHT`), and a list 1 more per item it holds;
- a list multiplies what is selected under it by the rows it is expected to hold: the page size
  asked for (``first``, ``limit``; a connection's ``edges``/``nodes`` take their connection's
  ``first``), the default page size when none is given, or :data:`LIST_ROWS` for lists that
  take no size;
- fragments are priced where they are spread (each type condition as if it matched: an upper
  bound).

Over the caller's budget (anonymous, citizen, staff: :class:`GraphQLSettings`) the operation is
refused with ``QUERY_TOO_COSTLY`` and the figures, before any statement runs. Operations over
``heavy_cost`` also take one of ``heavy_concurrency`` slots of the process, so a crowd of large
(allowed) queries queues behind itself instead of in front of everyone's small ones; a caller
who waits longer than ``heavy_wait_s`` gets ``UNAVAILABLE`` with ``retryAfter``.

Fields of the full case record asked for by a caller whose case view is the public record are
refused the same way, once (``FORBIDDEN``), instead of failing on every row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from graphql.execution import ExecutionResult
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from geo.access import Principal
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast_untyped,
)
from server.gql import views
from server.kernel.settings import GraphQLSettings

#: Lists that take no size argument: the rows they hold at most (or are expected to).
LIST_ROWS: Mapping[tuple[str, str], int] = {
    ("Query", "departments"): 50,
    ("Case", "events"): 20,
    ("Incident", "gridCells"): 50,
    ("Incident", "affectedUnits"): 100,
    ("Incident", "hazards"): 100,
    ("Incident", "resources"): 20,
    ("Incident", "cameras"): 50,
    ("Incident", "openCases"): 100,
    ("StaffUser", "roles"): 3,
    # Plans and incidents: bounded by the plan (4 levels, a few measures each) and the reach.
    ("Query", "plans"): 50,
    ("Plan", "versions"): 10,
    ("PlanVersion", "levels"): 4,
    ("PlanLevel", "measures"): 10,
    ("PlanMeasure", "resources"): 3,
    ("IncidentTask", "resources"): 3,
    ("EmergencyIncident", "tasks"): 40,
    ("EmergencyIncident", "timeline"): 60,
    ("IncidentContext", "gridCells"): 50,
    ("IncidentContext", "affectedUnits"): 100,
    ("IncidentContext", "hazards"): 20,
    ("IncidentContext", "cameras"): 20,
    ("IncidentContext", "openCases"): 100,
    ("IncidentContext", "sensorAlarms"): 20,
    # per category (four, and those the measures name): a few resources, one lifeline each
    ("IncidentContext", "resources"): 30,
    ("IncidentContext", "lifelines"): 6,
    ("IncidentContext", "lifelinesNow"): 6,
    ("RouteResult", "roadNamesZh"): 20,  # a route's stretches, each road once
    ("RouteResult", "roadNamesEn"): 20,
    ("WeatherReport", "warnings"): 2,
    ("Warning", "info"): 2,  # one info block per language (zh-CN, en-US)
    ("EmergencyIncident", "warnings"): 50,  # INCIDENT_WARNINGS (server/gql/incident_types.py)
    # The base data (docs/base-data.md): a building's organisations (the seed: at most 6),
    # the cells near a point (about 50 within 1 km), a house's or building's persons.
    ("Building", "organisations"): 10,
    ("Query", "populationByCell"): 100,
    ("Query", "persons"): 50,
    ("Person", "care"): 3,
    ("PopulationCount", "suppressedFields"): 7,  # geo/population_disclosure.py FIELDS
    ("PopulationCount", "partialFields"): 7,
    # The layer catalogue (docs/catalogue.md): the registered layers (a city's departments
    # register tens), each one's keywords (at most 20) and properties (its columns).
    ("Query", "catalogueLayers"): 100,
    ("CatalogueLayer", "keywords"): 20,
    ("CatalogueLayer", "properties"): 50,
}
#: A list nothing above describes.
OTHER_LIST_ROWS = 100
SIZE_ARGUMENTS = ("first", "limit")
#: The full case record's fields (``Case._full``): a caller whose case view is the public record
#: may read none of them on any row, so asking is refused once, up front, rather than with one
#: error per row (a 277-case page of them cost 0.6 s of errors).
FULL_CASE_FIELDS = frozenset({"description", "address", "source", "assignee", "reporter",
                              "events"})  # fmt: skip
#: Root fields that answer the caller's own cases in full (a citizen's reports).
OWN_CASE_ROOTS = frozenset({"myCases"})


class Pricer:
    """Prices one operation of a document against a schema (see the module's docstring)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        settings: GraphQLSettings,
        full_cases: bool = True,
    ) -> None:
        self.schema = schema
        self.variables = dict(variables or {})
        self.settings = settings
        self.full_cases = full_cases
        #: Fields of the full case record asked for by a caller who may read none (Type.field).
        self.refused: set[str] = set()
        self._own_root = False
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def operation(self, document: DocumentNode, operation_name: str | None) -> int:
        op = get_operation_ast(document, operation_name)
        if op is None:
            return 0
        root = self.schema.get_root_type(op.operation)
        if root is None:
            return 0
        total = 0
        for node in op.selection_set.selections:
            self._own_root = isinstance(node, FieldNode) and node.name.value in OWN_CASE_ROOTS
            total += self._selections(
                root, SelectionSetNode(selections=(node,)), 1, None, frozenset()
            )
        return total

    def _selections(
        self,
        parent: Any,
        selection_set: SelectionSetNode,
        rows: int,
        page: int | None,
        spreading: frozenset[str],
    ) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self._field(parent, node, rows, page, spreading)
            elif isinstance(node, InlineFragmentNode):
                on = node.type_condition
                target = self.schema.get_type(on.name.value) if on else parent
                total += self._selections(target, node.selection_set, rows, page, spreading)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreading:
                    continue  # validation refuses both; nothing to price
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self._selections(
                    target, fragment.selection_set, rows, page, spreading | {name}
                )
        return total

    def _field(
        self, parent: Any, node: FieldNode, rows: int, page: int | None, spreading: frozenset[str]
    ) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return rows
        definition = fields[name]
        if (
            parent.name == "Case"
            and name in FULL_CASE_FIELDS
            and not (self.full_cases or self._own_root)
        ):
            self.refused.add(f"Case.{name}")
        size = self._size(node, definition)
        kind = definition.type
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        # The resolver runs once per parent row; a list's items are completed one by one.
        cost = rows * _weight(definition)
        inner = rows
        if isinstance(kind, GraphQLList):
            expected = size or page or LIST_ROWS.get((parent.name, name), OTHER_LIST_ROWS)
            inner = rows * expected
            cost += inner
        if node.selection_set is None:
            return cost
        named = get_named_type(definition.type)
        # A connection's lists (edges, nodes) hold the page its `first` asked for.
        child_page = (size or self.settings.default_first) if _is_connection(named) else None
        return cost + self._selections(named, node.selection_set, inner, child_page, spreading)

    def _size(self, node: FieldNode, definition: Any) -> int | None:
        """The rows a size argument asks for: given, or the argument's default."""
        most = max(self.settings.max_first, self.settings.max_stats_buckets)
        given = {a.name.value: a for a in node.arguments or ()}
        for name in SIZE_ARGUMENTS:
            if name in given:
                value = value_from_ast_untyped(given[name].value, self.variables)
            elif name in definition.args:
                value = definition.args[name].default_value
            else:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return min(value, most)
        return None


#: What completing a field costs, relative to a plain attribute: a coroutine per row (an async
#: resolver: loaders, checks) costs about ten plain ones, a plain function two (measured roughly:
#: bench/reliability/storm.py; a heavier weight did not shorten the staff storm's tail).
ASYNC_FIELD_WEIGHT = 10
RESOLVER_FIELD_WEIGHT = 2


def _weight(definition: Any) -> int:
    field = (definition.extensions or {}).get("strawberry-definition")
    if field is None or field.base_resolver is None:
        return 1
    return ASYNC_FIELD_WEIGHT if field.is_async else RESOLVER_FIELD_WEIGHT


def _is_connection(named: Any) -> bool:
    """A page type whose lists hold the page its field's ``first`` asked for: a connection
    (edges, pageInfo), or a page of layer features (LayerFeaturePage: features, endCursor)."""
    if not isinstance(named, GraphQLObjectType):
        return False
    fields = set(named.fields)
    return {"edges", "pageInfo"} <= fields or {"features", "endCursor"} <= fields


def budget_of(principal: Principal, settings: GraphQLSettings) -> int:
    """The most an operation of this caller may cost (by principal class)."""
    if principal.user_id is None:
        return settings.cost_budget_anonymous
    if principal.is_staff:
        return settings.cost_budget_staff
    return settings.cost_budget_citizen


def refusal(message: str, **extensions: Any) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions=extensions)])


class CostLimiter(SchemaExtension):
    """Prices each operation before execution; refuses it over budget; queues heavy ones."""

    def __init__(self, *, settings: GraphQLSettings, slots: asyncio.Semaphore) -> None:
        self.settings = settings
        self.slots = slots

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        principal = getattr(ctx.context, "principal", None)
        if document is None or not isinstance(principal, Principal) or ctx.result is not None:
            yield
            return
        graphql_schema = ctx.schema._schema
        pricer = Pricer(graphql_schema, document, ctx.variables, self.settings,
                        full_cases=views.layer(principal, "cases").internal)  # fmt: skip
        cost = pricer.operation(document, ctx.operation_name)
        if pricer.refused:
            ctx.result = refusal(
                f"{', '.join(sorted(pricer.refused))}: the full case record is shown only to "
                "staff whose jurisdiction holds the case (READ_CASES); a citizen reads their own "
                "reports in full through myCases.", code="FORBIDDEN",
            )  # fmt: skip
            yield
            return
        budget = budget_of(principal, self.settings)
        if cost > budget:
            ctx.result = refusal(
                f"This operation would cost about {cost:,} (fields × rows) and the budget is "
                f"{budget:,}: ask for smaller pages (first/limit), fewer fields or fewer aliases.",
                code="QUERY_TOO_COSTLY", cost=cost, budget=budget,
            )  # fmt: skip
            yield
            return
        if cost <= self.settings.heavy_cost:
            yield
            return
        try:
            await asyncio.wait_for(self.slots.acquire(), self.settings.heavy_wait_s)
        except TimeoutError:
            wait = max(1, round(self.settings.heavy_wait_s))
            ctx.result = refusal(
                "The server is busy with other large queries; retry shortly.",
                code="UNAVAILABLE", retryAfter=wait,
            )  # fmt: skip
            yield
            return
        try:
            yield
        finally:
            self.slots.release()
