"""The layer catalogue in GraphQL (docs/catalogue.md): the registered department layers with
their metadata, a generic read of any layer's features as GeoJSON (bbox, CQL2 filter, keyset
pages), and the catalogue managers' mutations (MANAGE_CATALOGUE).

Reads go through the caller's views (``geo.access.views_for``): a layer closed to the caller
is absent from ``catalogueLayers`` and answers UNAUTHENTICATED / FORBIDDEN by name. Reads of
internal and restricted views are written to the audit trail, as OGC's are."""

from __future__ import annotations

import json
from typing import Any

import strawberry
from strawberry.scalars import JSON

from geo import access, catalogue
from geo.catalogue import CatalogueLayer as Registered
from geo.errors import InvalidInput
from geo.params import BBox
from geo.queries import ogc_items
from geo.queries.ogc_filter import to_sql
from geo.services import audit
from geo.services import catalogue as service
from server.gql.context import Info
from server.gql.inputs import BBoxInput
from server.gql.scalars import GeoJSON


@strawberry.type(description="A published property of a layer and its JSON type (string, "
                 "integer, number, boolean, datetime or object).")  # fmt: skip
class LayerProperty:
    name: str
    type: str


@strawberry.type(description="A department layer of the catalogue with its metadata.")
class CatalogueLayer:
    id: strawberry.ID = strawberry.field(description="The layer's name: its OGC collection id.")
    title: str
    description: str
    owner: str = strawberry.field(description="The owner department's code.")
    owner_name: str = strawberry.field(description="The owner department's name.")
    data_class: str = strawberry.field(description="public, internal or restricted.")
    update_frequency: str
    licence: str
    keywords: list[str]
    geometry_type: str = strawberry.field(description="Point, LineString, MultiPolygon …")
    properties: list[LayerProperty]

    @classmethod
    def of(cls, r: Registered) -> CatalogueLayer:
        return cls(
            id=strawberry.ID(r.name), title=r.title, description=r.description, owner=r.owner,
            owner_name=r.owner_name, data_class=r.data_class,
            update_frequency=r.update_frequency, licence=r.licence, keywords=list(r.keywords),
            geometry_type=r.view.geometry_type,
            properties=[LayerProperty(name=n, type=t) for n, t in r.view.column_types],
        )  # fmt: skip


@strawberry.type(description="A GeoJSON feature of a layer.")
class LayerFeature:
    id: strawberry.ID
    properties: JSON
    geometry: GeoJSON | None


@strawberry.type(description="One page of a layer's features, in id order.")
class LayerFeaturePage:
    features: list[LayerFeature]
    number_matched: int | None = strawberry.field(
        description="How many features match in all, when known exactly (a first page counts "
        "up to 10,000; later pages do not count)."
    )
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page (null: no features on this page)."
    )
    has_next_page: bool


@strawberry.input(description="A layer to register: a PostGIS table or view and its metadata.")
class RegisterLayerInput:
    name: str = strawberry.field(description="The layer's name (its OGC collection id).")
    relation: str = strawberry.field(description="schema.table, or a table of the public schema.")
    title: str
    owner: str = strawberry.field(description="The owner department's code.")
    data_class: str = strawberry.field(description="public, internal or restricted.")
    licence: str
    update_frequency: str = "irregular"
    description: str = ""
    keywords: list[str] = strawberry.field(default_factory=list)
    id_column: str | None = None
    geometry_column: str | None = None
    columns: list[str] | None = None
    title_field: str | None = None


@strawberry.input(description="Metadata to change (fields left out stay as they are).")
class UpdateLayerInput:
    title: str | None = None
    description: str | None = None
    owner: str | None = None
    data_class: str | None = None
    update_frequency: str | None = None
    licence: str | None = None
    keywords: list[str] | None = None
    title_field: str | None = None


def _registered(info: Info) -> list[Registered]:
    """The catalogue layers the caller may read, in registration order."""
    views = access.views_for(info.context.principal)
    return [r for name, r in catalogue.current().layers.items() if name in views]


def _cursor(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isascii() or not after.isdigit() or len(after) > 18:
        raise InvalidInput("after must be an endCursor of a previous page.", field="after")
    return int(after)


@strawberry.type
class CatalogueQuery:
    @strawberry.field(description="The catalogue's department layers you may read, with their "
                      "metadata (docs/catalogue.md).")  # fmt: skip
    def catalogue_layers(self, info: Info) -> list[CatalogueLayer]:
        return [CatalogueLayer.of(r) for r in _registered(info)]

    @strawberry.field(description="One catalogue layer by id (null: no such layer); "
                      "UNAUTHENTICATED / FORBIDDEN when its class is closed to you.")  # fmt: skip
    def catalogue_layer(self, info: Info, id: strawberry.ID) -> CatalogueLayer | None:
        found = catalogue.layer(str(id))
        if found is None or access.view_for(info.context.principal, str(id)) is None:
            return None
        return CatalogueLayer.of(found)

    @strawberry.field(description="A page of any layer's features as GeoJSON (a catalogue "
                      "layer or a built-in one, in your view of it): within `bbox`, matching a "
                      "CQL2 text `filter` (as OGC API Features' filter), in id order after "
                      "`after`. Reads of internal and restricted layers are audited.")  # fmt: skip
    async def layer_features(
        self, info: Info, layer: strawberry.ID, bbox: BBoxInput | None = None,
        filter: str | None = None, first: int = 100, after: str | None = None,
    ) -> LayerFeaturePage:  # fmt: skip
        settings = info.context.settings
        if not 1 <= first <= settings.max_first:
            raise InvalidInput(f"first is 1 to {settings.max_first}.", field="first")
        principal = info.context.principal
        view = access.view_for(principal, str(layer))
        if view is None:
            raise InvalidInput(f"there is no layer {str(layer)!r}.", field="layer")
        box = BBox(bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat) if bbox else None
        predicate = to_sql(view, filter, "cql2-text") if filter else None
        query = ogc_items.ItemQuery(
            view, bbox=box, cql=predicate, limit=first, after_id=_cursor(after)
        )
        if view.internal:  # audited before any feature leaves, as OGC reads are
            async with info.context.pool.connection() as conn:
                info.context.statements += 1
                await audit.record_many(conn, [audit.Entry(
                    principal.user_id, principal.audit_role, "graphql.layer.read", view.name,
                    None, audit.REQUEST_CLIENT.get(),
                    {"surface": "graphql", "bbox": _box(box), "filter": (filter or "")[:2000],
                     "first": first, "after": after},
                )])  # fmt: skip
        page = await info.context.fetch(ogc_items.items(query))
        features: list[dict[str, Any]] = json.loads(page.features)
        return LayerFeaturePage(
            features=[
                LayerFeature(id=strawberry.ID(str(f["id"])), properties=JSON(f["properties"]),
                             geometry=GeoJSON(f["geometry"]) if f.get("geometry") else None)
                for f in features
            ],
            number_matched=page.matched,
            end_cursor=None if page.last_id is None else str(page.last_id),
            has_next_page=page.returned == first,
        )  # fmt: skip


def _box(box: BBox | None) -> list[float] | None:
    return None if box is None else [box.minx, box.miny, box.maxx, box.maxy]


@strawberry.type
class CatalogueMutation:
    @strawberry.mutation(description="Register a PostGIS table or view as a department layer "
                         "(MANAGE_CATALOGUE): published at once through OGC, tiles and "
                         "GraphQL.")  # fmt: skip
    async def register_layer(self, info: Info, input: RegisterLayerInput) -> CatalogueLayer:
        spec = service.LayerSpec(
            name=input.name, relation=input.relation, title=input.title, owner=input.owner,
            data_class=input.data_class, licence=input.licence,
            update_frequency=input.update_frequency, description=input.description,
            keywords=tuple(input.keywords), id_column=input.id_column,
            geometry_column=input.geometry_column,
            columns=tuple(input.columns) if input.columns is not None else None,
            title_field=input.title_field,
        )  # fmt: skip
        return await _write(info, lambda conn: service.register(conn, info.context.principal,
                                                                spec))  # fmt: skip

    @strawberry.mutation(description="Change a catalogue layer's metadata (MANAGE_CATALOGUE).")
    async def update_layer(
        self, info: Info, id: strawberry.ID, input: UpdateLayerInput
    ) -> CatalogueLayer:
        change = service.MetadataChange(
            title=input.title, description=input.description, owner=input.owner,
            data_class=input.data_class, update_frequency=input.update_frequency,
            licence=input.licence,
            keywords=tuple(input.keywords) if input.keywords is not None else None,
            title_field=input.title_field,
        )  # fmt: skip
        return await _write(info, lambda conn: service.update(conn, info.context.principal,
                                                              str(id), change))  # fmt: skip

    @strawberry.mutation(description="Remove a layer from the catalogue (MANAGE_CATALOGUE); "
                         "its table stays. Returns its id.")  # fmt: skip
    async def unregister_layer(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        access.manages_catalogue(info.context.principal)
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            await service.unregister(conn, info.context.principal, str(id))
            await service.reload(conn)
        return id


async def _write(info: Info, work: Any) -> CatalogueLayer:
    """A catalogue write, then this process's registry reloaded at once (the others hear the
    notice): the answer shows the layer as every surface now publishes it."""
    access.manages_catalogue(info.context.principal)
    async with info.context.pool.connection() as conn:
        info.context.statements += 1
        name = await work(conn)
        await service.reload(conn)
    found = catalogue.layer(name)
    assert found is not None
    return CatalogueLayer.of(found)
