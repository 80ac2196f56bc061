"""``/api/v1/staff/cases/{id}/photos``: the on-site check's photos (核查). A grid worker (or
anyone with ``check_on_site``) uploads the photos taken at a resolved case of their
jurisdiction, cleaned and stored like report photos, and passes their ids to GraphQL's
``checkCase``. ``{id}`` is the case's id as GraphQL gives it (``Case.id``)."""

from __future__ import annotations

from pydantic import BaseModel

from geo.access import Capability
from geo.errors import InvalidInput, NotFound
from geo.services import checks
from mobile_api import uploads
from mobile_api.contract import Call, Endpoint, needs
from mobile_api.reports import PhotoRef

CHECKERS = needs(Capability.CHECK_ON_SITE)


class CasePhotos(BaseModel):
    photos: list[PhotoRef]


async def upload(call: Call) -> CasePhotos:
    try:
        case_id = int(call.param("id"))
    except ValueError:
        raise NotFound(f"No case with id {call.param('id')}.") from None
    settings = call.state.settings
    limit = settings.max_photos * settings.max_photo_bytes + settings.max_json_bytes
    async with uploads.slot():  # streamed to disk, capped while read, decoded a few at a time
        form = await uploads.read_form(
            call.request, total_bytes=limit, file_bytes=settings.max_photo_bytes,
            max_files=settings.max_photos,
        )  # fmt: skip
        try:
            files = form.getlist("photos")
            parts = [f for f in files if isinstance(f, uploads.Upload)]
            if not parts or len(parts) != len(files):
                raise InvalidInput(f"Send 1 to {settings.max_photos} photos as file parts named "
                                   "photos (multipart/form-data).", field="photos")  # fmt: skip
            root = call.state.files_dir / "photos"
            cleaned = [await uploads.clean_photo(root, settings.max_photo_px, p) for p in parts]
        finally:
            await form.close()
    async with call.state.pool.connection() as conn:
        case, ids = await checks.add_photos(conn, case_id, call.principal, cleaned)
    return CasePhotos(photos=[
        PhotoRef(id=i, content_type=p.content_type, width=p.width, height=p.height,
                 url=f"/api/v1/reports/{case.public_id}/photos/{i}")
        for i, p in zip(ids, cleaned, strict=True)
    ])  # fmt: skip


endpoints = [
    Endpoint("POST", "/staff/cases/{id}/photos", upload, "Photos taken on site for the check "
             "(核查) of a resolved case of my jurisdiction: up to 5, their ids go to GraphQL "
             "checkCase", "staff", CHECKERS,
             files={"photos": ("JPEG, PNG, WebP or HEIC, at most 10 MB each", 5)},
             status=201, response=CasePhotos, operation_id="uploadCaseCheckPhotos", example={}),
]  # fmt: skip
