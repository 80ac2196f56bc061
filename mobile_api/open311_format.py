"""GeoReport v2's two formats, chosen by the path's extension (``services.json``,
``services.xml``): one document, rendered as JSON or as the spec's XML.

XML is built with ElementTree (no string templates), in the spec's shapes: a root naming the
list (``services``, ``service_requests``, ``errors``) around one element per item (``service``,
``request``, ``error``); a list inside an item is a wrapper holding one element per entry
(``attributes``/``attribute``, ``values``/``value``, ``endpoints``/``endpoint``); null is an
empty element, booleans are ``true``/``false``. Characters XML 1.0 cannot carry are replaced
with U+FFFD, so any stored text renders as well-formed XML.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from starlette.responses import Response

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
MEDIA = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
#: The element of each entry of a list, by the list's element name.
ITEM = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def format_of(path: str) -> Format:
    """The format a path asks for by its extension; JSON for anything else (errors of a path
    that names no format are answered in JSON)."""
    return "xml" if path.endswith(".xml") else "json"


def respond(
    fmt: Format,
    root: str,
    body: Sequence[Any] | Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` as JSON, or as XML under element ``root`` (a list: one ITEM[root] per entry;
    an object: its fields)."""
    if fmt == "json":
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return Response(content, status, headers, MEDIA["json"])
    element = ET.Element(root)
    _fill(element, body)
    content = ET.tostring(element, encoding="unicode", xml_declaration=False)
    declaration = '<?xml version="1.0" encoding="utf-8"?>\n'
    return Response(declaration + content, status, headers, MEDIA["xml"])


def errors(
    fmt: Format, status: int, description: str, headers: Mapping[str, str] | None = None
) -> Response:
    """GeoReport's error document: ``[{"code", "description"}]`` / ``<errors><error>``."""
    return respond(fmt, "errors", [{"code": status, "description": description}], status, headers)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, field in value.items():
            _fill(ET.SubElement(element, key), field)
    elif isinstance(value, list | tuple):
        item = ITEM.get(element.tag, "item")
        for entry in value:
            _fill(ET.SubElement(element, item), entry)
    else:
        element.text = _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))
