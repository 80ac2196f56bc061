"""The layer catalogue's one writer: register, update and unregister department layers, and
load the registry (docs/catalogue.md).

Registration validates the relation against the database catalog — it exists, the server may
read it, it has exactly one geometry column (or the one named) of one geometry type with an
SRID, and a unique integer id column — and introspects its columns. Every identifier stored
(schema, table, id, geometry and property columns) is the catalog's own spelling, never the
caller's text; the read builders quote them (``psycopg.sql.Identifier``). A bad registration
is an :class:`~geo.errors.InvalidInput` naming what to fix (a 4xx on every surface, one line
from the CLI), and nothing is written.

Each change is one transaction: the row, an audit row, and ``NOTIFY onemap_catalogue`` — every
server process reloads its registry (``geo.catalogue``) when it commits.

The same validation serves the command line and GraphQL (async, :func:`register`) and the demo
seed (sync, :func:`register_sync`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import AsyncConnection, Connection
from psycopg.types.json import Jsonb

from geo import access, catalogue
from geo.access import Principal
from geo.catalogue import DATA_CLASSES, FREQUENCIES, CatalogueLayer, Registry
from geo.errors import InvalidInput, NotFound
from geo.layers import INTERNAL_VIEWS, PUBLIC_VIEWS, LayerView
from geo.queries import catalogue as q
from geo.queries import fetch, fetch_sync
from geo.services import audit

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
#: GeoJSON names of the geometry types a layer may have.
GEOMETRY_TYPES = {
    "POINT": "Point", "MULTIPOINT": "MultiPoint", "LINESTRING": "LineString",
    "MULTILINESTRING": "MultiLineString", "POLYGON": "Polygon", "MULTIPOLYGON": "MultiPolygon",
}  # fmt: skip
_INTEGERS = {"int2", "int4", "int8"}
_NUMBERS = {"float4", "float8", "numeric"}
_TEXT = {"text", "varchar", "bpchar", "name"}
#: Published as text (cast in the layer's relation, so filters compare text with text).
_AS_TEXT = {"date", "timestamp", "time", "timetz", "uuid", "interval", "inet", "cidr", "citext"}
MAX_KEYWORDS = 20


@dataclass(frozen=True)
class LayerSpec:
    """What a registration asks for (CLI options, GraphQL input)."""

    name: str
    relation: str  # "schema.table" or "table" (schema public)
    title: str
    owner: str  # department code
    data_class: str
    licence: str
    update_frequency: str = "irregular"
    description: str = ""
    keywords: tuple[str, ...] = ()
    id_column: str | None = None
    geometry_column: str | None = None
    columns: tuple[str, ...] | None = None  # None: every column of a supported type
    title_field: str | None = None


@dataclass(frozen=True)
class MetadataChange:
    """What an update may change (None: unchanged)."""

    title: str | None = None
    description: str | None = None
    owner: str | None = None
    data_class: str | None = None
    update_frequency: str | None = None
    licence: str | None = None
    keywords: tuple[str, ...] | None = None
    title_field: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def json_type(attribute: q.Attribute) -> str | None:
    """The JSON type a column is published as (None: not published — arrays, binary,
    geometries and the like)."""
    t = attribute.type_name
    if t in _INTEGERS:
        return "integer"
    if t in _NUMBERS:
        return "number"
    if t == "bool":
        return "boolean"
    if t == "timestamptz":
        return "datetime"
    if t in ("json", "jsonb"):
        return "object"
    if t in _TEXT or t in _AS_TEXT or attribute.category == "E":
        return "string"
    return None


def split_relation(text: str) -> tuple[str, str]:
    """``schema.table`` → (schema, table); a bare name is in ``public``. Both are compared
    with the catalog's names as values, so a name that is not there is simply not found."""
    text = text.strip()
    if not text or "\x00" in text or len(text) > 200:
        raise InvalidInput("relation must be a table or view name, as schema.table or table.")
    schema, _, table = text.rpartition(".")
    return (schema or "public"), table


def _check_metadata(title: str, data_class: str, frequency: str, licence: str,
                    keywords: Sequence[str]) -> None:  # fmt: skip
    if not title.strip() or len(title) > 200:
        raise InvalidInput("title must be 1 to 200 characters.")
    if data_class not in DATA_CLASSES:
        raise InvalidInput(f"data class must be one of {', '.join(DATA_CLASSES)}, "
                           f"not {data_class!r}.")  # fmt: skip
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"update frequency must be one of {', '.join(FREQUENCIES)}, "
                           f"not {frequency!r}.")  # fmt: skip
    if not licence.strip() or len(licence) > 200:
        raise InvalidInput("licence must be 1 to 200 characters (e.g. CC-BY-4.0, internal use).")
    if len(keywords) > MAX_KEYWORDS or any(not k.strip() or len(k) > 64 for k in keywords):
        raise InvalidInput(f"keywords: at most {MAX_KEYWORDS}, each 1 to 64 characters.")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidInput(
            f"layer name {name!r} must be 2 to 63 characters: a lower-case letter, then "
            "lower-case letters, digits or _ (it is the collection id in /ogc)."
        )
    if name in PUBLIC_VIEWS or name in INTERNAL_VIEWS:
        raise InvalidInput(f"{name!r} is a built-in layer of the one map; choose another name.")


def _geometry(spec: LayerSpec, rel: q.Relation) -> q.GeometryColumn:
    where = f"{rel.schema}.{rel.name}"
    if not rel.geometries:
        raise InvalidInput(f"{where} has no PostGIS geometry column.")
    if spec.geometry_column is not None:
        found = [g for g in rel.geometries if g.name == spec.geometry_column]
        if not found:
            known = ", ".join(g.name for g in rel.geometries)
            raise InvalidInput(f"{where} has no geometry column {spec.geometry_column!r}; "
                               f"it has {known}.")  # fmt: skip
        geom = found[0]
    elif len(rel.geometries) > 1:
        known = ", ".join(g.name for g in rel.geometries)
        raise InvalidInput(f"{where} has several geometry columns ({known}): name one "
                           "(--geometry-column).")  # fmt: skip
    else:
        geom = rel.geometries[0]
    if geom.srid <= 0:
        raise InvalidInput(
            f"{where}.{geom.name} has no SRID: declare one, e.g. geometry(MultiPolygon, 4326), "
            "or ST_SetSRID(…)::geometry(MultiPolygon, 4326) in the view."
        )
    if geom.type not in GEOMETRY_TYPES:
        raise InvalidInput(
            f"{where}.{geom.name} is of type {geom.type}: a layer holds one geometry type "
            f"(one of {', '.join(GEOMETRY_TYPES.values())}); constrain the column."
        )
    return geom


def _id_column(spec: LayerSpec, rel: q.Relation, types: dict[str, str]) -> tuple[str, bool]:
    """(the id column, whether an index vouches for its uniqueness)."""
    where = f"{rel.schema}.{rel.name}"
    integers = [a.name for a in rel.attributes if a.type_name in _INTEGERS]
    if spec.id_column is not None:
        if spec.id_column not in types:
            raise InvalidInput(f"{where} has no column {spec.id_column!r}.")
        if spec.id_column not in integers:
            raise InvalidInput(f"{where}.{spec.id_column} must be an integer column to be the "
                               "features' id (OGC item ids and paging need it).")  # fmt: skip
        return spec.id_column, spec.id_column in rel.unique_columns
    unique = [c for c in integers if c in rel.unique_columns]
    if "id" in unique or ("id" in integers and rel.kind in ("v", "m", "f")):
        return "id", "id" in unique
    if len(unique) == 1:
        return unique[0], True
    raise InvalidInput(
        f"{where} has no unique integer id column to use: add a PRIMARY KEY (or a unique "
        "index) on an integer column, or name the column (--id-column)."
    )


def validated(spec: LayerSpec, rel: q.Relation | None) -> tuple[dict[str, Any], bool]:
    """The row to store for ``spec`` over ``rel`` (its catalog entry), and whether the id
    column's uniqueness still needs counting (a view's). InvalidInput names what to fix."""
    _check_name(spec.name)
    _check_metadata(spec.title, spec.data_class, spec.update_frequency, spec.licence,
                    spec.keywords)  # fmt: skip
    schema, table = split_relation(spec.relation)
    if rel is None:
        raise InvalidInput(
            f"there is no table or view {schema}.{table} in the database "
            "(names are compared exactly as stored, usually lower case)."
        )
    where = f"{rel.schema}.{rel.name}"
    if not rel.readable:
        raise InvalidInput(
            f"the server's database role cannot read {where}: "
            f'GRANT SELECT ON "{rel.schema}"."{rel.name}" TO the app role (onemap_app).'
        )
    geom = _geometry(spec, rel)
    types = {a.name: a.type_name for a in rel.attributes}
    id_column, indexed = _id_column(spec, rel, types)
    publishable: dict[str, tuple[str, bool]] = {}
    for a in rel.attributes:
        kind = json_type(a)
        if kind is None or a.name in (id_column, geom.name, "id", "geom"):
            continue
        publishable[a.name] = (kind, a.type_name in _AS_TEXT or a.category == "E")
    if spec.columns is not None:
        unknown = [c for c in spec.columns if c not in publishable]
        if unknown:
            raise InvalidInput(f"{where} has no publishable column {', '.join(unknown)}; "
                               f"it has {', '.join(publishable) or 'none'}.")  # fmt: skip
        chosen = list(dict.fromkeys(spec.columns))
    else:
        chosen = list(publishable)
    title_field = spec.title_field
    if title_field is not None and (title_field not in chosen or publishable[title_field][0]
                                    != "string"):  # fmt: skip
        raise InvalidInput(f"title field {title_field!r} must be a published text column.")
    if title_field is None:
        title_field = next((c for c in chosen if publishable[c][0] == "string"), None)
    row = {
        "name": spec.name, "title": spec.title.strip(), "description": spec.description.strip(),
        "data_class": spec.data_class, "update_frequency": spec.update_frequency,
        "licence": spec.licence.strip(), "keywords": [k.strip() for k in spec.keywords],
        "schema_name": rel.schema, "table_name": rel.name, "id_column": id_column,
        "geometry_column": geom.name, "geometry_type": GEOMETRY_TYPES[geom.type],
        "srid": geom.srid,
        "columns": Jsonb([[c, publishable[c][0], publishable[c][1]] for c in chosen]),
        "title_field": title_field,
    }  # fmt: skip
    return row, not indexed


_INSERT = """
INSERT INTO catalogue_layers (name, title, description, owner_department_id, data_class,
    update_frequency, licence, keywords, schema_name, table_name, id_column, geometry_column,
    geometry_type, srid, columns, title_field, registered_by)
VALUES (%(name)s, %(title)s, %(description)s, %(owner_id)s, %(data_class)s, %(update_frequency)s,
    %(licence)s, %(keywords)s, %(schema_name)s, %(table_name)s, %(id_column)s,
    %(geometry_column)s, %(geometry_type)s, %(srid)s, %(columns)s, %(title_field)s,
    (SELECT id FROM users WHERE id = %(by)s::bigint))
ON CONFLICT DO NOTHING
"""
_NOTIFY = "SELECT pg_notify('onemap_catalogue', json_build_object('layer', %(name)s::text)::text)"


def _duplicate(spec: LayerSpec, schema: str, table: str) -> InvalidInput:
    return InvalidInput(f"layer {spec.name!r} or the relation {schema}.{table} is already "
                        "registered (onemap layers list; update or unregister it).")  # fmt: skip


def _audit_entry(
    principal: Principal, action: str, name: str, detail: dict[str, Any]
) -> audit.Entry:
    return audit.Entry(principal.user_id, principal.audit_role, action, "catalogue_layer", name,
                       audit.REQUEST_CLIENT.get(), detail)  # fmt: skip


async def _audit(
    conn: AsyncConnection[Any],
    principal: Principal,
    action: str,
    name: str,
    detail: dict[str, Any],
) -> None:
    await audit.record_many(conn, [_audit_entry(principal, action, name, detail)])


async def register(conn: AsyncConnection[Any], principal: Principal, spec: LayerSpec) -> str:
    """Register a layer (MANAGE_CATALOGUE); its name. One transaction, audited, announced."""
    access.manages_catalogue(principal)
    schema, table = split_relation(spec.relation)
    async with conn.transaction():
        rel = await fetch(conn, q.relation(schema, table))
        row, count_ids = validated(spec, rel)
        if count_ids and not await fetch(
            conn, q.distinct_ids(row["schema_name"], row["table_name"], row["id_column"])
        ):
            raise InvalidInput(f"{schema}.{table}.{row['id_column']} holds NULL or repeated "
                               "values: a layer's id must be unique.")  # fmt: skip
        owner = await fetch(conn, q.department_id(spec.owner))
        if owner is None:
            raise InvalidInput(f"no department with code {spec.owner!r} (the owner).")
        cur = await conn.execute(_INSERT, {**row, "owner_id": owner, "by": principal.user_id})
        if cur.rowcount != 1:
            raise _duplicate(spec, schema, table)
        await _audit(
            conn, principal, "catalogue.layer.register", spec.name, _summary(row, spec.owner)
        )
        await conn.execute(_NOTIFY, {"name": spec.name})
    return spec.name


def register_sync(conn: Connection[Any], principal: Principal, spec: LayerSpec) -> str:
    """:func:`register` for synchronous callers (the demo seed): the same checks and writes."""
    access.manages_catalogue(principal)
    schema, table = split_relation(spec.relation)
    with conn.transaction():
        rel = fetch_sync(conn, q.relation(schema, table))
        row, count_ids = validated(spec, rel)
        if count_ids and not fetch_sync(
            conn, q.distinct_ids(row["schema_name"], row["table_name"], row["id_column"])
        ):
            raise InvalidInput(f"{schema}.{table}.{row['id_column']} holds NULL or repeated "
                               "values: a layer's id must be unique.")  # fmt: skip
        owner = fetch_sync(conn, q.department_id(spec.owner))
        if owner is None:
            raise InvalidInput(f"no department with code {spec.owner!r} (the owner).")
        cur = conn.execute(_INSERT, {**row, "owner_id": owner, "by": principal.user_id})
        if cur.rowcount != 1:
            raise _duplicate(spec, schema, table)
        audit.record_sync(conn, _audit_entry(principal, "catalogue.layer.register", spec.name,
                                             _summary(row, spec.owner)))  # fmt: skip
        conn.execute(_NOTIFY, {"name": spec.name})
    return spec.name


def _summary(row: dict[str, Any], owner: str) -> dict[str, Any]:
    return {"relation": f"{row['schema_name']}.{row['table_name']}", "owner": owner,
            "data_class": row["data_class"], "geometry_type": row["geometry_type"]}  # fmt: skip


async def update(
    conn: AsyncConnection[Any], principal: Principal, name: str, change: MetadataChange
) -> str:
    """Change a layer's metadata (MANAGE_CATALOGUE): title, description, owner, data class,
    update frequency, licence, keywords, title field. Its relation stays (unregister and
    register again to move it)."""
    access.manages_catalogue(principal)
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT l.title, l.description, d.code, l.data_class, l.update_frequency, l.licence, "
            "l.keywords, l.title_field, l.columns FROM catalogue_layers l JOIN departments d "
            "ON d.id = l.owner_department_id WHERE l.name = %(name)s FOR UPDATE",
            {"name": name},
        )
        found = await cur.fetchone()
        if found is None:
            raise NotFound(f"no catalogue layer {name!r} (onemap layers list).")
        title, desc, owner, data_class, freq, licence, keywords, title_field, columns = found
        new: dict[str, Any] = {
            "title": change.title if change.title is not None else title,
            "description": change.description if change.description is not None else desc,
            "data_class": change.data_class or data_class,
            "update_frequency": change.update_frequency or freq,
            "licence": change.licence if change.licence is not None else licence,
            "keywords": list(change.keywords) if change.keywords is not None else keywords,
            "title_field": change.title_field if change.title_field is not None else title_field,
        }
        _check_metadata(new["title"], new["data_class"], new["update_frequency"],
                        new["licence"], new["keywords"])  # fmt: skip
        texts = {c[0] for c in columns if c[1] == "string"}
        if new["title_field"] is not None and new["title_field"] not in texts:
            raise InvalidInput(f"title field {new['title_field']!r} must be a published text "
                               "column.")  # fmt: skip
        owner_code = change.owner or owner
        owner_id = await fetch(conn, q.department_id(owner_code))
        if owner_id is None:
            raise InvalidInput(f"no department with code {owner_code!r} (the owner).")
        await conn.execute(
            "UPDATE catalogue_layers SET title = %(title)s, description = %(description)s, "
            "owner_department_id = %(owner_id)s, data_class = %(data_class)s, "
            "update_frequency = %(update_frequency)s, licence = %(licence)s, "
            "keywords = %(keywords)s, title_field = %(title_field)s, updated_at = now() "
            "WHERE name = %(name)s",
            {**new, "owner_id": owner_id, "name": name},
        )
        await _audit(conn, principal, "catalogue.layer.update", name, {**new, "owner": owner_code})
        await conn.execute(_NOTIFY, {"name": name})
    return name


async def unregister(conn: AsyncConnection[Any], principal: Principal, name: str) -> str:
    """Remove a layer from the catalogue (MANAGE_CATALOGUE); its table or view stays."""
    access.manages_catalogue(principal)
    async with conn.transaction():
        cur = await conn.execute(
            "DELETE FROM catalogue_layers WHERE name = %(name)s "
            "RETURNING schema_name || '.' || table_name",
            {"name": name},
        )
        gone = await cur.fetchone()
        if gone is None:
            raise NotFound(f"no catalogue layer {name!r} (onemap layers list).")
        await _audit(conn, principal, "catalogue.layer.unregister", name, {"relation": gone[0]})
        await conn.execute(_NOTIFY, {"name": name})
    return name


# -- the registry -----------------------------------------------------------------------------


def _layer(row: Sequence[Any]) -> CatalogueLayer:
    (name, title, description, owner, owner_name, data_class, frequency, licence, keywords,
     schema, table, id_column, geom_column, geometry_type, srid, columns, title_field,
     registered_at, updated_at, tracked) = row  # fmt: skip
    if isinstance(columns, str):
        columns = json.loads(columns)
    view = LayerView(
        name, table, geometry_type, tuple(c[0] for c in columns),
        internal=data_class != "public", schema=schema, id_column=id_column,
        geom_column=geom_column, srid=int(srid),
        column_types=tuple((c[0], c[1]) for c in columns),
        text_columns=tuple(c[0] for c in columns if len(c) > 2 and c[2]),
        # a table tracked by onemap_track_history (docs/history.md): its versions beside it
        history_table=f"{table}_history" if tracked else None,
    )  # fmt: skip
    return CatalogueLayer(
        name=name, title=title, description=description, owner=owner, owner_name=owner_name,
        data_class=data_class, update_frequency=frequency, licence=licence,
        keywords=tuple(keywords or ()), view=view, title_field=title_field,
        registered_at=registered_at or "", updated_at=updated_at or "",
    )  # fmt: skip


def _install(rows: Sequence[Sequence[Any]]) -> Registry:
    """Install the registry of ``rows`` unless it is the one installed (same rows: the same
    version, so pygeoapi's instances of it stay in use)."""
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    now = catalogue.current()
    if digest == now.digest:
        return now
    registry = Registry({r[0]: _layer(r) for r in rows}, now.version + 1, digest)
    catalogue.install(registry)
    return registry


async def reload(conn: AsyncConnection[Any]) -> Registry:
    """Read the catalogue and install it as the process's registry (start-up; each notice)."""
    try:
        rows = await fetch(conn, q.registered())
    except psycopg.errors.UndefinedTable:  # not migrated to 0030 yet: an empty catalogue
        rows = []
    return _install(rows)


def reload_sync(conn: Connection[Any]) -> Registry:
    return _install(fetch_sync(conn, q.registered()))


async def registered(conn: AsyncConnection[Any]) -> list[CatalogueLayer]:
    """The registered layers as stored (the command line's list and show)."""
    return [_layer(r) for r in await fetch(conn, q.registered())]
