"""Parsing GeoReport v2's parameters at the edge: dates, comma lists, paging, statuses, the
posted form (``attribute[code]`` and ``attribute[code][]``) and its position. Each failure is an
InvalidInput whose message says what to send instead."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request

from geo.errors import InvalidInput
from geo.params import LonLat
from geo.queries.open311 import RequestFilter

#: Paging (the page/page_size extension): pages beyond this many are refused.
MAX_PAGE = 1000
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def _time(params: Any, name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be a W3C date-time such as 2026-12-01T00:00:00Z, got {raw!r}."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _list(params: Any, name: str, most: int) -> list[str] | None:
    raw = params.get(name)
    values = [v.strip() for v in raw.split(",") if v.strip()] if raw else []
    if len(values) > most:
        raise InvalidInput(f"{name} lists {len(values)} values; at most {most} are allowed.")
    return values or None


def _int(params: Any, name: str, default: int, most: int) -> int:
    raw = params.get(name) or str(default)
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= most:
        raise InvalidInput(f"{name} must be a whole number from 1 to {most}, got {raw!r}.")
    return int(raw)


def _closed(params: Any) -> bool | None:
    wanted = set(_list(params, "status", 2) or [])
    if not wanted <= {"open", "closed"}:
        raise InvalidInput("status must be open, closed, or both (comma-separated).")
    return None if len(wanted) != 1 else wanted == {"closed"}


def _window(params: Any, days: int) -> tuple[datetime, datetime]:
    """[start, end) of at most ``days``: the most recent ones unless dates are given; one date
    given, the window runs from or to it."""
    window = timedelta(days=days)
    start, end = _time(params, "start_date"), _time(params, "end_date")
    if start and end and not timedelta(0) <= end - start <= window:
        raise InvalidInput(f"start_date..end_date must be 0 to {days} days long.")
    try:
        if start is None:
            end = end or datetime.now(UTC)
            return end - window, end
        return start, end or start + window
    except OverflowError:  # a date within 90 days of year 1 or 9999
        raise InvalidInput("start_date and end_date must lie between years 1 and 9999.") from None


def page_links(request: Request, page: int, more: bool) -> dict[str, str]:
    """``Link`` to the next and previous pages (RFC 8288), so a client need not count."""
    links = []
    if more:
        links.append(f'<{request.url.include_query_params(page=page + 1)}>; rel="next"')
    if page > 1:
        links.append(f'<{request.url.include_query_params(page=page - 1)}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


def posted(form: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The form's fields, and its ``attribute[code]`` / ``attribute[code][]`` values by code."""
    fields: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            continue
        matched = _ATTRIBUTE.match(name)
        if matched:
            attributes.setdefault(matched[1], []).append(value)
        else:
            fields[name] = value
    return fields, attributes


def point(f: dict[str, str]) -> LonLat | None:
    """lat/long as sent; None when both are left out and an address_string is given (the
    request is then placed by geocoding it)."""
    if not f.get("lat") and not f.get("long") and (f.get("address_string") or "").strip():
        return None
    try:
        return LonLat(float(f["long"]), float(f["lat"]))
    except (KeyError, ValueError):
        raise InvalidInput(
            "lat and long are required numbers (WGS84), unless both are left out and an "
            "address_string places the request."
        ) from None


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int


def request_filter(params: Any, window_days: int, max_requests: int) -> tuple[RequestFilter, Page]:
    """GET requests' parameters: ids (which override the rest), service codes, status, the
    date window and the page; one more row than the page is asked for, to tell if another
    page follows."""
    page = Page(
        _int(params, "page", 1, MAX_PAGE), _int(params, "page_size", max_requests, max_requests)
    )
    start, end = _window(params, window_days)
    wanted = RequestFilter(
        ids=_list(params, "service_request_id", max_requests),
        codes=_list(params, "service_code", 100),
        closed=_closed(params),
        start=start,
        end=end,
        limit=page.size + 1,
        offset=(page.number - 1) * page.size,
    )
    return wanted, page
