"""Uploads (report photos, application materials, Open311 forms): bodies streamed to temporary
files under caps enforced while they are read, a bound on uploads in progress per process, and
photos decoded in worker threads, a few at a time (``geo.services.photos``).

- **Streamed.** A multipart body is parsed as it arrives (python-multipart); a file part goes
  to a ``SpooledTemporaryFile`` that holds :data:`SPOOL_BYTES` in memory and the rest on disk,
  hashed on the way. Nothing holds a whole body or a whole file in memory.
- **Capped while reading.** A declared ``Content-Length`` over the cap is refused before a byte
  is read; otherwise the body is counted as it streams and refused (413) the moment it passes
  the cap — the whole body's, or one file's — without reading the rest. Text fields are capped
  too (:data:`FIELD_BYTES`, :data:`MAX_FIELDS`), must be UTF-8 and may not hold a NUL.
- **Bounded.** At most :data:`MAX_UPLOADS` uploads run at once in a process; one more waits up
  to :data:`QUEUE_S` for a slot (its body unread: the client's TCP window holds it), then is
  answered 503 with ``Retry-After: BUSY_RETRY_S``.

docs/reliability.md has the memory this bounds, measured (bench/reliability/uploads.py).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import Any
from urllib.parse import parse_qsl
from weakref import WeakKeyDictionary

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.requests import Request

from geo.citizen_errors import TooLarge, UnsupportedMedia
from geo.errors import InvalidInput, Unavailable
from geo.services import photos
from geo.services.reports import Photo

#: A file part is held in memory up to this, then spooled to disk.
SPOOL_BYTES = 64 * 1024
#: A text field's bytes, and the text fields of one form.
FIELD_BYTES = 64 * 1024
MAX_FIELDS = 20
#: Uploads in progress per process; how long one more waits for a slot; the Retry-After then.
MAX_UPLOADS = 8
QUEUE_S = 10.0
BUSY_RETRY_S = 5
FORM_MEDIA = ("multipart/form-data", "application/x-www-form-urlencoded")

_slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()


class Upload(UploadFile):
    """A file part, spooled, with the SHA-256 of its bytes (hex)."""

    digest: str = ""


@asynccontextmanager
async def slot() -> AsyncIterator[None]:
    """One of the process's upload slots, for the time of the block (503 when none frees up
    within QUEUE_S)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(MAX_UPLOADS)
    try:
        async with asyncio.timeout(QUEUE_S):
            await slots.acquire()
    except TimeoutError:
        raise Unavailable(
            f"{MAX_UPLOADS} uploads are in progress; try again in a few seconds.",
            retry_after_s=BUSY_RETRY_S,
        ) from None
    try:
        yield
    finally:
        slots.release()


def _too_large(limit: int, what: str = "The request body") -> TooLarge:
    return TooLarge(f"{what} is larger than {limit} bytes.", limit=limit)


def _text(name: str, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"Form field {name!r} is not UTF-8 text.", field=name) from None
    if "\x00" in text:
        raise InvalidInput(
            f"Form field {name!r} contains a NUL character, which text cannot hold.", field=name
        )
    return text


async def read_form(
    request: Request, *, total_bytes: int, file_bytes: int, max_files: int
) -> FormData:
    """A form body: multipart streamed to spooled files, or urlencoded (no files), each capped
    while read. Close it (``await form.close()``) when done."""
    media, params = parse_options_header(request.headers.get("content-type", ""))
    if media.decode("latin-1") not in FORM_MEDIA:
        raise UnsupportedMedia(
            "Send the body as multipart/form-data (or, without files, "
            "application/x-www-form-urlencoded)."
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > total_bytes:
        raise _too_large(total_bytes)
    if media == b"application/x-www-form-urlencoded":
        return await _urlencoded(request, min(total_bytes, FIELD_BYTES * MAX_FIELDS))
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidInput("A multipart body needs its boundary in the Content-Type header.")
    reader = _Parts(max_files=max_files, file_bytes=file_bytes)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > total_bytes:
                raise _too_large(total_bytes)
            parser.write(chunk)
            await reader.flush()
        parser.finalize()
        if not reader.ended:
            raise InvalidInput("The multipart body ends before its closing boundary.")
    except FormParserError as exc:
        reader.close()
        raise InvalidInput(f"The multipart body is malformed: {exc}.") from None
    except BaseException:
        reader.close()
        raise
    return FormData(reader.items)


async def _urlencoded(request: Request, limit: int) -> FormData:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    try:
        pairs = parse_qsl(
            b"".join(chunks).decode("utf-8"), keep_blank_values=True, strict_parsing=False,
            encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS,
        )  # fmt: skip
    except UnicodeError:
        raise InvalidInput("The form is not UTF-8 text.") from None
    except ValueError:
        raise InvalidInput(f"A form has at most {MAX_FIELDS} fields.") from None
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise InvalidInput(
                f"Form field {name!r} contains a NUL character, which text cannot hold.",
                field=name,
            )
    items: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(items)


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: str = ""
    data: bytearray = field(default_factory=bytearray)
    upload: Upload | None = None
    size: int = 0
    hasher: Any = None


class _Parts:
    """python-multipart's callbacks: the parts of one body, checked as they come."""

    def __init__(self, *, max_files: int, file_bytes: int) -> None:
        self.max_files, self.file_bytes = max_files, file_bytes
        self.items: list[tuple[str, str | UploadFile]] = []
        self.ended = False
        self._part = _Part()
        self._field, self._value = b"", b""
        self._files = self._fields = 0
        self._pending: list[tuple[Upload, bytes]] = []
        self._finished: list[Upload] = []
        self._uploads: list[Upload] = []

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
            "on_header_field": self._header_field, "on_header_value": self._header_value,
            "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
            "on_end": self._done,
        }  # fmt: skip

    def _begin(self) -> None:
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        if len(self._value) > FIELD_BYTES:
            raise InvalidInput("A part's header is too long.")

    def _header_end(self) -> None:
        self._part.headers.append((self._field.lower(), self._value))
        self._field, self._value = b"", b""

    def _headers_done(self) -> None:
        part = self._part
        disposition = next((v for k, v in part.headers if k == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        if b"name" not in options:
            raise InvalidInput('Each part needs a name (Content-Disposition: form-data; name="…").')
        part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            self._fields += 1
            if self._fields > MAX_FIELDS:
                raise InvalidInput(f"A form has at most {MAX_FIELDS} text fields.")
            return
        self._files += 1
        if self._files > self.max_files:
            raise InvalidInput(f"At most {self.max_files} files may be sent here.")
        spool = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed with the form)
        part.upload = Upload(
            file=spool,  # type: ignore[arg-type]
            size=0,
            filename=options.get(b"filename", b"").decode("utf-8", "replace"),
            headers=Headers(raw=part.headers),
        )
        part.hasher = hashlib.sha256()
        self._uploads.append(part.upload)

    def _data(self, data: bytes, start: int, end: int) -> None:
        part, chunk = self._part, data[start:end]
        if part.upload is None:
            if len(part.data) + len(chunk) > FIELD_BYTES:
                raise _too_large(FIELD_BYTES, f"Form field {part.name!r}")
            part.data.extend(chunk)
            return
        part.size += len(chunk)
        if part.size > self.file_bytes:
            raise _too_large(self.file_bytes, f"File {part.upload.filename!r}")
        part.hasher.update(chunk)
        self._pending.append((part.upload, chunk))

    def _end(self) -> None:
        part = self._part
        if part.upload is None:
            self.items.append((part.name, _text(part.name, bytes(part.data))))
            return
        part.upload.digest = part.hasher.hexdigest()
        self._finished.append(part.upload)
        self.items.append((part.name, part.upload))

    def _done(self) -> None:
        self.ended = True

    async def flush(self) -> None:
        """Write what the last chunk brought to the files (on disk past SPOOL_BYTES: in a
        worker thread, by UploadFile)."""
        for upload, chunk in self._pending:
            await upload.write(chunk)
        for upload in self._finished:
            await upload.seek(0)
        self._pending.clear()
        self._finished.clear()

    def close(self) -> None:
        for upload in self._uploads:
            upload.file.close()


async def clean_photo(root: Path, max_px: int, upload: Upload) -> Photo:
    """A photo decoded and cleaned on the decoding threads (``photos`` bounds how many at once
    and how many pixels), then stored (a worker thread)."""
    upload.file.seek(0)
    decoding = photos.DECODERS.submit(photos.clean_image, upload.file, max_px)
    out, content_type, width, height = await asyncio.wrap_future(decoding)
    digest = await anyio.to_thread.run_sync(photos.store, root, out, content_type)
    return Photo(digest, content_type, width, height, len(out))
