"""Uploaded images: type sniffed from the content, rotation fixed, metadata (EXIF, GPS, text
chunks) dropped by re-encoding, scaled to fit the size limit; stored by content hash.

HEIC/HEIF (iPhone photos) decode through pillow-heif and are stored as JPEG.

Decoding is bounded: an image's header is read first and one of more than :data:`MAX_PIXELS`
is refused (413, ``TooLarge``) before a pixel is decoded — Pillow's own decompression-bomb
check uses the same figure, and its warning is an error here; a JPEG decodes at the smallest
DCT scale that still covers the output (``draft``); and at most :data:`DECODE_SLOTS` images
decode at once in a process, whoever calls, preferably on the :data:`DECODERS` threads. So
decoding holds at most ``DECODE_SLOTS × MAX_PIXELS × 4`` bytes of pixels (320 MB), whatever
is uploaded.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from geo.citizen_errors import TooLarge, UnsupportedMedia

register_heif_opener()

MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
#: Images decoding at once in this process (each holds up to MAX_PIXELS × 4 bytes).
DECODE_SLOTS = 2
_decoding = threading.BoundedSemaphore(DECODE_SLOTS)
#: The threads that decode: few and long-lived, so the pixels' memory is reused by the same
#: few malloc arenas rather than left behind in one arena per worker thread that ever decoded.
DECODERS = ThreadPoolExecutor(max_workers=DECODE_SLOTS, thread_name_prefix="onemap-decode")
# Pillow warns past MAX_IMAGE_PIXELS and refuses twice as many; here both are refusals.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
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


def clean_image(data: bytes | BinaryIO, max_px: int) -> tuple[bytes, str, int, int]:
    """Re-encoded bytes without metadata, their type, width and height (CPU-bound: call it in
    a worker thread). ``data``: the bytes, or a seekable file holding them."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    source.seek(0)
    kind = sniff(source.read(16))
    source.seek(0)
    if kind is None:
        raise UnsupportedMedia("Photos must be JPEG, PNG, WebP or HEIC images.")
    with _decoding:
        try:
            return _clean(source, kind, max_px)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
            raise _bomb() from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
            raise UnsupportedMedia(
                f"The image could not be decoded ({type(exc).__name__})."
            ) from None


def _bomb() -> TooLarge:
    return TooLarge(f"The image has more than {MAX_PIXELS} pixels.", limit=MAX_PIXELS)


def _clean(source: BinaryIO, kind: str, max_px: int) -> tuple[bytes, str, int, int]:
    with Image.open(source, formats=[kind]) as img:  # reads the header only
        if img.width * img.height > MAX_PIXELS:
            raise _bomb()
        # Decodes now, a JPEG at a reduced DCT scale (draft) when that still covers max_px.
        img.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
        upright = ImageOps.exif_transpose(img)
        fmt, content_type = _OUT[kind]
        if fmt == "JPEG" and upright.mode != "RGB":
            upright = upright.convert("RGB")
        out = io.BytesIO()
        # No exif=/pnginfo=/icc: nothing of the original's metadata is written.
        upright.save(out, fmt, **({"quality": 85} if fmt in ("JPEG", "WEBP") else {}))
        return out.getvalue(), content_type, upright.width, upright.height


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
