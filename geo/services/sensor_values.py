"""The values of SensorThings entities in a request body, checked before anything is written.

Each function takes the decoded JSON and the property's name (for the message) and returns the
value to store, or raises InvalidInput naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from geo.errors import InvalidInput
from geo.sensor_models import OBSERVATION_TYPES

#: How far ahead of the server's clock a phenomenon or result time may lie (clock skew of a
#: device); anything later is refused, not stored.
FUTURE_SLACK = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
GEOJSON_TYPES = ("application/geo+json", "application/vnd.geo+json")
MAX_TEXT = 10_000


def entity_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput(f"{what} must be a JSON object.")
    return body


def text(body: dict[str, Any], name: str, what: str, *, default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise InvalidInput(f"{what} needs {name!r} (a string).")
    if not isinstance(value, str):
        raise InvalidInput(f"{what}: {name!r} must be a string.")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what}: {name!r} is longer than {MAX_TEXT} characters.")
    return value


def json_object(body: dict[str, Any], name: str, what: str, *, required: bool = False) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{what}: {name!r} must be a JSON object.")
    return value


def encoding(body: dict[str, Any], what: str) -> str:
    value = text(body, "encodingType", what)
    if value not in GEOJSON_TYPES:
        raise InvalidInput(f"{what}: encodingType must be one of {', '.join(GEOJSON_TYPES)}.")
    return value


def geometry(value: Any, name: str, what: str) -> dict[str, Any]:
    """A GeoJSON geometry (a Feature's geometry is taken); PostGIS checks it further."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidInput(f"{what}: {name!r} must be a GeoJSON geometry.")
    if "coordinates" not in value and "geometries" not in value:
        raise InvalidInput(f"{what}: {name!r} has no coordinates.")
    return value


def observation_type(body: dict[str, Any], what: str) -> str:
    value = text(body, "observationType", what)
    if value not in OBSERVATION_TYPES:
        raise InvalidInput(
            f"{what}: observationType must be one of {', '.join(OBSERVATION_TYPES)}."
        )
    return value


def unit(body: dict[str, Any], what: str) -> dict[str, Any]:
    value = json_object(body, "unitOfMeasurement", what, required=True)
    for key in ("name", "symbol", "definition"):
        if key in value and value[key] is not None and not isinstance(value[key], str):
            raise InvalidInput(f"{what}: unitOfMeasurement.{key} must be a string or null.")
    return dict(value)


def instant(value: Any, name: str, what: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{what}: {name!r} must be an ISO 8601 time string.")
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what}: {name!r} is not an ISO 8601 time: {value!r}.") from None
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    latest = datetime.now(UTC) + FUTURE_SLACK
    if found > latest:
        raise InvalidInput(
            f"{what}: {name!r} {value} lies in the future (more than "
            f"{FUTURE_SLACK.days} day past the server's clock); check the device's clock."
        )
    if found < EARLIEST:
        raise InvalidInput(f"{what}: {name!r} {value} is before 1970.")
    return found


def time_or_interval(value: Any, name: str, what: str) -> tuple[datetime, datetime | None]:
    """An instant (``start``, None) or an interval ``start/end``."""
    if isinstance(value, str) and "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = instant(start_text, name, what), instant(end_text, name, what)
        if end < start:
            raise InvalidInput(f"{what}: the interval {name!r} ends before it starts.")
        return start, end
    return instant(value, name, what), None


_RESULT_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "OM_Measurement": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "a number",
    ),
    "OM_CountObservation": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "OM_TruthObservation": (lambda v: isinstance(v, bool), "true or false"),
    "OM_CategoryObservation": (lambda v: isinstance(v, str | int), "a category (string or code)"),
}


def result(value: Any, observation_type_uri: str, what: str) -> Any:
    """The result, of the type the Datastream declares (``OM_Observation`` takes any JSON)."""
    if value is None:
        raise InvalidInput(f"{what} needs a 'result'.")
    check = _RESULT_CHECKS.get(observation_type_uri.rsplit("/", 1)[-1])
    if check is not None and not check[0](value):
        raise InvalidInput(
            f"{what}: the Datastream's observationType "
            f"{observation_type_uri.rsplit('/', 1)[-1]} needs {check[1]} as result, "
            f"not {value!r}."
        )
    return value


def reference(value: Any, name: str, what: str) -> int | None:
    """The id of ``{"@iot.id": n}`` (a link to an existing entity), or None for a new one."""
    if not isinstance(value, dict):
        raise InvalidInput(f'{what}: {name!r} must be an entity object or {{"@iot.id": …}}.')
    if "@iot.id" not in value:
        return None
    found = value["@iot.id"]
    if isinstance(found, str) and found.isdigit():
        found = int(found)
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise InvalidInput(f"{what}: {name}'s @iot.id must be a positive integer.")
    return found


def entity_list(body: dict[str, Any], name: str, what: str) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise InvalidInput(f"{what}: {name!r} must be a JSON array.")
    return value


def utc_now() -> datetime:
    return datetime.now(UTC)
