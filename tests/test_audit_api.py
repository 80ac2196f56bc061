"""``GET /api/v1/audit`` and its CSV export (docs/audit.md): auditors filter and page the trail,
export it as CSV that re-hashes offline, everyone else is refused, bad filters are 400s, and
every read and export is itself audited. Internal OGC reads leave rows; public ones do not.
Behind a proxy, the audited address is the forwarded one only from a trusted proxy."""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from geo.access import ANONYMOUS, Capability, Principal
from geo.queries.audit import COLUMNS
from geo.services.audit_chain import epoch_us, row_hash
from server.cli import proxy_options
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, seeded, user_with_role
from tests.running_server import running_server

URL = "/api/v1/audit"
AUDITOR = "auditor"


@pytest.fixture(scope="module")
def trail(database_url: str) -> dict[str, Any]:
    """Five rows of a fresh tag, written through the trigger: three ``<tag>.a`` by the demo
    dispatcher from 198.51.100.x, two ``<tag>.b`` by the demo auditor from 203.0.113.5."""
    tag = f"test{secrets.token_hex(3)}"
    dispatcher = user_with_role(database_url, "dispatcher")
    auditor = user_with_role(database_url, AUDITOR)
    rows = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for i, (suffix, actor, role, client) in enumerate([
            ("a", dispatcher, "dispatcher", "198.51.100.1"),
            ("a", dispatcher, "dispatcher", "198.51.100.2"),
            ("b", auditor, AUDITOR, "203.0.113.5"),
            ("a", dispatcher, "dispatcher", "198.51.100.3"),
            ("b", auditor, AUDITOR, "203.0.113.5"),
        ]):  # fmt: skip
            found = conn.execute(
                "INSERT INTO audit_log (actor_id, actor_role, action, object_type, object_id, "
                "client_addr, detail) VALUES (%s, %s, %s, 'case', %s, %s, %s) "
                "RETURNING seq, at",
                (actor, role, f"{tag}.{suffix}", f"C{i}", client,
                 Jsonb({"i": i, "备注": "测试", "list": [1, None]})),
            ).fetchone()  # fmt: skip
            assert found is not None
            rows.append({"seq": found[0], "at": found[1], "action": f"{tag}.{suffix}",
                         "actor": actor, "object_id": f"C{i}", "client": client})  # fmt: skip
            time.sleep(0.002)
    return {"tag": tag, "rows": rows, "dispatcher": dispatcher, "auditor": auditor}


@pytest.fixture(scope="module")
def auditor(tokens: TokenService, trail: dict[str, Any]) -> dict[str, str]:
    return auth(tokens, trail["auditor"], AUDITOR)


def _seqs(http: TestClient, headers: dict[str, str], **params: Any) -> list[int]:
    r = http.get(URL, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [item["seq"] for item in r.json()["items"]]


def test_auditors_filter_the_trail(
    client: TestClient, auditor: dict[str, str], trail: dict[str, Any]
) -> None:
    tag, rows = trail["tag"], trail["rows"]
    s0, s1, s2, s3, s4 = [r["seq"] for r in rows]
    every = f"{tag}.*"

    def seqs(**params: Any) -> list[int]:
        return _seqs(client, auditor, **params)

    assert seqs(action=every) == [s4, s3, s2, s1, s0]
    assert seqs(action=f"{tag}.a") == [s3, s1, s0]
    assert seqs(action=every, actor=trail["auditor"]) == [s4, s2]
    assert seqs(action=every, role="dispatcher") == [s3, s1, s0]
    assert seqs(action=every, client="198.51.100.2/31") == [s3, s1]
    assert seqs(action=every, client="203.0.113.5") == [s4, s2]
    assert seqs(action=every, object_type="case", object_id="C3") == [s3]
    start = rows[1]["at"].astimezone(UTC).isoformat()
    end = rows[3]["at"].astimezone(timezone(timedelta(hours=8))).isoformat()  # any offset
    assert seqs(action=every, **{"from": start, "to": end}) == [s2, s1]
    r = client.get(URL, headers=auditor, params={"action": f"{tag}.b", "limit": 1})
    item = r.json()["items"][0]
    assert item["detail"] == {"i": 4, "备注": "测试", "list": [1, None]}
    assert item["client_addr"] == "203.0.113.5" and item["actor_role"] == AUDITOR
    assert len(item["row_hash"]) == 64 and len(item["prev_hash"]) == 64


def test_pages_follow_the_chain_by_cursor(
    client: TestClient, auditor: dict[str, str], trail: dict[str, Any]
) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"action": f"{trail['tag']}.*", "limit": 2}
    for _ in range(5):
        body = client.get(URL, headers=auditor, params=params).json()
        seen += [item["seq"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == [r["seq"] for r in trail["rows"]][::-1]


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


@pytest.mark.parametrize("how", ["format", "accept", "export"])
def test_csv_exports_the_filtered_rows_and_re_hashes_offline(
    client: TestClient, auditor: dict[str, str], trail: dict[str, Any], how: str
) -> None:
    params = {"action": f"{trail['tag']}.*", "client": "198.51.100.0/24"}
    if how == "format":
        r = client.get(URL, headers=auditor, params={**params, "format": "csv"})
    elif how == "accept":
        r = client.get(URL, headers={**auditor, "Accept": "text/csv"}, params=params)
    else:
        r = client.get(f"{URL}/export", headers=auditor, params=params)
    rows = _csv(r)
    wanted = [x for x in trail["rows"] if x["client"].startswith("198.51.100.")]
    assert [int(x["seq"]) for x in rows] == [x["seq"] for x in wanted]  # oldest first
    assert [x["client_addr"] for x in rows] == [x["client"] for x in wanted]
    for x in rows:
        at = datetime.strptime(x["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        fields = (int(x["seq"]), bytes.fromhex(x["prev_hash"]) if x["prev_hash"] else None,
                  epoch_us(at), int(x["actor_id"]) if x["actor_id"] else None,
                  x["actor_role"] or None, x["action"], x["object_type"], x["object_id"] or None,
                  x["client_addr"] or None, x["detail"])  # fmt: skip
        assert row_hash(*fields).hex() == x["row_hash"]
        assert json.loads(x["detail"])["备注"] == "测试"


def test_a_large_export_streams(
    client: TestClient, auditor: dict[str, str], database_url: str
) -> None:
    """More rows than one cursor batch (2,000): all of them arrive, in order."""
    tag = f"bulk{secrets.token_hex(3)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (action, object_type, object_id) "
            "SELECT %s, 'test', g::text FROM generate_series(1, 4500) g",
            (tag,),
        )
    with client.stream("GET", f"{URL}/export", headers=auditor, params={"action": tag}) as r:
        assert r.status_code == 200
        chunks = list(r.iter_bytes())
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 4500 and len(chunks) > 1
    seqs = [int(x["seq"]) for x in rows]
    assert seqs == sorted(seqs)


@pytest.mark.parametrize("role", ["dispatcher", "admin", "citizen", AUDITOR, None])
def test_only_read_audit_opens_the_trail(
    client: TestClient, tokens: TokenService, database_url: str, role: str | None
) -> None:
    if role is None:
        headers: dict[str, str] = {}
        principal = ANONYMOUS
    else:
        uid = user_with_role(database_url, role)
        headers = auth(tokens, uid, role)
        principal = Principal(uid, frozenset({role}))
    for path in (URL, f"{URL}/export", f"{URL}?format=csv"):
        r = client.get(path, headers=headers, params={"action": "nothing.here"})
        if principal.can(Capability.READ_AUDIT):
            assert r.status_code == 200, (path, role, r.text)
        else:
            assert r.status_code == (401 if role is None else 403), (path, role)
            assert r.headers["content-type"] == "application/problem+json"
    assert principal.can(Capability.READ_AUDIT) == (role in ("admin", AUDITOR))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "from must be an RFC 3339 date-time"),
        ({"from": "2026-11-30T08:00:00"}, "RFC 3339"),
        ({"to": "2026-02-30T08:00:00Z"}, "to is not a valid date-time"),
        ({"from": "2026-11-30T08:00:00Z", "to": "2026-11-30T07:00:00Z"}, "from must be before to"),
        ({"client": "300.1.1.1"}, "client must be an IP address or a CIDR block"),
        ({"role": "emperor"}, "role must be one of"),
        ({"action": "Camera.*"}, "action must be an action name"),
        ({"action": "*"}, "action must be an action name"),
        ({"actor": "abc"}, "actor"),
        ({"acter": "5"}, "Unknown parameter(s) acter"),
        ({"cursor": "garbage"}, "cursor is not one this API gave out"),
        ({"format": "xml"}, "format: Input should be 'json' or 'csv'"),
        ({"format": "csv", "cursor": "c2VxOjU"}, "cursor pages the JSON list"),
        ({"limit": "501"}, "limit"),
    ],
)  # fmt: skip
def test_bad_filters_are_400_with_the_reason(
    client: TestClient, auditor: dict[str, str], params: dict[str, str], message: str
) -> None:
    r = client.get(URL, headers=auditor, params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert message in r.json()["detail"]


def test_reads_and_exports_are_audited(
    client: TestClient, auditor: dict[str, str], trail: dict[str, Any], database_url: str
) -> None:
    marker = f"M{secrets.token_hex(4)}"
    r = client.get(URL, headers=auditor, params={"object_id": marker, "action": "x.*"})
    assert r.status_code == 200 and r.json()["items"] == []
    r = client.get(f"{URL}/export", headers=auditor, params={"object_id": marker})
    assert r.status_code == 200
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT action, actor_id, actor_role, object_type, detail FROM audit_log "
            "WHERE detail->'filters'->>'object_id' = %s ORDER BY seq", (marker,),
        ).fetchall()  # fmt: skip
    assert [(a, u, role, t) for a, u, role, t, _ in found] == [
        ("audit.read", trail["auditor"], AUDITOR, "audit_log"),
        ("audit.export", trail["auditor"], AUDITOR, "audit_log"),
    ]
    assert found[0][4] == {"filters": {"object_id": marker, "action": "x.*"}, "returned": 0,
                           "format": "json", "client": "testclient"}  # fmt: skip
    assert found[1][4]["format"] == "csv"


# -- internal OGC reads --------------------------------------------------------------------------


def _ogc_rows(database_url: str, actor: int, action: str, since: int) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT object_type, object_id, detail FROM audit_log WHERE actor_id = %s "
            "AND action = %s AND seq > %s ORDER BY seq", (actor, action, since),
        ).fetchall()  # fmt: skip


def _head(database_url: str) -> int:
    return int(seeded(database_url, "SELECT coalesce(max(seq), 0) FROM audit_log"))


def test_internal_ogc_reads_are_audited_and_public_ones_not(
    client: TestClient, tokens: TokenService, database_url: str
) -> None:
    dispatcher = user_with_role(database_url, "dispatcher")
    staff = auth(tokens, dispatcher, "dispatcher")
    since = _head(database_url)
    r = client.get("/ogc/collections/cases/items", headers=staff, params={"limit": 3})
    assert r.status_code == 200
    camera = client.get("/ogc/collections/cameras/items", headers=staff, params={"limit": 1})
    fid = camera.json()["features"][0]["id"]
    assert client.get(f"/ogc/collections/cameras/items/{fid}", headers=staff).status_code == 200
    tile = client.get("/ogc/collections/cases/tiles/WebMercatorQuad/12/1693/3430", headers=staff)
    assert tile.status_code in (200, 204)
    public = client.get("/ogc/collections/cases/items", params={"limit": 3})
    assert public.status_code == 200

    items = _ogc_rows(database_url, dispatcher, "ogc.items.read", since)
    assert [(t, o) for t, o, _ in items] == [("cases", None), ("cameras", None)]
    assert items[0][2]["returned"] == 3 and "limit=3" in items[0][2]["query"]
    assert items[0][2]["jurisdiction"] == "the whole city"
    one = _ogc_rows(database_url, dispatcher, "ogc.item.read", since)
    assert [(t, o) for t, o, _ in one] == [("cameras", str(fid))]
    tiles = _ogc_rows(database_url, dispatcher, "ogc.tile.read", since)
    assert [(t, o) for t, o, _ in tiles] == [("cases", "12/1693/3430")]
    with psycopg.connect(database_url) as conn:
        anonymous = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'ogc.%%' AND actor_id IS NULL "
            "AND seq > %s", (since,)).fetchone()  # fmt: skip
    assert anonymous == (0,)


# -- the client address behind a proxy -------------------------------------------------------


def test_uvicorn_reads_proxy_headers_only_from_trusted_proxies() -> None:
    assert proxy_options([]) == {"proxy_headers": False}
    assert proxy_options(["10.0.0.0/8"]) == {"proxy_headers": True,
                                             "forwarded_allow_ips": ["10.0.0.0/8"]}  # fmt: skip


@pytest.fixture(scope="module")
def servers(database_url: str) -> Iterator[dict[str, str]]:
    """Two real servers: one trusting 127.0.0.1 as its proxy, one trusting nobody."""
    with (
        running_server(database_url, ONEMAP_SERVER_TRUSTED_PROXIES='["127.0.0.1"]') as trusted,
        running_server(database_url) as untrusted,
    ):
        yield {"trusted": trusted, "untrusted": untrusted}


@pytest.mark.parametrize(("which", "recorded"), [("untrusted", "127.0.0.1"),
                                                 ("trusted", "203.0.113.77")])  # fmt: skip
def test_the_audited_address_is_the_forwarded_one_only_from_a_trusted_proxy(
    servers: dict[str, str], auditor: dict[str, str], database_url: str, which: str,
    recorded: str,
) -> None:  # fmt: skip
    marker = f"P{secrets.token_hex(4)}"
    r = httpx.get(f"{servers[which]}{URL}", params={"object_id": marker}, timeout=10,
                  headers={**auditor, "X-Forwarded-For": "203.0.113.77"})  # fmt: skip
    assert r.status_code == 200, r.text
    found = seeded(database_url, "SELECT host(client_addr) FROM audit_log WHERE action = "
                   "'audit.read' AND detail->'filters'->>'object_id' = %s", marker)  # fmt: skip
    assert found == recorded
