"""Uploaded images: type sniffed from the content, rotation fixed, metadata (EXIF, GPS, text
chunks) dropped by re-encoding, scaled to fit the size limit; stored by content hash.

HEIC/HEIF (iPhone photos) decode through pillow-heif and are stored as JPEG.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from geo.citizen_errors import TooLarge, UnsupportedMedia

register_heif_opener()

MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
_OUT = {"JPEG": ("JPEG", "image/jpeg"), "HEIF": ("JPEG", "image/jpeg"),
        "PNG": ("PNG", "image/png"), "WEBP": ("WEBP", "image/webp")}  # fmt: skip
EXTENSION = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
             "application/pdf": "pdf"}  # fmt: skip


@dataclass(frozen=True)
class Stored:
    sha256: str
    content_type: str
    size: int
    width: int = 0
    height: int = 0


def sniff(data: bytes) -> str | None:
    """The image format by magic number, whatever the file name or declared type says."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim"):
        return "HEIF"
    return None


def clean_image(data: bytes, max_px: int) -> tuple[bytes, str, int, int]:
    """Re-encoded bytes without metadata, their type, width and height (CPU-bound: call it in
    a worker thread)."""
    kind = sniff(data)
    if kind is None:
        raise UnsupportedMedia("Photos must be JPEG, PNG, WebP or HEIC images.")
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as img:
            if img.width * img.height > MAX_PIXELS:
                raise TooLarge(f"The image has more than {MAX_PIXELS} pixels.")
            img.load()
            upright = ImageOps.exif_transpose(img)
            fmt, content_type = _OUT[kind]
            if fmt == "JPEG" and upright.mode != "RGB":
                upright = upright.convert("RGB")
            upright.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            # No exif=/pnginfo=/icc: nothing of the original's metadata is written.
            upright.save(out, fmt, **({"quality": 85} if fmt in ("JPEG", "WEBP") else {}))
            return out.getvalue(), content_type, upright.width, upright.height
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedMedia(f"The image could not be decoded ({type(exc).__name__}).") from None


def sniff_document(data: bytes) -> str:
    """Attachments: an image (cleaned like photos) or a PDF."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if sniff(data) is None:
        raise UnsupportedMedia("Attachments must be PDF documents or JPEG, PNG, WebP, HEIC images.")
    return "image"


def path_of(root: Path, sha256: str, content_type: str) -> Path:
    return root / sha256[:2] / f"{sha256}.{EXTENSION[content_type]}"


def store(root: Path, data: bytes, content_type: str) -> str:
    """Write ``data`` under its SHA-256 (atomically; the same content is stored once)."""
    digest = hashlib.sha256(data).hexdigest()
    target = path_of(root, digest, content_type)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    return digest
