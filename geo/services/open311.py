"""Open311 intake: a partner system's service request becomes a case (through the one case
writer, acting as the partner: no user, the whole city, the key's own rights) plus what the
partner sent beyond the case (its attribute values and media URL), together.

Every service (case category) has the same definition (:func:`definition`): how it is handled
(information from the category's department and time limit) and the inputs in
:data:`ATTRIBUTES`. Posted ``attribute[code]`` values are checked against them
(:func:`check_attributes`) and stored in ``open311_requests.attributes``; ``urgency`` also
sets the case's priority.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo import access
from geo.access import Principal
from geo.enums import CasePriority, CaseSource
from geo.errors import InvalidInput
from geo.params import LonLat
from geo.queries.open311 import Service
from geo.services.cases import CaseRecord, create_case

MAX_MEDIA_URL = 2000
#: Lengths GeoReport leaves to the server: one line, and free text like a description.
MAX_STRING, MAX_TEXT = 500, 4000
#: How far ahead of the server's clock an ``observed_at`` may be (clients' clocks drift).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One field of a service definition, as GeoReport v2 describes it."""

    code: str
    datatype: str  # string | number | datetime | text | singlevaluelist | multivaluelist
    description: str
    order: int
    required: bool = False
    variable: bool = True  # False: information shown to the user, not an input
    datatype_description: str = ""
    values: tuple[tuple[str, str], ...] = ()

    def as_open311(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": self.datatype_description,
            "order": self.order,
            "description": self.description,
            "values": [{"key": k, "name": n} for k, n in self.values],
        }


_PRIORITY_NAMES = {
    CasePriority.LOW: "低 / Low",
    CasePriority.NORMAL: "一般 / Normal",
    CasePriority.HIGH: "高 / High",
    CasePriority.URGENT: "紧急 / Urgent",
}
#: The inputs every service takes (the case's own fields are GeoReport's standard ones).
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "urgency",
        "singlevaluelist",
        "紧急程度 / How urgent is it?",
        2,
        datatype_description="The case's priority; normal when not given.",
        values=tuple((p.value, _PRIORITY_NAMES[p]) for p in CasePriority),
    ),
    Attribute(
        "observed_at",
        "datetime",
        "发现时间 / When was it seen?",
        3,
        datatype_description="A W3C date-time (2026-12-01T08:30:00+08:00), not in the future.",
    ),
    Attribute(
        "impact",
        "multivaluelist",
        "影响 / What does it affect? (any that apply)",
        4,
        values=(
            ("traffic", "阻碍通行 / Blocks traffic or walkways"),
            ("safety", "危及安全 / Puts people at risk"),
            ("recurring", "反复发生 / Has happened before"),
        ),
    ),
)
_BY_CODE = {a.code: a for a in ATTRIBUTES}


def definition(service: Service) -> dict[str, Any]:
    """GeoReport's service definition of ``service``: how it is handled (information derived
    from its department and time limit), then the inputs."""
    handling = Attribute(
        "handling",
        "string",
        service.notice,
        1,
        variable=False,
        datatype_description="Information only: nothing to enter.",
    )
    return {
        "service_code": service.code,
        "attributes": [a.as_open311() for a in (handling, *ATTRIBUTES)],
    }


def check_attributes(posted: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Posted values (code → the values sent) checked against ATTRIBUTES; the stored form:
    code → value (a list for a multivaluelist). InvalidInput naming the field otherwise."""
    checked: dict[str, Any] = {}
    for code, raw in posted.items():
        values = [v.strip() for v in raw if v.strip()]
        attribute = _BY_CODE.get(code)
        if attribute is None:
            known = ", ".join(f"attribute[{a.code}]" for a in ATTRIBUTES)
            raise InvalidInput(
                f"attribute[{code}] is not an input of this service; its inputs "
                f"are {known} (see the service definition)."
            )
        if values:
            checked[code] = _checked(attribute, values)
    missing = [a for a in ATTRIBUTES if a.required and a.code not in checked]
    if missing:
        raise InvalidInput(f"attribute[{missing[0].code}] is required: {missing[0].description}")
    return checked


def _checked(a: Attribute, values: list[str]) -> Any:
    name = f"attribute[{a.code}]"
    if a.datatype == "multivaluelist":
        keys = [k for k, _ in a.values]
        wrong = [v for v in values if v not in keys]
        if wrong:
            raise InvalidInput(f"{name} takes keys among {', '.join(keys)}; got {wrong[0]!r}.")
        return [k for k in keys if k in values]
    if len(values) > 1:
        raise InvalidInput(f"{name} takes one value; {len(values)} were sent.")
    value = values[0]
    if a.datatype == "singlevaluelist":
        keys = [k for k, _ in a.values]
        if value not in keys:
            raise InvalidInput(f"{name} must be one of {', '.join(keys)}; got {value!r}.")
        return value
    if a.datatype == "datetime":
        return _datetime(name, value).isoformat()
    if a.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InvalidInput(f"{name} must be a number; got {value!r}.")
        return number
    limit = MAX_TEXT if a.datatype == "text" else MAX_STRING
    if len(value) > limit:
        raise InvalidInput(f"{name} is {len(value)} characters long; at most {limit} are allowed.")
    return value


def _datetime(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be a W3C date-time such as 2026-12-01T08:30:00+08:00; got {raw!r}."
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise InvalidInput(f"{name} lies in the future ({raw}).")
    return value


def check_media_url(url: str | None) -> str | None:
    if url and (len(url) > MAX_MEDIA_URL or not url.startswith(("http://", "https://"))):
        raise InvalidInput(
            f"media_url must be an http(s) URL of at most {MAX_MEDIA_URL} characters."
        )
    return url or None


async def create_request(
    conn: AsyncConnection[Any],
    *,
    partner: Principal | None,
    category: str,
    point: LonLat,
    description: str,
    address: str | None,
    attributes: dict[str, Any],
    media_url: str | None,
) -> CaseRecord:
    """The case of a partner's request, in the caller's transaction (the idempotency key's).
    Unauthorized without a live key, Forbidden for a key not granted posting."""
    access.require_key(partner, access.Capability.CREATE_CASES)
    assert partner is not None
    priority = CasePriority(attributes.get("urgency", CasePriority.NORMAL.value))
    case = await create_case(
        conn,
        actor=partner,
        category=category,
        point=point,
        description=description,
        source=CaseSource.HOTLINE,
        priority=priority,
        address=address or None,
    )
    await conn.execute(
        "INSERT INTO open311_requests (case_id, api_key_id, attributes, media_url) "
        "VALUES (%s, %s, %s, %s)",
        (case.id, partner.partner_id, Jsonb(attributes), check_media_url(media_url)),
    )
    return case
