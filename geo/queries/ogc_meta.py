"""What the OGC service publishes about the city as a whole: its extent and its case times."""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from geo.queries import Query, Rows

Extent = tuple[float, float, float, float]
TimeSpan = tuple[datetime, datetime]


def city_extent() -> Query[Extent | None]:
    """The bbox (lon/lat) of the districts; None before the city is loaded."""
    statement = sql.SQL(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        "(SELECT ST_Extent(geom) AS e FROM admin_areas WHERE level = 'district') x"
    )

    def decode(rows: Rows) -> Extent | None:
        if not rows or rows[0][0] is None:
            return None
        minx, miny, maxx, maxy = (round(float(v), 6) for v in rows[0])
        return minx, miny, maxx, maxy

    return Query(statement, {}, decode)


def case_times() -> Query[dict[str, TimeSpan]]:
    """The first and last ``reported_at`` per case table: the full record (``cases``) and the
    public one (``cases_public``, hours), so a public collection's temporal extent is what its
    own items show. Keyed by table name; a table without cases is absent."""
    statement = sql.SQL(
        "SELECT 'cases', min(reported_at), max(reported_at) FROM cases UNION ALL "
        "SELECT 'cases_public', min(reported_at), max(reported_at) FROM cases_public"
    )

    def decode(rows: Rows) -> dict[str, TimeSpan]:
        return {str(r[0]): (r[1], r[2]) for r in rows if r[1] is not None}

    return Query(statement, {}, decode)
