"""The schema, assembled once per app with its limits built once (strawberry issue 4635)."""

from __future__ import annotations

import asyncio

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql import GraphQLError
from server.gql import compiled
from server.gql.base_data import BaseDataQuery
from server.gql.catalogue import CatalogueMutation, CatalogueQuery
from server.gql.collaboration import CollaborationMutation
from server.gql.cost import CostLimiter
from server.gql.errors import DomainErrorCodes, should_mask_error
from server.gql.geocode import GeocodeQuery
from server.gql.hotline import HotlineMutation, HotlineQuery
from server.gql.incidents import IncidentMutation, IncidentQuery, IncidentSubscription
from server.gql.mutations import Mutation as CaseMutation
from server.gql.plans import PlanMutation, PlanQuery
from server.gql.plots import PlotMutation, PlotQuery
from server.gql.queries import Query as MapQuery
from server.gql.replay import ReplayQuery
from server.gql.replicas import ReadRouting
from server.gql.roads import RoadMutation, RoadQuery
from server.gql.scalars import GEOJSON_SCALAR, GeoJSON
from server.gql.sensors import SensorMutation, SensorQuery, SensorSubscription
from server.gql.subscriptions import Subscription as CaseSubscription
from server.gql.supervision import (
    SupervisionMutation,
    SupervisionQuery,
    SupervisionSubscription,
)
from server.gql.warnings import WarningMutation, WarningQuery
from server.kernel.settings import GraphQLSettings


@strawberry.type
class Query(
    MapQuery, SupervisionQuery, HotlineQuery, SensorQuery, PlanQuery, IncidentQuery, WarningQuery,
    RoadQuery, PlotQuery, ReplayQuery, GeocodeQuery, BaseDataQuery, CatalogueQuery,
):  # fmt: skip
    """The map, the cases, the supervision of their time limits, the hotline's lists, the
    sensors' alarms, the emergency plans and incidents, the warnings, the roads with routing,
    plots and the replay, geocoding, the base data (buildings, organisations, population),
    the layer catalogue."""


@strawberry.type
class Mutation(
    CaseMutation, SupervisionMutation, CollaborationMutation, HotlineMutation, SensorMutation,
    PlanMutation, IncidentMutation, WarningMutation, RoadMutation, PlotMutation,
    CatalogueMutation,
):  # fmt: skip
    """The case workflow, supervision (督办), collaboration, the hotline, sensor rules, plans
    and incidents, warnings (预警发布), road conditions (路况), shared plotting (指挥标绘), the
    layer catalogue."""


@strawberry.type
class Subscription(
    CaseSubscription, SupervisionSubscription, SensorSubscription, IncidentSubscription
):
    """Case events, camera status, staff notifications, sensor alarms, incident timelines."""


class OneMapSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only what is unexpected: refusals and bad input are answers, not incidents."""
        unexpected = [e for e in errors if should_mask_error(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def make_schema(settings: GraphQLSettings) -> strawberry.Schema:
    # Built once: a rule factory per request would defeat graphql-core's validation cache.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    slots = asyncio.Semaphore(settings.heavy_concurrency)  # heavy operations at once
    return OneMapSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={GeoJSON: GEOJSON_SCALAR}),
        execution_context_class=compiled.ExecutionContext,
        extensions=[
            lambda: ParserCache(maxsize=512),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=512),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: CostLimiter(settings=settings, slots=slots),
            ReadRouting,  # queries read from a replica within the lag bound (docs/scale.md)
            DomainErrorCodes,
            lambda: MaskErrors(should_mask_error=should_mask_error),
        ],
    )


#: The schema the contract (graphql/schema.graphql) is exported from.
def contract_schema() -> strawberry.Schema:
    return make_schema(GraphQLSettings())
