"""The demo city's department layers (issue 17, item 3): three PostGIS tables of other
departments, registered in the layer catalogue through the same code the command line uses
(``geo.services.catalogue.register_sync``; ``onemap layers register`` calls ``register``).

- ``dept_planning_zones`` (控制性详细规划 land-use zones, 规划和自然资源局): a MultiPolygon
  per grid cell (zones follow the management grid, which tiles the city), with a land use, a
  plot ratio (容积率) and a height limit — **public**.
- ``dept_ecological_red_lines`` (生态保护红线, 生态环境局): protection areas around the city's
  parks (a disc of 150–400 m), by protection kind — **public**.
- ``dept_water_pipes`` (供水管网, 水务局): a main under every expressway, arterial and local
  road, with diameter, material and year laid — **internal** (critical infrastructure).

Everything is SYNTHETIC and marked so (``synthetic`` true, "synthetic" in each description),
derived deterministically from the seeded grid, parks and roads — so a bigger scale (more
parks and roads) gets more red lines and pipes: the step refills the tables on every seed.
The tables are created as the schema's owner, so the app role reads them (migration 0005's
default privileges), as a department's table handed to OneMap would be.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from geo.access import Capability, system
from geo.services.catalogue import LayerSpec, register_sync

DEPARTMENT_LAYERS = "department_layers"
PLANNING = ("planning_resources", "规划和自然资源局", "Planning and Natural Resources Bureau",
            "021-23111111")  # fmt: skip

_TABLES = """
CREATE TABLE IF NOT EXISTS dept_planning_zones (
    id integer PRIMARY KEY, zone_code text NOT NULL, land_use text NOT NULL,
    plot_ratio numeric(4, 2) NOT NULL, height_limit_m integer NOT NULL,
    approved_on date NOT NULL, synthetic boolean NOT NULL DEFAULT true,
    geom geometry(MultiPolygon, 4326) NOT NULL);
CREATE INDEX IF NOT EXISTS ix_dept_planning_zones_geom ON dept_planning_zones USING gist (geom);
CREATE TABLE IF NOT EXISTS dept_ecological_red_lines (
    id integer PRIMARY KEY, name text NOT NULL, protection_kind text NOT NULL,
    area_ha numeric(8, 2) NOT NULL, synthetic boolean NOT NULL DEFAULT true,
    geom geometry(MultiPolygon, 4326) NOT NULL);
CREATE INDEX IF NOT EXISTS ix_dept_ecological_red_lines_geom
    ON dept_ecological_red_lines USING gist (geom);
CREATE TABLE IF NOT EXISTS dept_water_pipes (
    id bigint PRIMARY KEY, pipe_code text NOT NULL, diameter_mm integer NOT NULL,
    material text NOT NULL, laid_year integer NOT NULL, pressure_zone text NOT NULL,
    synthetic boolean NOT NULL DEFAULT true, geom geometry(LineString, 4326) NOT NULL);
CREATE INDEX IF NOT EXISTS ix_dept_water_pipes_geom ON dept_water_pipes USING gist (geom);
"""

# Deterministic choices from an id: (hashtext is stable across PostgreSQL versions on one
# platform; abs(…) % n picks one of n).
_ZONES = """
INSERT INTO dept_planning_zones (id, zone_code, land_use, plot_ratio, height_limit_m, approved_on,
                                 geom)
SELECT g.id, 'KG-' || g.code,
       (ARRAY['residential', 'commercial', 'mixed', 'industrial', 'green', 'public_service'])
           [1 + abs(hashtext('zone' || g.id)) % 6],
       round((0.8 + (abs(hashtext('ratio' || g.id)) % 40) / 10.0)::numeric, 2),
       (ARRAY[24, 50, 80, 100, 150])[1 + abs(hashtext('height' || g.id)) % 5],
       date '2018-01-01' + abs(hashtext('approved' || g.id)) % 2000,
       ST_Multi(g.geom)
FROM grid_cells g
"""
_RED_LINES = """
INSERT INTO dept_ecological_red_lines (id, name, protection_kind, area_ha, geom)
SELECT f.id, f.name_zh || '生态保护红线',
       (ARRAY['wetland', 'forest', 'water_source', 'biodiversity'])
           [1 + abs(hashtext('kind' || f.id)) % 4],
       round((ST_Area(b.g::geography) / 10000)::numeric, 2), ST_Multi(b.g)
FROM facilities f
CROSS JOIN LATERAL (SELECT ST_Buffer(f.geom::geography,
                    150 + abs(hashtext('radius' || f.id)) % 250, 16)::geometry AS g) b
WHERE f.category = 'park'
"""
_PIPES = """
INSERT INTO dept_water_pipes (id, pipe_code, diameter_mm, material, laid_year, pressure_zone,
                              geom)
SELECT r.id, 'GS-' || lpad(r.id::text, 7, '0'),
       CASE r.road_class WHEN 'expressway' THEN 1200 WHEN 'arterial' THEN 800 ELSE
           (ARRAY[150, 200, 300])[1 + abs(hashtext('dn' || r.id)) % 3] END,
       (ARRAY['ductile_iron', 'steel', 'pe', 'cast_iron'])[1 + abs(hashtext('mat' || r.id)) % 4],
       1985 + abs(hashtext('laid' || r.id)) % 38,
       'zone-' || (1 + abs(hashtext('pz' || r.id)) % 4),
       r.geom
FROM roads r
WHERE r.road_class IN ('expressway', 'arterial', 'local')
"""

#: (table, its fill, the count of the rows it derives from)
_STEPS = (
    ("dept_planning_zones", _ZONES, "SELECT count(*) FROM grid_cells"),
    ("dept_ecological_red_lines", _RED_LINES,
     "SELECT count(*) FROM facilities WHERE category = 'park'"),
    ("dept_water_pipes", _PIPES,
     "SELECT count(*) FROM roads WHERE road_class IN ('expressway', 'arterial', 'local')"),
)  # fmt: skip

SPECS = (
    LayerSpec(
        name="planning_zones", relation="public.dept_planning_zones",
        title="控制性详细规划 Planning zones",
        description="Land-use zones of the regulatory plan: land use, plot ratio (容积率), "
        "height limit and approval date, one zone per grid cell. Synthetic demo data.",
        owner=PLANNING[0], data_class="public", licence="CC-BY-4.0",
        update_frequency="annual", keywords=("规划", "planning", "land use", "zoning"),
        title_field="zone_code",
    ),
    LayerSpec(
        name="ecological_red_lines", relation="public.dept_ecological_red_lines",
        title="生态保护红线 Ecological red lines",
        description="Ecological protection red lines around the city's parks: wetlands, "
        "forests, water sources and biodiversity areas. Synthetic demo data.",
        owner="ecology_environment", data_class="public", licence="CC-BY-4.0",
        update_frequency="annual", keywords=("生态", "ecology", "red line", "protection"),
        title_field="name",
    ),
    LayerSpec(
        name="water_pipes", relation="public.dept_water_pipes",
        title="供水管网 Water-supply pipe network",
        description="Water mains under the roads: diameter, material, year laid and pressure "
        "zone. Critical infrastructure: internal. Synthetic demo data.",
        owner="water_authority", data_class="internal", licence="Internal use only",
        update_frequency="monthly", keywords=("供水", "water", "pipes", "utilities"),
        title_field="pipe_code",
    ),
)  # fmt: skip


def _owner(conn: psycopg.Connection[Any]) -> str | None:
    """The schema's owner role (migration 0005), when this login may act as it."""
    row = conn.execute(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename = 'catalogue_layers' AND tableowner <> current_user "
        "AND pg_has_role(tableowner, 'MEMBER')"
    ).fetchone()
    return str(row[0]) if row else None


def load(conn: psycopg.Connection[Any]) -> int:
    """Refill a table whose source grew (a bigger scale) and register any layer not yet in the
    catalogue; the rows added."""
    operator = system(Capability.MANAGE_CATALOGUE)
    with conn.transaction():
        owner = _owner(conn)
        if owner is not None:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner)))
        conn.execute(
            "INSERT INTO departments (code, name_zh, name_en, phone) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (code) DO NOTHING",
            PLANNING,
        )
        conn.execute(_TABLES)
        added = 0
        for table, insert, source in _STEPS:
            rows = _count(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            if rows == _count(conn, sql.SQL(source)):  # nothing new in the grid, parks, roads
                continue
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            added += max(0, conn.execute(insert).rowcount - rows)
        have = {r[0] for r in conn.execute("SELECT name FROM catalogue_layers")}
        for spec in SPECS:
            if spec.name not in have:
                register_sync(conn, operator, spec)
    return added


def _count(conn: psycopg.Connection[Any], statement: sql.SQL | sql.Composed) -> int:
    row = conn.execute(statement).fetchone()
    return int(row[0]) if row else 0
