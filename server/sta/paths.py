"""Resource paths of the SensorThings API, parsed into steps at the edge.

``Things``, ``Things(1)``, ``Things(1)/Datastreams``, ``Datastreams(1)/Thing/Locations(2)``,
``Things(1)/name``, ``Things(1)/name/$value``, ``Things(1)/Locations/$ref``. Anything else is a
404 naming what was not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from geo.errors import InvalidInput, NotFound
from geo.queries.sensors import Step
from geo.queries.sensors_schema import ENTITY_SETS, ID_NAMES

_SEGMENT = re.compile(r"^([A-Za-z@.]+)(?:\((?:'?(\d+)'?)\))?$")
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Resource:
    steps: tuple[Step, ...]
    single: bool  # one entity (an id, or a to-one navigation), not a collection
    property: str | None = None
    value: bool = False  # /$value: the property's raw value
    ref: bool = False  # /$ref: links only


def _id(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    if not 0 < value <= _MAX_ID:
        raise NotFound(f"No entity has the id {text}.")
    return value


def parse_path(path: str) -> Resource:
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        raise NotFound("No resource named.")
    match = _SEGMENT.match(parts[0])
    if match is None or match.group(1) not in ENTITY_SETS:
        raise NotFound(f"No entity set {parts[0]!r}; the service has {', '.join(ENTITY_SETS)}.")
    steps = [Step(ENTITY_SETS[match.group(1)], _id(match.group(2)))]
    single = steps[0].id is not None
    rest = parts[1:]
    while rest:
        head = rest.pop(0)
        if head == "$ref":
            if rest:
                raise NotFound("Nothing may follow $ref.")
            return Resource(tuple(steps), single, ref=True)
        entity = steps[-1].entity
        if not single:
            raise NotFound(f"{head!r}: a collection must be addressed by id first, e.g. "
                           f"{entity.name}(1)/{head}.")  # fmt: skip
        match = _SEGMENT.match(head)
        name = match.group(1) if match else head
        if name in entity.navs:
            nav = entity.navs[name]
            assert match is not None
            entity_id = _id(match.group(2))
            if entity_id is not None and not nav.many:
                raise NotFound(f"{name} is a single entity; it takes no id.")
            steps.append(Step(ENTITY_SETS[nav.target], entity_id, nav))
            single = not nav.many or entity_id is not None
            continue
        if name in entity.props or name in ID_NAMES:
            if rest and rest != ["$value"]:
                raise NotFound(f"Only $value may follow the property {name!r}.")
            return Resource(tuple(steps), True, property=name, value=bool(rest))
        raise NotFound(
            f"{entity.singular} has no property or navigation {head!r}; it has "
            f"{', '.join([*entity.props, *entity.navs])}."
        )
    return Resource(tuple(steps), single)


def entity_id_of(text: str) -> int:
    """An ``@iot.id`` given in a body (a number or a string of digits)."""
    if text.isdigit():
        return int(text)
    raise InvalidInput(f"{text!r} is not an entity id.")
