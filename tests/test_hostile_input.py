"""Hostile input: every surface answers a 4xx with a readable message, never a 5xx.

The corpus (:data:`CORPUS`) holds what an attacker sends — NUL bytes, text that is not UTF-8,
malformed and deeply nested JSON, NaN and Infinity, huge and negative numbers, overlong strings,
path traversal, wrong content types, oversized bodies, decompression bombs, garbage SDP — at
``/api/v1`` and Open311 (problem+json), ``/graphql`` (errors with ``extensions.code``),
``/ogc`` and its tiles (OGC exception JSON) and ``/streams`` (problem+json). Each answer must
be below 500 and carry a message in its surface's format. The tests after the corpus check the
answers that must be right, not just refusals: CQL2 with ``%`` and LIKE wildcards.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import jwt
import psycopg
import pytest
from PIL import Image
from starlette.requests import Request
from starlette.testclient import TestClient

from geo import layers
from geo.citizen_errors import TooLarge
from geo.errors import InvalidInput, Unavailable
from geo.queries import ogc_filter
from geo.services import photos
from mobile_api import uploads
from seed.catalogue import DEMO_OPEN311_KEY
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import a_point, auth, key, user_with_role
from tests.webrtc_helpers import recvonly_offer_sync

ITEMS = "/ogc/collections/facilities/items"
TILE = "/ogc/collections/facilities/tiles/WebMercatorQuad"
GEOJSON = "application/geo+json"
NESTED = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
NESTED_SMALL = b"[" * 20_000 + b"]" * 20_000  # within the citizen API's 64 KB body cap


def png(width: int, height: int) -> bytes:
    """A 1-bit PNG of ``width``×``height`` zeros, written without decoding anything: a 20000²
    one is a decompression bomb of 400 M pixels in about 50 KB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class Probe:
    """One hostile request: ``who`` names the caller, ``fmt`` the error format expected."""

    name: str
    method: str
    path: str
    fmt: str  # "problem" | "graphql" | "ogc" | "open311" | "verdict" | "any"
    who: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    status: int | None = None  # the exact status, where one is promised
    idempotent: bool = False
    answer_ok: bool = False  # a 200 is a right answer too (a filter that matches nothing)


def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    query = query.replace("$PAGE", "pageInfo { hasNextPage }")
    return {"json": {"query": query, "variables": variables or {}}}


def raw(body: bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {"content": body, "headers": {"Content-Type": content_type}}


def report(text: dict[str, str], photos: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
    files = [("photos", (name, data, "image/png")) for name, data in photos or []]
    return {"data": text, "files": files or None}


FIELDS = {"category": "road_damage", "description": "hostile", "lon": "121.47", "lat": "31.23"}
NUL = "a\x00b"
CREATE_CASE = (
    'mutation($d: String!) { createCase(input: {category: "road_damage", lon: 121.47, '
    "lat: 31.23, description: $d}) { ... on CaseResult { __typename } } }"
)


def corpus() -> list[Probe]:
    bomb, big_bomb = png(7_000, 7_000), png(20_000, 20_000)
    p: list[Probe] = []
    add = p.append
    # -- /api/v1: reports (multipart) ----------------------------------------------------------
    for name, value in [("description", NUL), ("category", "\x00"), ("address", NUL),
                        ("lon", "NaN"), ("lat", "Infinity"), ("lon", "1e999"),
                        ("lon", "-1e400"), ("link_to", "\x00"), ("category", "x" * 100_000),
                        ("description", "長" * 5_000)]:  # fmt: skip
        add(Probe(f"report {name}={value[:12]!r}", "POST", "/api/v1/reports", "problem",
                  "citizen", report({**FIELDS, name: value}), idempotent=True))  # fmt: skip
    add(Probe("report PNG bomb 400 Mpx", "POST", "/api/v1/reports", "problem", "citizen",
              report(FIELDS, [("bomb.png", big_bomb)]), status=413, idempotent=True))  # fmt: skip
    add(Probe("report PNG bomb 49 Mpx", "POST", "/api/v1/reports", "problem", "citizen",
              report(FIELDS, [("bomb.png", bomb)]), status=413, idempotent=True))  # fmt: skip
    add(Probe("report photo over 10 MB", "POST", "/api/v1/reports", "problem", "citizen",
              report(FIELDS, [("big.jpg", b"\xff\xd8\xff" + b"\0" * (10 * 2**20))]),
              status=413, idempotent=True))  # fmt: skip
    add(
        Probe(
            "report six photos",
            "POST",
            "/api/v1/reports",
            "problem",
            "citizen",
            report(FIELDS, [(f"{i}.jpg", jpeg()) for i in range(6)]),
            idempotent=True,
        )
    )
    add(Probe("report truncated PNG", "POST", "/api/v1/reports", "problem", "citizen",
              report(FIELDS, [("cut.png", png(64, 64)[:40])]), idempotent=True))  # fmt: skip
    add(Probe("report not an image", "POST", "/api/v1/reports", "problem", "citizen",
              report(FIELDS, [("x.png", b"GIF89a" + b"\0" * 100)]), status=415,
              idempotent=True))  # fmt: skip
    add(Probe("report declared 1 GB body", "POST", "/api/v1/reports", "problem", "citizen",
              {"content": b"--x\r\n", "headers": {
                  "Content-Type": "multipart/form-data; boundary=x",
                  "Content-Length": str(2**30)}}, status=413, idempotent=True))  # fmt: skip
    add(Probe("report multipart without boundary", "POST", "/api/v1/reports", "problem",
              "citizen", raw(b"garbage", "multipart/form-data"), idempotent=True))  # fmt: skip
    add(Probe("report truncated multipart", "POST", "/api/v1/reports", "problem", "citizen",
              raw(b'--b\r\nContent-Disposition: form-data; name="category"\r\n\r\nroad',
                  "multipart/form-data; boundary=b"), idempotent=True))  # fmt: skip
    add(Probe("report part without a name", "POST", "/api/v1/reports", "problem", "citizen",
              raw(b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
                  "multipart/form-data; boundary=b"), idempotent=True))  # fmt: skip
    add(Probe("report as JSON", "POST", "/api/v1/reports", "problem", "citizen",
              {"json": FIELDS}, status=415, idempotent=True))  # fmt: skip
    add(Probe("report urlencoded not UTF-8", "POST", "/api/v1/reports", "problem", "citizen",
              raw(b"category=%ff%fe&description=\xff\xfe&lon=1&lat=2",
                  "application/x-www-form-urlencoded"), idempotent=True))  # fmt: skip
    # -- /api/v1: queries and path parameters ------------------------------------------------
    for query in [
        "lon=NaN&lat=31.2&category=road_damage",
        "lon=inf&lat=31.2&category=x",
        "lon=121.4&lat=31.2&category=%00",
        "lon=%ff%fe&lat=1&category=x",
        "lon=1e999&lat=1e999&category=x",
        "lon=121.4&lat=31.2&category=" + "x" * 9000,
    ]:
        add(Probe(f"nearby {query[:40]}", "GET", f"/api/v1/reports/nearby?{query}", "problem",
                  "citizen"))  # fmt: skip
    for query in [
        "limit=-1",
        "limit=99999999999999999999999",
        "cursor=garbage",
        "cursor=%00",
        "cursor=" + "A" * 5000,
        "limit=NaN",
    ]:
        add(Probe(f"my reports {query[:30]}", "GET", f"/api/v1/reports?{query}", "problem",
                  "citizen"))  # fmt: skip
    for path in [
        "/api/v1/reports/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/reports/%00",
        "/api/v1/reports/x/photos/99999999999999999999999",
        "/api/v1/reports/x/photos/-1",
        "/api/v1/reports/%00/photos/1",
        "/api/v1/services/%00",
        "/api/v1/services/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/applications/%00",
        "/api/v1/services?q=%00",
        "/api/v1/services?department=%00",
        "/api/v1/me/notifications?since=%00",
        "/api/v1/locate?lon=NaN&lat=NaN",
        "/api/v1/locate?lon=inf&lat=-inf",
        "/api/v1/locate?lon=%ff&lat=1",
        "/api/v1/locate?lon=1e999&lat=31",
    ]:
        add(Probe(f"GET {path[:50]}", "GET", path, "problem", "citizen"))
    add(Probe("rating comment NUL", "PUT", "/api/v1/reports/20261121-1A2B3C4D/rating",
              "problem", "citizen", {"json": {"score": 5, "comment": NUL}}))  # fmt: skip
    add(Probe("rating score huge", "PUT", "/api/v1/reports/x/rating", "problem", "citizen",
              raw(b'{"score": 99999999999999999999999999}')))  # fmt: skip
    add(Probe("rating score 1e400", "PUT", "/api/v1/reports/x/rating", "problem", "citizen",
              raw(b'{"score": 1e400}')))  # fmt: skip
    add(Probe("rating score NaN", "PUT", "/api/v1/reports/x/rating", "problem", "citizen",
              raw(b'{"score": NaN}')))  # fmt: skip
    # -- /api/v1: JSON bodies ----------------------------------------------------------------
    json_bodies: list[tuple[str, dict[str, Any], int | None]] = [
        ("malformed JSON", raw(b'{"reason": '), 400),
        ("not UTF-8", raw(b'{"reason": "\xff\xfe"}'), 400),
        ("UTF-16", raw('{"reason": "x"}'.encode("utf-16")), 400),
        ("wrong content type", raw(b'{"reason": "x"}', "text/plain"), 415),
        ("no content type", {"content": b'{"reason": "x"}'}, 415),
        ("oversized", raw(b'{"reason": "' + b"x" * 200_000 + b'"}'), 413),
        ("deeply nested", raw(NESTED_SMALL), 400),
        ("deep object", raw(b'{"a":' * 10_000 + b"1" + b"}" * 10_000), 400),
        ("reason NUL", {"json": {"reason": NUL}}, 400),
        ("reason NUL escaped", raw(b'{"reason": "a\\u0000b"}'), 400),
        ("lone surrogate", raw(b'{"reason": "\\ud800"}'), 400),
        ("top-level array", raw(b"[]"), 400),
        ("null", raw(b"null"), 400),
        ("empty", raw(b""), 400),
    ]
    for name, kwargs, status in json_bodies:
        add(Probe(f"appeal {name}", "POST", "/api/v1/me/health-code/appeals", "problem",
                  "citizen", kwargs, status=status, idempotent=True))  # fmt: skip
    add(Probe("check-in venue NUL", "POST", "/api/v1/me/checkins", "problem", "citizen",
              {"json": {"venue_code": "\x00"}}, status=400, idempotent=True))  # fmt: skip
    add(Probe("application form NUL", "POST", "/api/v1/applications", "problem", "citizen",
              {"json": {"service_code": "x", "form": {"name": "\u0000"}}},
              idempotent=True))  # fmt: skip
    add(Probe("application form NUL key", "POST", "/api/v1/applications", "problem",
              "citizen", {"json": {"service_code": "x", "form": {"\u0000": 1}}},
              idempotent=True))  # fmt: skip
    add(Probe("otp phone NUL", "POST", "/api/v1/auth/otp", "problem", None,
              {"json": {"phone": "\x00"}}))  # fmt: skip
    add(Probe("token password NUL", "POST", "/api/v1/auth/token", "problem", None,
              {"json": {"grant_type": "password", "phone": "13800000001",
                        "password": NUL}}))  # fmt: skip
    add(Probe("refresh token NUL", "POST", "/api/v1/auth/refresh", "problem", None,
              {"json": {"refresh_token": NUL}}))  # fmt: skip
    add(Probe("attachment PNG bomb", "POST", "/api/v1/attachments", "problem", "citizen",
              {"files": [("file", ("bomb.png", big_bomb, "image/png"))]}, status=413,
              idempotent=True))  # fmt: skip
    # -- /api/v1: health-code verification ---------------------------------------------------
    for name, token in [("garbage", "garbage"), ("three dots", "a.b.c"), ("NUL", "\x00"),
                        ("long", "x" * 2000), ("alg none", jwt.encode({"sub": "x"}, None,
                                                                      algorithm="none")),
                        ("header not JSON", "eyJhbGciOiJFUzI1NiJ9x.e30.sig")]:  # fmt: skip
        add(Probe(f"verify {name}", "POST", "/api/v1/health-codes/verify", "verdict",
                  "verifier", {"json": {"token": token}}))  # fmt: skip
    add(Probe("verify token too long", "POST", "/api/v1/health-codes/verify", "problem",
              "verifier", {"json": {"token": "x" * 5000}}, status=400))  # fmt: skip
    # -- Open311 ---------------------------------------------------------------------------
    for path in [
        "/open311/v2/requests.json?service_request_id=%00",
        "/open311/v2/requests.json?start_date=garbage",
        "/open311/v2/requests.json?service_code=%00",
        "/open311/v2/requests/%00.json",
        "/open311/v2/services/%00.json",
        "/open311/v2/requests.json?status=%00",
        "/open311/v2/services.json?jurisdiction_id=%00",
    ]:
        add(Probe(f"open311 {path[12:50]}", "GET", path, "open311"))
    add(
        Probe(
            "open311 post description NUL",
            "POST",
            "/open311/v2/requests.json",
            "open311",
            None,
            {
                "data": {
                    "api_key": DEMO_OPEN311_KEY,
                    "service_code": "manhole_cover",
                    "lat": "31.23",
                    "long": "121.47",
                    "description": NUL,
                }
            },
        )
    )
    add(Probe("open311 post lat NaN", "POST", "/open311/v2/requests.json", "open311", None,
              {"data": {"api_key": DEMO_OPEN311_KEY, "service_code": "manhole_cover",
                        "lat": "NaN", "long": "inf"}}))  # fmt: skip
    add(Probe("open311 post api_key NUL", "POST", "/open311/v2/requests.json", "open311",
              None, {"data": {"api_key": "\x00", "service_code": "x"}}))  # fmt: skip
    # -- /graphql ------------------------------------------------------------------------
    g = "/graphql"
    gql_bodies: list[tuple[str, dict[str, Any]]] = [
        ("not UTF-8", raw(b'{"query": "{ departments { code } }\xff\xfe"}')),
        ("malformed JSON", raw(b'{"query": ')),
        ("text/plain", raw(b'{"query": "{ departments { code } }"}', "text/plain")),
        ("no content type", {"content": b'{"query": "{ me { id } }"}'}),
        ("top-level string", raw(b'"query"')),
        ("top-level number", raw(b"12")),
        ("top-level null", raw(b"null")),
        ("empty batch", raw(b"[]")),
        ("query not a string", raw(b'{"query": 12}')),
        ("variables not an object", raw(b'{"query": "{ me { id } }", "variables": [1]}')),
        ("no query", raw(b'{"variables": {}}')),
        ("oversized", raw(b'{"query": "{ me { id } }", "x": "' + b"x" * 3_000_000 + b'"}')),
        (
            "deeply nested variables",
            raw(b'{"query": "{ me { id } }", "variables": {"a": ' + NESTED + b"}}"),
        ),
        (
            "NaN variable",
            raw(
                b'{"query": "query($a: Float!, $b: Float!) { gridCellAt(lon: $a,'
                b' lat: $b) { gridCell { id } } }", "variables": {"a": NaN,'
                b' "b": Infinity}}'
            ),
        ),
        ("NUL in variables", gql(CREATE_CASE, {"d": NUL})),
        ("NUL escape in a literal", gql('{ case(id: "\\u0000") { id } }')),
        ("NUL in an ID", gql("query($i: ID!) { case(id: $i) { id } }", {"i": "\x00"})),
        ("traversal id", gql('{ case(id: "../../etc/passwd") { id } }')),
        (
            "categories NUL",
            gql(
                "query($c: [String!]) { cases(categories: $c, first: 1) { $PAGE } }",
                {"c": ["\x00"]},
            ),
        ),
        ("first -1", gql("{ facilities(first: -1) { $PAGE } }")),
        ("first huge", gql("{ facilities(first: 99999999999999999999) { $PAGE } }")),
        ("cursor garbage", gql('{ facilities(first: 1, after: "garbage!") { $PAGE } }')),
        ("cursor NUL", gql('{ facilities(first: 1, after: "\\u0000") { $PAGE } }')),
        (
            "radius huge",
            gql("{ incident(lon: 121.47, lat: 31.23, radiusM: 1e308) { __typename } }"),
        ),
        (
            "overlong string (an answer)",
            gql(
                "query($c: [String!]) { cases(categories: $c, first: 1) { $PAGE } }",
                {"c": ["x" * 500_000]},
            ),
        ),
        ("syntax error", gql("{ facilities(")),
        ("GET not UTF-8", {}),
    ]
    for name, kwargs in gql_bodies:
        if name == "GET not UTF-8":
            add(Probe("graphql GET not UTF-8", "GET", g + "?query=%7B%ff%fe%7D", "graphql"))
            continue
        add(Probe(f"graphql {name}", "POST", g, "graphql", "admin", kwargs,
                  answer_ok="(an answer)" in name))  # fmt: skip
    # -- /ogc --------------------------------------------------------------------------------
    for query in [
        "capacity=99999999999999999999999",
        "capacity=-99999999999999999999999",
        "filter=" + "(" * 5000 + "capacity%3D1" + ")" * 5000,
        "filter=capacity%3D99999999999999999999999999",
        "filter=name_en%3D'%25'",
        "filter=name_en%20LIKE%20'%25%25%25'",
        "filter=name_en%3D'%25(limit)s'",
        "filter=name_en%20LIKE%20'%5C%25'",
        "filter=name_en%3D'%ff%fe'",
    ]:
        add(Probe(f"ogc items (an answer) {query[:40]}", "GET", f"{ITEMS}?{query}", "ogc",
                  answer_ok=True))  # fmt: skip
    for query in [
        "limit=-1",
        "limit=99999999999999999999999",
        "offset=-5",
        "offset=99999999999999999999999",
        "bbox=NaN,NaN,NaN,NaN",
        "bbox=1e999,0,1e999,1",
        "bbox=a,b,c,d",
        "datetime=garbage",
        "datetime=99999-01-01",
        "sortby=%00",
        "sortby=nope",
        "properties=%00",
        "name_en=%00",
        "capacity=NaN",
        "capacity=abc",
        "crs=%00",
        "f=%00",
        "filter=%00",
        "filter=name_en%3D'%00'",
        "filter=" + "NOT%20" * 3000 + "capacity%3D1",
        "filter-lang=cql2-json&filter=" + "%5B" * 5000,
        "filter-lang=cql2-json&filter=%7B%22op%22%3A%22%3D%22%2C%22args%22%3A%5B%7B"
        "%22property%22%3A%22name_en%22%7D%2C%22a%5Cu0000b%22%5D%7D",
        "filter=name_en%20LIKE%2012",
        "filter=" + "x" * 20_000,
        "filter=name_en%20LIKE%20'abc%5C'",
        "filter=capacity%20%3D%20NaN",
        "filter=capacity%20%3D%201e400",
        "%ff%fe=1",
        "limit=%ff",
    ]:
        add(Probe(f"ogc items {query[:40]}", "GET", f"{ITEMS}?{query}", "ogc"))
    for path in [
        f"{ITEMS}/..%2F..%2Fetc%2Fpasswd",
        f"{ITEMS}/%00",
        f"{ITEMS}/99999999999999999999999",
        f"{ITEMS}/-1",
        "/ogc/collections/%00/items",
        "/ogc/collections/..%2F..%2Fetc/items",
        "/ogc/collections/facilities?f=%00",
        "/ogc/collections/%00",
        "/ogc/collections/facilities/queryables?profile=%00",
        f"{TILE}/99/0/0",
        f"{TILE}/-1/0/0",
        f"{TILE}/1/9999999999/0",
        f"{TILE}/abc/0/0",
        f"{TILE}/1/99999999/99999999",
        "/ogc/collections/facilities/tiles/%00/0/0/0",
        "/ogc/collections/facilities/tiles/..%2F..%2F/0/0/0",
        "/ogc/TileMatrixSets/%00",
    ]:
        add(Probe(f"ogc GET {path[16:60]}", "GET", path, "ogc"))
    writes: list[tuple[str, dict[str, Any], int | None]] = [
        ("deeply nested", raw(NESTED, GEOJSON), 400),
        ("deep object", raw(DEEP_OBJECT, GEOJSON), 400),
        ("NUL name", {"json": _feature(name_zh="a\x00b")}, 400),
        ("NUL key", {"json": _feature(**{"\x00": 1})}, 400),
        ("NUL code", {"json": _feature(code="\x00")}, 400),
        ("not UTF-8", raw(b'{"type": "Feature", "x": "\xff"}', GEOJSON), 400),
        ("text/plain", raw(json.dumps(_feature()).encode(), "text/plain"), None),
        ("oversized", raw(b'{"type": "Feature", "x": "' + b"x" * 2_000_000 + b'"}', GEOJSON), 413),
        (
            "NaN coordinates",
            raw(
                json.dumps(_feature(coords=["NaN", 1])).encode().replace(b'"NaN"', b"NaN"), GEOJSON
            ),
            400,
        ),
        (
            "huge int coordinates",
            raw(json.dumps(_feature(coords=[10**400, 31])).encode(), GEOJSON),
            400,
        ),
        ("huge capacity", {"json": _feature(capacity=10**30)}, 400),
        (
            "capacity 1e400",
            raw(
                json.dumps(_feature(capacity=1))
                .encode()
                .replace(b'"capacity": 1', b'"capacity": 1e400'),
                GEOJSON,
            ),
            400,
        ),
        ("overlong name", {"json": _feature(name_en="x" * 200_000)}, 400),
        ("nested properties", {"json": _feature(name_en={"a": [1, {"b": 2}]})}, 400),
        ("empty body", raw(b"", GEOJSON), 400),
    ]
    for name, kwargs, status in writes:
        add(Probe(f"ogc POST {name}", "POST", ITEMS, "ogc", "admin", kwargs, status=status))
    add(Probe("ogc PUT NUL", "PUT", f"{ITEMS}/1", "ogc", "admin",
              {"json": _feature(address="\x00")}))  # fmt: skip
    add(Probe("ogc PUT traversal", "PUT", f"{ITEMS}/..%2F..%2F1", "ogc", "admin",
              {"json": _feature()}))  # fmt: skip
    # -- /streams ------------------------------------------------------------------------
    whep = "/streams/cameras/1/whep"
    sdp = "application/sdp"
    for name, kwargs in [("garbage SDP", raw(b"hello", sdp)),
                         ("v=0 garbage", raw(b"v=0\r\nm=garbage\r\nc=IN\r\n", sdp)),
                         ("not UTF-8", raw(b"v=0\r\n\xff\xfe", sdp)),
                         ("NUL", raw(b"v=0\r\no=- \x00\r\n", sdp)),
                         ("oversized", raw(b"v=0\r\n" + b"a=x\r\n" * 20_000, sdp)),
                         ("wrong type", raw(b"v=0", "text/plain")),
                         ("empty", raw(b"", sdp))]:  # fmt: skip
        add(Probe(f"whep {name}", "POST", whep, "problem", "viewer", kwargs))
    add(Probe("whep huge camera id", "POST", "/streams/cameras/99999999999999999999999/whep",
              "problem", "viewer", {"offer": True}))  # fmt: skip
    add(Probe("whep patch unknown session", "PATCH", f"{whep}/..%2F..%2Fx", "problem",
              "viewer", raw(b"a=ice-ufrag:x", "application/trickle-ice-sdpfrag")))  # fmt: skip
    add(Probe("streams static traversal", "GET", "/streams/static/..%2F..%2Froutes.py",
              "any"))  # fmt: skip
    return p


def _feature(coords: list[Any] | None = None, **props: Any) -> dict[str, Any]:
    base = {"code": "H-" + uuid.uuid4().hex[:8], "category": "shelter", "name_zh": "测试",
            "name_en": "Test", "capacity": 10}  # fmt: skip
    return {"type": "Feature", "geometry": {"type": "Point",
                                            "coordinates": coords or [121.4737, 31.2304]},
            "properties": base | props}  # fmt: skip


CORPUS = corpus()


@pytest.fixture(scope="module")
def callers(database_url: str, tokens: TokenService) -> dict[str | None, dict[str, str]]:
    return {
        None: {},
        "citizen": auth(tokens, user_with_role(database_url, "citizen"), "citizen"),
        "admin": auth(tokens, 1, "admin"),
        "verifier": auth(tokens, user_with_role(database_url, "verifier"), "verifier"),
        "viewer": auth(tokens, user_with_role(database_url, "camera_viewer"), "camera_viewer"),
    }


@pytest.fixture(scope="module")
def offer() -> bytes:
    return recvonly_offer_sync()


def readable(response: Any, fmt: str) -> str:
    """The message of an error answer in its surface's format (asserting the format)."""
    media = response.headers.get("content-type", "").split(";")[0]
    if fmt == "problem":
        assert media == "application/problem+json", (media, response.text[:300])
        body = response.json()
        assert body["status"] == response.status_code and body["type"].startswith("urn:onemap:")
        return str(body["detail"])
    if fmt == "graphql":
        assert media in ("application/json", "application/graphql-response+json"), media
        errors = response.json()["errors"]
        assert errors and all(e["message"] for e in errors)
        assert isinstance(errors[0]["extensions"]["code"], str), errors
        return str(errors[0]["message"])
    if fmt == "ogc":
        assert media == "application/json", (media, response.text[:300])
        body = response.json()
        assert body["code"] and body["type"]
        return str(body["description"])
    if fmt == "open311":  # GeoReport v2's errors: [{"code": …, "description": …}]
        assert media == "application/json", (media, response.text[:300])
        (body,) = response.json()
        assert body["code"] == response.status_code
        return str(body["description"])
    if fmt == "verdict":  # the contract's verdict: 200 {"valid": false, "reason": …}
        if response.status_code == 200:
            body = response.json()
            assert body["valid"] is False
            return str(body["reason"])
        return readable(response, "problem")
    return response.text or str(response.status_code)


@pytest.mark.parametrize("probe", CORPUS, ids=[p.name for p in CORPUS])
def test_hostile_input_is_a_readable_4xx(
    client: TestClient, callers: dict[str | None, dict[str, str]], offer: bytes, probe: Probe
) -> None:
    kwargs = dict(probe.kwargs)
    headers = {**callers[probe.who], **kwargs.pop("headers", {})}
    if probe.idempotent:
        headers["Idempotency-Key"] = key()
    if kwargs.pop("offer", False):
        kwargs["content"] = offer
        headers["Content-Type"] = "application/sdp"
    r = client.request(probe.method, probe.path, headers=headers, **kwargs)
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if probe.status is not None:
        assert r.status_code == probe.status, (r.status_code, r.text[:500])
    if probe.answer_ok and r.status_code == 200:
        return
    if probe.fmt not in ("verdict", "any", "graphql"):
        assert r.status_code >= 400, r.text[:300]
    message = readable(r, probe.fmt)
    assert message.strip() and "Traceback" not in message and "psycopg" not in message


def test_the_corpus_is_large_and_covers_every_surface() -> None:
    surfaces = {p.path.split("/")[1] for p in CORPUS}
    assert {"api", "open311", "graphql", "ogc", "streams"} <= surfaces
    assert len(CORPUS) >= 150


# -- answers that must be right, not just refusals -------------------------------------------


def _names(client: TestClient, cql: str) -> list[str]:
    r = client.get(ITEMS, params={"filter": cql, "limit": 10_000, "properties": "name_en"})
    assert r.status_code == 200, r.text
    return sorted(f["properties"]["name_en"] for f in r.json()["features"])


def _sql_names(database_url: str, where: str, *args: Any) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT name_en FROM facilities WHERE category <> 'hazard_source' AND " + where, args
        ).fetchall()  # the public layer's rows: compared with what /ogc answers anonymously
    return sorted(r[0] for r in rows)


def test_cql2_percent_is_a_value_and_like_wildcards_work(
    client: TestClient, database_url: str
) -> None:
    assert _names(client, "name_en='100%'") == []
    assert _names(client, "name_en='%(limit)s'") == []
    assert _names(client, "name_en LIKE '%%'") == _names(client, "name_en LIKE '%'")
    first = client.get(ITEMS, params={"limit": 1}).json()["features"][0]["properties"]
    prefix = first["name_en"][:4]
    found = _names(client, f"name_en LIKE '{prefix}%'")
    assert first["name_en"] in found and all(n.startswith(prefix) for n in found)
    assert found == _sql_names(database_url, "name_en LIKE %s", prefix + "%")
    one = _names(client, f"name_en LIKE '{prefix[:-1]}_%'")
    assert one == _sql_names(database_url, "name_en LIKE %s", prefix[:-1] + "_%")
    assert _names(client, f"name_en = '{first['name_en']}'") == sorted(
        n for n in found if n == first["name_en"]
    )
    # An escaped wildcard is a character: no name holds a literal % or _.
    assert _names(client, "name_en LIKE '%\\%%'") == []
    assert _names(client, "name_en LIKE '%\\_%'") == []
    assert _names(client, "NOT name_en LIKE '%'") == []
    # cql2-json says the same.
    like = {"op": "like", "args": [{"property": "name_en"}, prefix + "%"]}
    r = client.get(ITEMS, params={"filter": json.dumps(like), "filter-lang": "cql2-json",
                                  "limit": 10_000, "properties": "name_en"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert sorted(f["properties"]["name_en"] for f in r.json()["features"]) == found


@pytest.mark.parametrize(
    ("view", "text", "lang"),
    [(layers.FACILITIES, "name_en = 'x; DROP TABLE cases; --' AND capacity > 7", "cql2-text"),
     (layers.FACILITIES, "name_en LIKE '%DROP TABLE%' OR capacity BETWEEN 3 AND 9",
      "cql2-text"),
     (layers.FACILITIES, "S_INTERSECTS(geometry, POINT(121.4 31.2)) AND name_en IN ('a', 'b')",
      "cql2-text"),
     (layers.CASES_PUBLIC, '{"op": "t_during", "args": [{"property": "reported_at"}, '
      '{"interval": ["2020-01-01T00:00:00Z", ".."]}]}', "cql2-json")],
)  # fmt: skip
def test_cql2_values_are_bound_parameters_never_sql_text(
    view: layers.LayerView, text: str, lang: str
) -> None:
    """Every value of a filter travels as a bind parameter: the SQL text holds placeholders,
    identifiers and operators only."""
    predicate = ogc_filter.to_sql(view, text, lang)
    rendered = predicate.sql.as_string(None)
    assert predicate.params and all(f"%({name})s" in rendered for name in predicate.params)
    for value in predicate.params.values():
        if isinstance(value, str) and len(value) > 2:
            assert value not in rendered
    for word in ("DROP", "'x", "121.4", "2020", "'a'"):
        assert word not in rendered


def test_a_nul_is_refused_before_the_database_everywhere(
    client: TestClient, callers: dict[str | None, dict[str, str]], database_url: str
) -> None:
    """The report's description: refused at the edge as a 400 naming the field."""
    lon, lat = a_point(database_url, 5)
    r = client.post(
        "/api/v1/reports",
        headers={**callers["citizen"], "Idempotency-Key": key()},
        data={**FIELDS, "lon": str(lon), "lat": str(lat), "description": NUL},
    )
    assert r.status_code == 400 and "NUL" in r.json()["detail"], r.text


def test_health_code_verification_answers_every_token_with_a_verdict(
    client: TestClient, tokens: TokenService, callers: dict[str | None, dict[str, str]]
) -> None:
    """Expired, forged or odd tokens get the contract's verdict (200, valid false, a reason) —
    docs/identity.md — or a 400 for a body that is not a token; never a 500. The odd ones are
    signed with the deployment's own key: what a holder of an old code, or a bug, could send."""
    now = int(time.time())
    base = {"iss": tokens.settings.issuer, "aud": "onemap-health-code", "sub": "s", "jti": "j",
            "colour": "green", "rv": "2026.1", "iat": now - 600, "exp": now - 300}  # fmt: skip
    variants: dict[str, dict[str, Any]] = {
        "expired": {},
        "expired, another audience": {"aud": "onemap"},
        "expired, another issuer": {"iss": "someone-else"},
        "expired, audience a list": {"aud": ["x", 1]},
        "expired, no jti": {"jti": None},
        "expired, no sub": {"sub": None},
        "expired, sub a number": {"sub": 12},
        "expired, colour a list": {"colour": ["red"]},
        "expired, NUL everywhere": {"sub": "\x00", "jti": "\x00", "rv": "\x00"},
        "expired, jti 10 kB": {"jti": "j" * 10_000},
        "expired, exp a float": {"exp": now - 300.5},
        "expired long ago": {"iat": 0, "exp": 1},
        "exp a string": {"exp": "tomorrow"},
        "exp in the year 33658": {"exp": 10**12},
        "exp beyond any date": {"exp": 10**30},
        "iat in the future": {"iat": now + 10**6, "exp": now + 10**6 + 60},
        "iat a string": {"iat": "now", "exp": now + 60},
        "not before the future": {"nbf": now + 3600, "exp": now + 60, "iat": now},
        "valid, NUL subject": {"sub": "a\x00b", "exp": now + 60, "iat": now},
        "valid, subject 10 kB": {"sub": "s" * 10_000, "exp": now + 60, "iat": now},
        "valid, unknown colour": {"colour": "purple", "exp": now + 60, "iat": now},
    }
    private, kid = tokens.keys.private_key, tokens.keys.kid
    sent = {name: jwt.encode({k: v for k, v in (base | change).items() if v is not None},
                             private, algorithm="ES256", headers={"kid": kid})
            for name, change in variants.items()}  # fmt: skip
    sent["access token"] = tokens.issue_access(1, ["citizen"])
    sent["unknown kid"] = jwt.encode(base, private, algorithm="ES256", headers={"kid": "nope"})
    sent["HS256 with our kid"] = jwt.encode(base, "s" * 64, algorithm="HS256",
                                            headers={"kid": kid})  # fmt: skip
    genuine = jwt.encode(base, private, algorithm="ES256", headers={"kid": kid}).split(".")
    for name, header in [("kid a list", {"alg": "ES256", "kid": [1]}),
                         ("header a list", ["alg"]), ("crit header", {"alg": "ES256",
                          "kid": kid, "crit": ["exp"]})]:  # fmt: skip
        encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
        sent[name] = ".".join([encoded, *genuine[1:]])
    for name, token in sent.items():
        r = client.post("/api/v1/health-codes/verify", headers=callers["verifier"],
                        json={"token": token[:2000]})  # fmt: skip
        assert r.status_code < 500, (name, r.text[:300])
        if r.status_code == 200:
            body = r.json()
            assert body["reason"] or body["valid"], (name, body)
            if name.startswith("expired"):  # expired, and maybe not a health code at all
                assert body["valid"] is False and body["reason"], (name, body)
            if name in ("expired", "expired long ago", "expired, NUL everywhere"):
                assert body["reason"] == "expired", (name, body)
        else:
            assert r.status_code == 400 and r.json()["detail"], (name, r.text)


# -- uploads: capped while read, bounded in number ----------------------------------------------


def _streaming_request(
    first: bytes, chunk: bytes, headers: dict[str, str]
) -> tuple[Any, list[int]]:
    """A request whose body never ends: ``first``, then ``chunk`` forever; and the count of
    chunks the server asked for."""
    asked = [0]

    async def receive() -> dict[str, Any]:
        asked[0] += 1
        body = first if asked[0] == 1 else chunk
        return {"type": "http.request", "body": body, "more_body": True}

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": raw_headers,
             "query_string": b""}  # fmt: skip
    return Request(scope, receive), asked


@pytest.mark.anyio
async def test_a_file_past_its_cap_is_refused_without_reading_the_rest() -> None:
    part = (b'--b\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff")  # fmt: skip
    request, asked = _streaming_request(
        part, b"\0" * 65_536, {"Content-Type": "multipart/form-data; boundary=b"}
    )
    with pytest.raises(TooLarge):
        await uploads.read_form(request, total_bytes=50 * 2**20, file_bytes=2**20, max_files=5)
    assert asked[0] <= 2**20 // 65_536 + 2  # one file's cap, not the body's 50 MiB

    request, asked = _streaming_request(
        b"--b\r\n", b"\0" * 65_536, {"Content-Type": "multipart/form-data; boundary=b"}
    )
    with pytest.raises((TooLarge, InvalidInput)):
        await uploads.read_form(request, total_bytes=2**20, file_bytes=2**20, max_files=5)
    assert asked[0] <= 2**20 // 65_536 + 2


@pytest.mark.anyio
async def test_uploads_beyond_the_slots_wait_briefly_then_get_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(uploads, "MAX_UPLOADS", 1)
    monkeypatch.setattr(uploads, "QUEUE_S", 0.2)
    monkeypatch.setattr(uploads, "_slots", type(uploads._slots)())
    async with uploads.slot():
        with pytest.raises(Unavailable) as refused:
            async with uploads.slot():
                pass
    assert refused.value.retry_after_s == uploads.BUSY_RETRY_S
    async with uploads.slot():  # freed: the next one gets it at once
        pass


def test_a_photo_is_decoded_at_a_bounded_size() -> None:
    """A bomb never decodes (Pillow's limit is ours); a large JPEG decodes scaled down."""
    assert Image.MAX_IMAGE_PIXELS == photos.MAX_PIXELS
    with pytest.raises(TooLarge):
        photos.clean_image(png(20_000, 20_000), 2048)
    with pytest.raises(TooLarge):
        photos.clean_image(io.BytesIO(png(7_000, 7_000)), 2048)
    out, kind, width, height = photos.clean_image(jpeg(8_200, 4_100), 2048)
    assert (kind, width, height) == ("image/jpeg", 2048, 1024) and out[:3] == b"\xff\xd8\xff"
