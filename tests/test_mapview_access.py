"""The map view asks the server what the caller may see and do (/mapview/access) and decides
by capability names: the layers follow the access policy, the same as /ogc serves them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from geo.enums import Role
from server.kernel.auth.tokens import TokenService
from server.mapview.routes import STATIC


def access_of(client: TestClient, tokens: TokenService, role: str | None) -> dict[str, Any]:
    headers = {"Authorization": "Bearer " + tokens.issue_access(9001, [role])} if role else {}
    r = client.get("/mapview/access", headers=headers)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    ogc = client.get("/ogc/collections?f=json", headers=headers).json()["collections"]
    assert set(body["layers"]) == {c["id"] for c in ogc}  # one policy, both surfaces
    return body


@pytest.mark.parametrize(
    ("role", "cases", "cameras", "video"),
    [
        (None, "public", None, False),
        ("analyst", "public", None, False),
        ("camera_viewer", "public", "internal", True),
        ("grid_worker", "internal", None, False),
        ("dispatcher", "internal", "internal", True),
    ],
)
def test_layers_and_capabilities_follow_the_policy(
    client: TestClient,
    tokens: TokenService,
    role: str | None,
    cases: str,
    cameras: str | None,
    video: bool,
) -> None:
    body = access_of(client, tokens, role)
    assert body["layers"]["cases"] == cases
    assert body["layers"].get("cameras") == cameras
    assert ("watch_video" in body["capabilities"]) is video
    assert ("read_cases" in body["capabilities"]) is (cases == "internal")
    assert body["layers"]["admin_areas"] == "public"


def test_the_page_decides_by_capability_not_by_role() -> None:
    # "admin" is also the legend's key of the admin-area base layer: not a role test
    roles = "|".join(re.escape(r.value) for r in Role if r is not Role.ADMIN)
    for script in STATIC.glob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert not re.search(rf"[\"'`]({roles})[\"'`]", text), script.name
        assert not re.search(r"roles\s*\.\s*(includes|has|indexOf|some|find)\b", text), script.name
