"""The layer catalogue's reads: what the database catalog says of a relation (to register it)
and the registered layers (to load the registry). Values are bind parameters; identifiers are
never taken from input here — a relation is looked up by its schema and name as *values*."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type_name: str  # pg_type.typname (int4, text, timestamptz, geometry …)
    category: str  # pg_type.typcategory (N numeric, S string, B boolean, D date/time …)


@dataclass(frozen=True, slots=True)
class GeometryColumn:
    name: str
    type: str  # geometry_columns.type: POINT, MULTIPOLYGON, GEOMETRY …
    srid: int


@dataclass(frozen=True, slots=True)
class Relation:
    """A table or view as the catalog has it (names exactly as stored)."""

    schema: str
    name: str
    kind: str  # r table, p partitioned, v view, m materialized view, f foreign
    readable: bool  # the current role may SELECT it
    attributes: tuple[Attribute, ...]
    geometries: tuple[GeometryColumn, ...]
    unique_columns: frozenset[str]  # single-column unique indexes (primary key included)


_RELATION = """
SELECT c.oid, n.nspname, c.relname, c.relkind::text, has_table_privilege(c.oid, 'SELECT'),
  ARRAY(SELECT json_build_array(a.attname, t.typname, t.typcategory::text) FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
  ARRAY(SELECT json_build_array(g.f_geometry_column, g.type, g.srid) FROM geometry_columns g
        WHERE g.f_table_schema = n.nspname AND g.f_table_name = c.relname
        ORDER BY g.f_geometry_column),
  ARRAY(SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
        AND a.attnum = i.indkey[0]
        WHERE i.indrelid = c.oid AND i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL
          AND i.indexprs IS NULL)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(name)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""


def relation(schema: str, name: str) -> Query[Relation | None]:
    """The relation ``schema.name`` (both values, compared with the catalog's names)."""

    def decode(rows: Rows) -> Relation | None:
        if not rows:
            return None
        _oid, nsp, rel, kind, readable, attrs, geoms, uniques = rows[0]
        return Relation(
            nsp, rel, kind, bool(readable),
            tuple(Attribute(a[0], a[1], a[2]) for a in attrs),
            tuple(GeometryColumn(g[0], str(g[1]).upper(), int(g[2])) for g in geoms),
            frozenset(uniques),
        )  # fmt: skip

    return Query(sql.SQL(_RELATION), {"schema": schema, "name": name}, decode)


def distinct_ids(schema: str, table: str, column: str) -> Query[bool]:
    """Whether ``column`` of the relation holds no NULL and no value twice (a view's id,
    which no index vouches for). The identifiers come from :func:`relation`'s answer."""
    statement = sql.SQL(
        "SELECT count(*) = count({c}) AND count({c}) = count(DISTINCT {c}) FROM {r}"
    ).format(c=sql.Identifier(column), r=sql.Identifier(schema, table))
    return Query(statement, {}, lambda rows: bool(rows[0][0]))


_LAYERS = """
SELECT l.name, l.title, l.description, d.code, d.name_zh, l.data_class, l.update_frequency,
       l.licence, l.keywords, l.schema_name, l.table_name, l.id_column, l.geometry_column,
       l.geometry_type, l.srid, l.columns, l.title_field,
       to_char(l.registered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       to_char(l.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       EXISTS (SELECT 1 FROM history_tables h WHERE h.live_table
               = quote_ident(l.schema_name) || '.' || quote_ident(l.table_name)) AS tracked
FROM catalogue_layers l JOIN departments d ON d.id = l.owner_department_id
ORDER BY l.registered_at, l.name
"""


def registered() -> Query[list[tuple[Any, ...]]]:
    """Every registered layer's row (geo.services.catalogue builds the registry from them)."""
    return Query(sql.SQL(_LAYERS), {}, lambda rows: [tuple(r) for r in rows])


def department_id(code: str) -> Query[int | None]:
    return Query(
        sql.SQL("SELECT id FROM departments WHERE code = %(code)s"),
        {"code": code},
        lambda rows: int(rows[0][0]) if rows else None,
    )
