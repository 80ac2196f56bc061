"""SensorThings query options (``$filter $expand $select $orderby $top $skip $count``) parsed
into typed values at the edge; InvalidInput (400) with a readable message when malformed.

``$expand`` nests: ``Datastreams($filter=name eq 'x';$top=2;$expand=Observations($top=1))``
and ``Datastreams/Observations`` (a path: each step expanded in the one before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from geo.errors import InvalidInput
from geo.queries.sensors_odata import Node, Path, parse_filter, parse_path
from geo.queries.sensors_schema import ENTITY_SETS, ID_NAMES, EntitySet

#: Page sizes: the default, and the most a client may ask for (``ONEMAP_STA_…`` settings).
DEFAULT_TOP = 100
MAX_TOP = 1000
MAX_SKIP = 10_000_000
MAX_EXPAND_DEPTH = 4
KNOWN = ("$filter", "$expand", "$select", "$orderby", "$top", "$skip", "$count", "$resultFormat")


@dataclass(frozen=True)
class Limits:
    default_top: int = DEFAULT_TOP
    max_top: int = MAX_TOP


@dataclass(frozen=True)
class Options:
    filter: Node | None = None
    orderby: tuple[tuple[Node, bool], ...] = ()  # (expression, descending)
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    select: tuple[str, ...] | None = None
    expand: tuple[Expand, ...] = ()
    #: The options as written (except $skip, $top), to carry into a nextLink.
    raw: tuple[tuple[str, str], ...] = ()
    data_array: bool = False


@dataclass(frozen=True)
class Expand:
    nav: str
    options: Options = field(default_factory=Options)


def parse_options(
    entity: EntitySet, params: Mapping[str, str], depth: int = 0, limits: Limits = Limits()
) -> Options:
    """The options of a request on ``entity`` (query string, or the inside of an $expand)."""
    for name in params:
        if name.startswith("$") and name not in KNOWN:
            raise InvalidInput(f"Unknown query option {name!r}; known: {', '.join(KNOWN)}.")
    filter_ = parse_filter(params["$filter"]) if "$filter" in params else None
    top = _int(params, "$top", limits.default_top, limits.max_top)
    skip = _int(params, "$skip", 0, MAX_SKIP)
    count = _bool(params.get("$count", "false"))
    select = _select(entity, params["$select"]) if "$select" in params else None
    orderby = _orderby(params["$orderby"]) if "$orderby" in params else ()
    expand = _expand(entity, params["$expand"], depth, limits) if "$expand" in params else ()
    result_format = params.get("$resultFormat")
    if result_format not in (None, "dataArray") or (result_format and entity.name !=
                                                    "Observations"):  # fmt: skip
        raise InvalidInput("$resultFormat=dataArray is the one result format, on Observations.")
    raw = tuple((k, v) for k, v in params.items() if k not in ("$top", "$skip"))
    return Options(filter_, orderby, top, skip, count, select, expand, raw,
                   result_format == "dataArray")  # fmt: skip


def _int(params: Mapping[str, str], name: str, default: int, most: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.strip().isdigit():
        raise InvalidInput(f"{name} must be a whole number ≥ 0, not {text!r}.")
    value = int(text)
    if value > most:
        raise InvalidInput(f"{name} may be at most {most}.")
    return value


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise InvalidInput(f"$count must be true or false, not {text!r}.")
    return text == "true"


def _select(entity: EntitySet, text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise InvalidInput("$select names no property.")
    for name in names:
        if name not in (*ID_NAMES, *entity.props, *entity.navs):
            raise InvalidInput(
                f"$select: {entity.singular} has no property {name!r}; it has "
                f"{', '.join(['id', *entity.props, *entity.navs])}."
            )
    return names


def _orderby(text: str) -> tuple[tuple[Node, bool], ...]:
    found = []
    for part in split_top(text, ","):
        words = part.strip().split()
        if len(words) == 2:
            words[1] = words[1].lower()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise InvalidInput(f"$orderby: {part.strip()!r} is not 'property [asc|desc]'.")
        expr: Node = parse_path(words[0]) if "(" not in words[0] else parse_filter(words[0])
        found.append((expr, len(words) == 2 and words[1] == "desc"))
    return tuple(found)


def _expand(entity: EntitySet, text: str, depth: int, limits: Limits) -> tuple[Expand, ...]:
    if depth >= MAX_EXPAND_DEPTH:
        raise InvalidInput(f"$expand may nest at most {MAX_EXPAND_DEPTH} levels.")
    found: list[Expand] = []
    for item in split_top(text, ","):
        item = item.strip()
        inner: Mapping[str, str] = {}
        if "(" in item:
            if not item.endswith(")"):
                raise InvalidInput(f"$expand: {item!r} has unbalanced parentheses.")
            head, body = item[: item.index("(")], item[item.index("(") + 1 : -1]
            inner = _inner_options(body)
        else:
            head = item
        steps = [s.strip() for s in head.split("/")]
        found.append(_expand_path(entity, steps, inner, depth, limits))
    return tuple(found)


def _expand_path(
    entity: EntitySet, steps: list[str], inner: Mapping[str, str], depth: int, limits: Limits
) -> Expand:
    nav = entity.navs.get(steps[0])
    if nav is None:
        raise InvalidInput(
            f"$expand: {entity.singular} has no navigation {steps[0]!r}; it has "
            f"{', '.join(entity.navs)}."
        )
    target = ENTITY_SETS[nav.target]
    if len(steps) > 1:
        nested = _expand_path(target, steps[1:], inner, depth + 1, limits)
        return Expand(steps[0], Options(top=limits.default_top, expand=(nested,)))
    return Expand(steps[0], parse_options(target, inner, depth + 1, limits))


def _inner_options(body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in split_top(body, ";"):
        name, eq, value = part.strip().partition("=")
        if not eq or not name.startswith("$"):
            raise InvalidInput(f"$expand: {part.strip()!r} is not '$option=value'.")
        found[name.strip()] = value.strip()
    return found


def split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside parentheses and quoted strings."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                raise InvalidInput(f"Unbalanced parentheses in {text!r}.")
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    if depth or quoted:
        raise InvalidInput(f"Unbalanced parentheses or quotes in {text!r}.")
    parts.append(text[start:])
    return parts


__all__ = ["DEFAULT_TOP", "MAX_TOP", "Expand", "Limits", "Options", "Path", "parse_options",
           "split_top"]  # fmt: skip
