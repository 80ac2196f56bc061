"""Citizen reports (随手拍) at ``/api/v1/reports``: submit with photos (idempotent), my reports,
one of mine with its timeline, open cases nearby, link, rating, photos."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field
from starlette.responses import FileResponse, JSONResponse, Response

from geo import geocoding
from geo.errors import InvalidInput, NotFound
from geo.params import LonLat, Radius
from geo.queries import fetch
from geo.queries import reports as q
from geo.services import idempotency, photos, reports
from geo.services.cases import CaseRecord, get_case
from mobile_api import contract, paging, uploads
from mobile_api.contract import ANY_USER, CITIZEN, Body, Call, Endpoint, parse_form

#: A report's photos: its reporter, and staff who may read photos (within their jurisdiction,
#: which the query applies).
PHOTO_VIEWERS = contract.Access("citizen (own reports) or read_photos", reports.may_read_photos)
Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Category = Annotated[str, Field(min_length=1, max_length=32, examples=["road_damage"])]
CaseId = Annotated[str, Field(min_length=1, max_length=24, examples=["20261121-1A2B3C4D"])]


class ReportForm(Body):
    """The text fields of a report; photos come as ``photos`` file parts (at most 5)."""

    category: Category
    description: Annotated[str, Field(max_length=4000)] = ""
    lon: Annotated[
        Lon | None,
        Field(
            description="Leave lon and lat out to place the report "
            "by its address (422 address_uncertain with candidates "
            "when the address is not sure)"
        ),
    ] = None
    lat: Lat | None = None
    address: Annotated[str | None, Field(max_length=500)] = None
    link_to: Annotated[CaseId | None, Field(description="An open case nearby it repeats")] = None


class Department(BaseModel):
    code: str
    name_zh: str
    name_en: str


class PhotoRef(BaseModel):
    id: int
    content_type: str
    width: int
    height: int
    url: str


class RatingIn(Body):
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str | None, Field(max_length=1000)] = None


class Report(BaseModel):
    id: str
    category: str
    status: str
    description: str
    address: str | None
    lon: float
    lat: float
    reported_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    department: Department | None
    linked_case: str | None
    photos: list[PhotoRef]
    rating: RatingIn | None


class TimelineEntry(BaseModel):
    event: str
    from_status: str | None
    to_status: str | None
    at: datetime


class ReportDetail(Report):
    timeline: list[TimelineEntry]


class ReportPage(BaseModel):
    items: list[Report]
    next_cursor: str | None


class NearbyQuery(BaseModel):
    lon: Lon
    lat: Lat
    category: Category


class NearbyCase(BaseModel):
    id: str
    category: str
    status: str
    reported_at: datetime
    distance_m: float
    lon: float
    lat: float


class NearbyList(BaseModel):
    radius_m: float
    items: list[NearbyCase]


class LinkIn(Body):
    case_id: CaseId


def _report(raw: dict[str, Any]) -> dict[str, Any]:
    raw["photos"] = [
        {**p, "url": f"/api/v1/reports/{raw['id']}/photos/{p['id']}"} for p in raw["photos"]
    ]
    return raw


async def _where(call: Call, conn: Any, fields: ReportForm) -> tuple[LonLat, str | None]:
    """The report's point: as sent, or its address's best match (the standard label kept)."""
    if fields.lon is not None and fields.lat is not None:
        return LonLat(fields.lon, fields.lat), fields.address
    if fields.lon is not None or fields.lat is not None:
        raise InvalidInput("Send both lon and lat, or neither (and an address).")
    wanted = call.state.geocode
    point, match = await geocoding.locate(
        conn, fields.address, wanted.min_confidence, wanted.max_candidates
    )
    return point, match.label_zh


async def submit(call: Call) -> Response:
    settings = call.state.settings
    limit = settings.max_photos * settings.max_photo_bytes + settings.max_json_bytes
    async with uploads.slot():  # streamed to disk, capped while read, decoded a few at a time
        form = await uploads.read_form(
            call.request, total_bytes=limit, file_bytes=settings.max_photo_bytes,
            max_files=settings.max_photos,
        )  # fmt: skip
        try:
            files = form.getlist("photos")
            if not all(isinstance(f, uploads.Upload) for f in files):
                raise InvalidInput("photos must be file parts (multipart/form-data files).")
            text = {k: v for k, v in form.multi_items() if k != "photos" and isinstance(v, str)}
            fields = parse_form(text, ReportForm)
            parts = [f for f in files if isinstance(f, uploads.Upload)]
            print_ = idempotency.fingerprint([fields.model_dump(), [f.digest for f in parts]])
            owner, key = f"user:{call.user_id}", call.idempotency_key
            assert key is not None
            earlier = None
            if parts:  # a replay must not pay for the photos again: look before cleaning them
                async with call.state.pool.connection() as conn:
                    earlier = await idempotency.stored(conn, owner, "report", key, print_)
            root, cleaned = call.state.files_dir / "photos", []
            if earlier is None:
                for part in parts:
                    cleaned.append(await uploads.clean_photo(root, settings.max_photo_px, part))
        finally:
            await form.close()
    if earlier is None:
        async with call.state.pool.connection() as conn:
            point, address = await _where(call, conn, fields)

            async def create() -> tuple[int, dict[str, Any]]:
                case, photo_ids = await reports.submit(
                    conn, actor=call.principal,
                    category=fields.category, point=point,
                    description=fields.description, address=address, photos=cleaned,
                    link_to=fields.link_to, radius_m=settings.duplicate_radius_m,
                )  # fmt: skip
                made = zip(photo_ids, cleaned, strict=True)
                return 201, await _created(call, conn, case, fields.link_to, made)

            earlier = await idempotency.run_once(
                conn, owner=owner, operation="report", key=key, print_=print_, create=create
            )
    headers = {"Location": f"/api/v1/reports/{earlier.body['id']}"}
    if earlier.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(earlier.body, status_code=earlier.status, headers=headers)


async def _created(
    call: Call,
    conn: Any,
    case: CaseRecord,
    linked: str | None,
    photos_: Iterable[tuple[int, reports.Photo]],
) -> dict[str, Any]:
    """The new report as the reporter sees it, from what the transaction already has."""
    report = Report(
        id=case.public_id, category=case.category, status=case.status,
        description=case.description, address=case.address, lon=case.lon, lat=case.lat,
        reported_at=case.reported_at, updated_at=case.updated_at, resolved_at=None,
        closed_at=None, department=await call.state.department(conn, case.department_id),
        linked_case=linked, rating=None,
        photos=[PhotoRef(id=i, content_type=p.content_type, width=p.width, height=p.height,
                         url=f"/api/v1/reports/{case.public_id}/photos/{i}") for i, p in photos_],
    )  # fmt: skip
    return report.model_dump(mode="json")


async def mine(call: Call) -> ReportPage:
    page: paging.PageQuery = call.query
    async with call.state.pool.connection() as conn:
        rows = await fetch(conn, q.my_reports(call.user_id, paging.decode(page.cursor),
                                              page.limit + 1))  # fmt: skip
    items = [Report.model_validate(_report(r)) for r, _, _ in rows[: page.limit]]
    last = rows[page.limit - 1] if len(rows) > page.limit else None
    return ReportPage(items=items, next_cursor=paging.encode(last[1], last[2]) if last else None)


async def one(call: Call) -> ReportDetail:
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, q.my_report(call.user_id, call.param("id")))
    if found is None:
        raise NotFound(f"You have no report {call.param('id')}.")
    return ReportDetail.model_validate(_report(found))


async def nearby(call: Call) -> NearbyList:
    args: NearbyQuery = call.query
    radius = call.state.settings.duplicate_radius_m
    async with call.state.pool.connection() as conn:
        found = await fetch(
            conn, q.nearby_open(LonLat(args.lon, args.lat), args.category, Radius(radius))
        )
    return NearbyList(radius_m=radius, items=[NearbyCase.model_validate(r) for r in found])


async def link(call: Call) -> ReportDetail:
    async with call.state.pool.connection() as conn:
        case_id = await reports.owned_case(conn, call.param("id"), call.user_id)
        case = await get_case(conn, case_id)
        await reports.link(
            conn, case, call.body.case_id, call.principal, call.state.settings.duplicate_radius_m
        )
    return await one(call)


async def rate(call: Call) -> Response:
    body: RatingIn = call.body
    async with call.state.pool.connection() as conn:
        case_id = await reports.owned_case(conn, call.param("id"), call.user_id)
        created = await reports.rate_case(conn, case_id, call.user_id, body.score, body.comment)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


async def photo(call: Call) -> Response:
    try:
        photo_id = int(call.param("photo_id"))
    except ValueError:
        raise NotFound("No such photo.") from None
    async with call.state.pool.connection() as conn:
        sha, content_type = await reports.read_photo(
            conn, call.principal, call.param("id"), photo_id, call.client_addr
        )
    path = photos.path_of(call.state.files_dir / "photos", sha, content_type)
    if not path.exists():
        raise NotFound("The photo's file is missing.")
    return FileResponse(path, media_type=content_type,
                        headers={"Cache-Control": "private, max-age=3600"})  # fmt: skip


endpoints = [
    Endpoint("POST", "/reports", submit, "Report a problem (随手拍): multipart with up to 5 "
             "photos; becomes a case routed to its grid cell and department", "reports", CITIZEN,
             form=ReportForm, files={"photos": ("JPEG, PNG, WebP or HEIC, at most 10 MB each", 5)},
             status=201, response=Report, idempotent=True, operation_id="submitReport",
             example={"category": "road_damage", "description": "人行道地砖松动 Loose paving",
                      "lon": 121.4737, "lat": 31.2304, "address": "南京东路 100 号"}),
    Endpoint("GET", "/reports", mine, "My reports, newest first", "reports", CITIZEN,
             query=paging.PageQuery, response=ReportPage, operation_id="listMyReports"),
    Endpoint("GET", "/reports/nearby", nearby, "Open cases of a category within 250 m "
             "(their public record): is it reported already?", "reports", ANY_USER,
             query=NearbyQuery, response=NearbyList, operation_id="listOpenCasesNearby"),
    Endpoint("GET", "/reports/{id}", one, "One of my reports with its timeline", "reports",
             CITIZEN, response=ReportDetail, operation_id="getMyReport"),
    Endpoint("PUT", "/reports/{id}/link", link, "Link my report to an open case nearby about "
             "the same thing", "reports", CITIZEN, body=LinkIn, response=ReportDetail,
             operation_id="linkMyReport", example={"case_id": "20261121-1A2B3C4D"}),
    Endpoint("PUT", "/reports/{id}/rating", rate, "Rate the handling of my resolved report "
             "(好差评), once", "reports", CITIZEN, body=RatingIn, status=201, response=RatingIn,
             operation_id="rateMyReport", example={"score": 5, "comment": "处理及时 Fixed fast"}),
    Endpoint("GET", "/reports/{id}/photos/{photo_id}", photo, "A photo of a report (its "
             "reporter, and staff whose jurisdiction holds the case; audited)", "reports",
             PHOTO_VIEWERS, media=("image/jpeg", "image/png", "image/webp"),
             operation_id="getReportPhoto"),
]  # fmt: skip
