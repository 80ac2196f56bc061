"""SensorThings JSON: entities with ``@iot.id``, ``@iot.selfLink`` and navigation links,
expansions inline (with their ``@iot.count`` and ``@iot.nextLink``), collections with
``@iot.nextLink``, and the dataArray result format."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from geo.queries.sensors import Row
from geo.queries.sensors_options import Expand, Options
from geo.queries.sensors_schema import ENTITY_SETS, ID_NAMES, EntitySet

#: Properties served as null when empty (the standard's mandatory ones); other empty optional
#: properties are left out, as clients expect (frost-sta-client refuses a null "properties").
KEEP_NULL = frozenset({"result", "resultTime"})


def self_link(base: str, entity: EntitySet, entity_id: int) -> str:
    return f"{base}/{entity.name}({entity_id})"


def entity_json(base: str, entity: EntitySet, row: Row, options: Options) -> dict[str, Any]:
    select = options.select
    link = self_link(base, entity, int(row["id"]))
    out: dict[str, Any] = {}
    if select is None or any(n in select for n in ID_NAMES):
        out["@iot.id"] = row["id"]
        out["@iot.selfLink"] = link
    for name in entity.props:
        if name in row and (row[name] is not None or name in KEEP_NULL):
            out[name] = row[name]
    expanded = {e.nav: e for e in options.expand}
    for name, nav in entity.navs.items():
        if name in expanded:
            out.update(_expansion(base, link, ENTITY_SETS[nav.target], nav.many, name, row,
                                  expanded[name]))  # fmt: skip
        elif select is None or name in select:
            out[f"{name}@iot.navigationLink"] = f"{link}/{name}"
    return out


def _expansion(
    base: str, link: str, child: EntitySet, many: bool, name: str, row: Row, item: Expand
) -> dict[str, Any]:
    value = row.get(name)
    if not many:
        return {name: None if value is None else entity_json(base, child, value, item.options)}
    out: dict[str, Any] = {}
    if f"{name}@count" in row:
        out[f"{name}@iot.count"] = row[f"{name}@count"]
    out[name] = [entity_json(base, child, r, item.options) for r in value or []]
    if row.get(f"{name}@more"):
        opts = item.options
        query = [*opts.raw, ("$top", str(opts.top)), ("$skip", str(opts.skip + opts.top))]
        out[f"{name}@iot.nextLink"] = f"{link}/{name}?{urlencode(query)}"
    return out


def collection_json(
    base: str,
    entity: EntitySet,
    rows: list[Row],
    options: Options,
    *,
    total: int | None,
    next_link: str | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if total is not None:
        out["@iot.count"] = total
    if next_link is not None:
        out["@iot.nextLink"] = next_link
    out["value"] = [entity_json(base, entity, r, options) for r in rows]
    return out


def next_link(url: str, options: Options) -> str:
    query = [*options.raw, ("$top", str(options.top)), ("$skip", str(options.skip + options.top))]
    return f"{url}?{urlencode(query)}"


#: The components a dataArray answer carries when $select names none.
DATA_ARRAY_DEFAULT = ("id", "phenomenonTime", "result")


def data_array_json(
    base: str, rows: list[Row], options: Options, *, total: int | None, next_link: str | None
) -> dict[str, Any]:
    """Observations grouped per Datastream as a table (the dataArray extension's read side)."""
    components = [c for c in (options.select or DATA_ARRAY_DEFAULT) if c != "Datastream"]
    groups: dict[int, list[list[Any]]] = {}
    for row in rows:
        ds = int(row["Datastream"]["id"])
        groups.setdefault(ds, []).append(
            [row["id"] if c in ID_NAMES else row.get(c) for c in components]
        )
    out: dict[str, Any] = {}
    if total is not None:
        out["@iot.count"] = total
    if next_link is not None:
        out["@iot.nextLink"] = next_link
    out["value"] = [
        {"Datastream@iot.navigationLink": f"{base}/Datastreams({ds})",
         "components": components, "dataArray@iot.count": len(data), "dataArray": data}
        for ds, data in groups.items()
    ]  # fmt: skip
    return out
