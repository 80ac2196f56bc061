"""Time limits per case category and workflow stage (``case_stage_limits``), for clocks.

A category with no handle-stage row falls back to its ``time_limit_hours``: under a day as
working hours, a day or more as that many whole working days (72 hours → 3 working days) —
the same rule the demo seed writes its defaults with."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from geo.enums import LimitUnit, Stage
from geo.queries import Query, Rows
from geo.services.clocks import StageLimit

type Limits = dict[Stage, StageLimit]

#: The fallback of a category's handle limit, and the seed's default (SQL on alias cc).
HANDLE_DEFAULT_SQL = """
CASE WHEN cc.time_limit_hours < 24 THEN cc.time_limit_hours
     ELSE cc.time_limit_hours / 24 END AS amount,
CASE WHEN cc.time_limit_hours < 24 THEN 'working_hours' ELSE 'working_days' END AS unit
"""

_STATEMENT = f"""
SELECT l.category, l.stage, l.amount, l.unit FROM case_stage_limits l
WHERE l.category = ANY(%(codes)s)
UNION ALL
SELECT cc.code, 'handle', {HANDLE_DEFAULT_SQL} FROM case_categories cc
WHERE cc.code = ANY(%(codes)s) AND NOT EXISTS (
  SELECT 1 FROM case_stage_limits l WHERE l.category = cc.code AND l.stage = 'handle')
"""  # noqa: S608 - a constant


def stage_limits(codes: Sequence[str]) -> Query[list[Limits]]:
    """Each category's limits, in the order of ``codes`` (an empty map if none)."""

    def decode(rows: Rows) -> list[Limits]:
        found: dict[str, Limits] = {code: {} for code in codes}
        for category, stage, amount, unit in rows:
            found[category][Stage(stage)] = StageLimit(int(amount), LimitUnit(unit))
        return [found[code] for code in codes]

    return Query(sql.SQL(_STATEMENT), {"codes": list(codes)}, decode)
