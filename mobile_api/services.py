"""One-network services (一网通办) at ``/api/v1``: the catalogue, my applications and their
timelines, materials (补正), rating, and uploads of materials (attachments)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date, datetime
from typing import Annotated, Any, Literal

import anyio
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from geo.citizen_enums import ApplicationStatus
from geo.citizen_errors import TooLarge
from geo.errors import InvalidInput, NotFound
from geo.queries import fetch
from geo.queries import services as q
from geo.services import applications as apps
from geo.services import photos
from mobile_api import paging
from mobile_api.contract import CITIZEN, PUBLIC, Body, Call, Endpoint, read_form
from mobile_api.once import create_once
from mobile_api.reports import Department, RatingIn
from mobile_api.uploads import slot

Code = Annotated[str, Field(min_length=1, max_length=32)]


class ServicesQuery(BaseModel):
    q: Annotated[str | None, Field(max_length=50, description="Words of the name or code")] = None
    department: Annotated[str | None, Field(max_length=32, description="A department code")] = None


class ServiceSummary(BaseModel):
    code: str
    name_zh: str
    name_en: str
    department: Department
    online: bool
    legal_limit_days: int = Field(description="法定办结时限, working days")
    promised_limit_days: int = Field(description="承诺办结时限, working days")
    max_visits: int = Field(description="最多跑几次: visits in person at most")


class MaterialSpec(BaseModel):
    code: str
    name_zh: str
    name_en: str
    form: Literal["original", "copy"]
    e_licence: bool = Field(description="An electronic licence (电子证照) is accepted")
    required: bool


class ServiceDetail(ServiceSummary):
    description: str
    conditions: str
    materials: list[MaterialSpec]
    form_schema: dict[str, Any] = Field(description="JSON Schema the application form must match")


class ServiceList(BaseModel):
    items: list[ServiceSummary]


class MaterialIn(Body):
    code: Code
    attachment_id: Annotated[int | None, Field(ge=1)] = None
    e_licence_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class ApplicationIn(Body):
    service_code: Code
    form: dict[str, Any]
    materials: Annotated[list[MaterialIn], Field(default_factory=list, max_length=30)]


class ApplicationSummary(BaseModel):
    id: str
    service_code: str
    service_name_zh: str
    service_name_en: str
    status: ApplicationStatus
    department: str
    submitted_at: datetime
    accept_due: date = Field(description="Acceptance decided by (working days)")
    accepted_at: datetime | None
    due_date: date | None = Field(description="Decision due (promised limit, working days)")
    decided_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


class Applicant(BaseModel):
    id: int
    display_name: str


class ApplicationEvent(BaseModel):
    event: str
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus | None
    note: str | None
    detail: dict[str, Any]
    at: datetime


class ApplicationDetail(ApplicationSummary):
    form: dict[str, Any]
    materials: list[MaterialIn]
    applicant: Applicant | None = Field(description="Staff views only")
    rating: RatingIn | None
    timeline: list[ApplicationEvent]


class ApplicationPage(BaseModel):
    items: list[ApplicationSummary]
    next_cursor: str | None


class SupplementIn(Body):
    materials: Annotated[list[MaterialIn], Field(min_length=1, max_length=30)]


class Attachment(BaseModel):
    id: int
    content_type: str
    bytes: int
    filename: str


def _materials(given: list[MaterialIn]) -> list[apps.Material]:
    return [apps.Material(m.code, m.attachment_id, m.e_licence_id) for m in given]


async def catalogue(call: Call) -> ServiceList:
    args: ServicesQuery = call.query
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, q.items(args.q, args.department))
    return ServiceList(items=[ServiceSummary.model_validate(r) for r in found])


async def service(call: Call) -> ServiceDetail:
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, q.item(call.param("code")))
    if found is None:
        raise NotFound(f"No service item {call.param('code')!r}.")
    return ServiceDetail.model_validate(found)


async def apply(call: Call) -> Response:
    body: ApplicationIn = call.body

    async def create(conn: Any) -> ApplicationDetail:
        public_id = await apps.submit(
            conn, applicant=call.user_id, service_code=body.service_code, form=body.form,
            materials=_materials(body.materials), calendar=call.state.calendar,
        )  # fmt: skip
        return await _detail(conn, public_id, call)

    return await create_once(call, "application", body.model_dump(mode="json"), create)


async def _detail(conn: Any, public_id: str, call: Call) -> ApplicationDetail:
    """One of the caller's own applications (the query keeps to them)."""
    found = await fetch(conn, q.application(public_id, call.principal))
    if found is None:
        raise NotFound(f"No application {public_id}.")
    return ApplicationDetail.model_validate(found[0])


async def mine(call: Call) -> ApplicationPage:
    page: paging.PageQuery = call.query
    async with call.state.pool.connection() as conn:
        rows = await fetch(conn, q.my_applications(call.user_id, paging.decode(page.cursor),
                                                   page.limit + 1))  # fmt: skip
    return page_of(rows, page.limit)


def page_of(rows: list[tuple[dict[str, Any], datetime, int]], limit: int) -> ApplicationPage:
    last = rows[limit - 1] if len(rows) > limit else None
    return ApplicationPage(
        items=[ApplicationSummary.model_validate(r) for r, _, _ in rows[:limit]],
        next_cursor=paging.encode(last[1], last[2]) if last else None,
    )


async def one(call: Call) -> ApplicationDetail:
    async with call.state.pool.connection() as conn:
        return await _detail(conn, call.param("id"), call)


async def supplement(call: Call) -> ApplicationDetail:
    async with call.state.pool.connection() as conn:
        await apps.supplement(conn, call.param("id"), call.user_id,
                              _materials(call.body.materials), call.state.calendar)  # fmt: skip
        return await _detail(conn, call.param("id"), call)


async def rate(call: Call) -> Response:
    body: RatingIn = call.body
    async with call.state.pool.connection() as conn:
        created = await apps.rate_application(conn, call.param("id"), call.user_id, body.score,
                                              body.comment)  # fmt: skip
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


async def upload(call: Call) -> Response:
    limit = call.state.settings.max_attachment_bytes
    # Like report photos: one of the process's upload slots, the body streamed to disk under
    # its cap, images decoded on the bounded decoding threads (docs/reliability.md).
    async with slot():
        form = await read_form(call.request, limit + 64 * 1024, 1)
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise InvalidInput("Send the material as a multipart file part named 'file'.")
            data = await file.read()
            name = file.filename or "material"
        finally:
            await form.close()
        if len(data) > limit:
            raise TooLarge(f"The file is larger than {limit} bytes.", limit=limit)
        digest_in = hashlib.sha256(data).hexdigest()
        if photos.sniff_document(data) == "image":
            decoding = photos.DECODERS.submit(
                photos.clean_image, data, call.state.settings.max_photo_px
            )
            data, content_type, _, _ = await asyncio.wrap_future(decoding)
        else:
            content_type = "application/pdf"
    root = call.state.files_dir / "attachments"
    sha = await anyio.to_thread.run_sync(photos.store, root, data, content_type)

    async def create(conn: Any) -> Attachment:
        new_id = await apps.attach(conn, call.user_id, sha, content_type, len(data), name)
        return Attachment(id=new_id, content_type=content_type, bytes=len(data), filename=name)

    return await create_once(call, "attachment", {"sha256": digest_in, "name": name}, create)


endpoints = [
    Endpoint("GET", "/services", catalogue, "The service catalogue (一网通办): search by "
             "words, filter by department", "services", PUBLIC, query=ServicesQuery,
             response=ServiceList, operation_id="listServices"),
    Endpoint("GET", "/services/{code}", service, "A service item: materials, time limits, "
             "form schema", "services", PUBLIC, response=ServiceDetail, operation_id="getService"),
    Endpoint("POST", "/attachments", upload, "Upload a material (PDF or image, ≤ 10 MB) to "
             "use in an application", "services", CITIZEN, files={"file": ("PDF or image", 1)},
             status=201, response=Attachment, idempotent=True, operation_id="uploadAttachment",
             example={}),
    Endpoint("POST", "/applications", apply, "Apply for a service: the form is validated "
             "against the item's schema, the required materials must be there", "services",
             CITIZEN, body=ApplicationIn, status=201, response=ApplicationDetail,
             idempotent=True, operation_id="applyForService", example={
                 "service_code": "SC-MR-001",
                 "form": {"applicant_name": "张三", "id_number": "31010119900101123X",
                          "contact_phone": "13700000001", "business_name": "张三便利店",
                          "business_scope": "日用百货零售", "address": "南京东路 100 号"},
                 "materials": [{"code": "id_card", "e_licence_id": "EL-310101-000042"},
                               {"code": "lease", "attachment_id": 42}]}),
    Endpoint("GET", "/applications", mine, "My applications, newest first", "services",
             CITIZEN, query=paging.PageQuery, response=ApplicationPage,
             operation_id="listMyApplications"),
    Endpoint("GET", "/applications/{id}", one, "One of my applications with its timeline",
             "services", CITIZEN, response=ApplicationDetail, operation_id="getMyApplication"),
    Endpoint("POST", "/applications/{id}/supplement", supplement, "Supply the materials asked "
             "for (补正)", "services", CITIZEN, body=SupplementIn, response=ApplicationDetail,
             operation_id="supplementMyApplication",
             example={"materials": [{"code": "lease", "attachment_id": 43}]}),
    Endpoint("PUT", "/applications/{id}/rating", rate, "Rate a completed application "
             "(好差评), once", "services", CITIZEN, body=RatingIn, status=201,
             response=RatingIn, operation_id="rateMyApplication",
             example={"score": 4, "comment": "一次办成 Done in one visit"}),
]  # fmt: skip
