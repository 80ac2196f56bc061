"""The replay (复盘) from the outside: an incident activated (backdated through the service, so
sensor readings can fall inside it), its level raised, a task accepted, a plot drawn and moved,
a gauge going over its line nearby (SensorThings), a camera of its context watched (the audit
rows the stream service writes), a warning tied to it (the officers' API) and a citizen's report
inside its reach (the citizen API). ``incidentReplay`` lists them in time order with the right
kinds; ``incidentStateAt`` scrubs the plot back and forth; the report prints every entry and no
citizen's phone or name; who may read what."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import anyio
import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient
from strawberry import Schema

from geo.access import Jurisdiction, Scope
from geo.params import LonLat
from geo.services import audit, incidents, plots
from geo.weather import SyntheticWeather
from server.kernel.auth.tokens import TokenService
from tests.gql_helpers import run
from tests.mobile_helpers import auth, key, user_with_role
from tests.plan_helpers import principal, user_id, waterlogging_point
from tests.plot_helpers import PLOTS, Seat, flood_plan, make_seats
from tests.sensor_alarm_helpers import gauge, post_batch, times
from tests.sta_helpers import staff
from tests.warning_helpers import new_user, square, warning_body

T = datetime.now(UTC).replace(microsecond=0)
Steps = dict[str, Any]


def _run[R](database_url: str, step: Callable[[AsyncConnection[Any]], Awaitable[R]]) -> R:
    async def go() -> R:
        async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await step(conn)

    return anyio.run(go)


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


@pytest.fixture(scope="module")
def seats(client: TestClient, tokens: TokenService, database_url: str) -> dict[str, Seat]:
    return make_seats(client, tokens, database_url)


@pytest.fixture(scope="module")
def story(client: TestClient, tokens: TokenService, database_url: str) -> Steps:
    """The incident and what happened around it, each step at a known time."""
    with psycopg.connect(database_url) as db:
        lon, lat = waterlogging_point(db, 1000)
        dispatcher = principal(db, "dispatcher")
        plan = flood_plan(db)
        citizen_id = user_with_role(database_url, "citizen")
        phone, name = db.execute("SELECT phone, display_name FROM users WHERE id = %s",
                                 (citizen_id,)).fetchone() or ("", "")  # fmt: skip

    async def incident(conn: AsyncConnection[Any]) -> tuple[int, int]:
        made = await incidents.activate(
            conn, dispatcher, plan_id=plan, level="IV", point=LonLat(lon, lat), area=None,
            reach_m=1000, weather=SyntheticWeather(), now=T - timedelta(minutes=10))  # fmt: skip
        await incidents.change_level(conn, dispatcher, made, level="III", reason="雨势增强",
                                     now=T - timedelta(minutes=9))  # fmt: skip
        cur = await conn.execute("SELECT min(id) FROM incident_tasks WHERE incident_id = %s",
                                 (made,))  # fmt: skip
        task = (await cur.fetchone() or [0])[0]
        await incidents.update_task(conn, dispatcher, task, status="accepted", note="两车出动",
                                    now=T - timedelta(minutes=8, seconds=30))  # fmt: skip
        plot = await plots.add(conn, dispatcher, made, symbol="cordon", label="警戒区",
                               geometry=f'{{"type":"Point","coordinates":[{lon},{lat}]}}',
                               now=T - timedelta(minutes=8))  # fmt: skip
        moved = f'{{"type":"Point","coordinates":[{lon + 0.002},{lat}]}}'
        await plots.update(conn, dispatcher, plot, expected_version=1, geometry=moved,
                           now=T - timedelta(minutes=7))  # fmt: skip
        return made, plot

    incident_id, plot_id = _run(database_url, incident)

    # A gauge 90 m away goes over its warning line (readings 6 to 4.5 minutes ago).
    admin = staff(tokens, database_url, "admin")
    _, ds = gauge(client, admin, (lon + 0.001, lat))
    at = times(4, start_minutes_ago=6)
    post_batch(client, admin, ds, [(at[0], 1.8), (at[1], 2.3), (at[2], 2.35), (at[3], 2.4)])

    # A camera of its context is watched (the stream service's audit rows).
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT (context->'cameras'->0->>'id')::bigint, code FROM incidents i "
                         "JOIN cameras c ON c.id = (i.context->'cameras'->0->>'id')::bigint "
                         "WHERE i.id = %s", (incident_id,)).fetchone()  # fmt: skip
        viewer = user_id(db, "camera_viewer")
    assert row is not None, "the incident's context has cameras"
    camera, code = row

    async def watch(conn: AsyncConnection[Any]) -> None:
        for action, detail in (("camera.view.start", {}), ("camera.view.end", {"seconds": 42})):
            await audit.record(
                conn, actor_id=viewer, actor_role="camera_viewer", action=action,
                object_type="camera", object_id=camera, client_addr=None,
                detail={"session": "replay-test", "code": code, **detail},
            )  # fmt: skip

    _run(database_url, watch)

    # A warning for the area, tied to the incident. CAP's times are whole seconds: a second
    # later, so its time (sent, truncated) comes after the viewing above.
    time.sleep(1.05)
    officer = auth(tokens, new_user(database_url, "warning_officer"), "warning_officer")
    body = warning_body(square(lon, lat), incident_id=incident_id)
    r = client.post("/api/v1/warnings", json=body, headers={**officer, "Idempotency-Key": key()})
    assert r.status_code == 201, r.text

    # A citizen reports inside the reach, giving their phone in the text.
    citizen = auth(tokens, citizen_id, "citizen")
    r = client.post("/api/v1/reports", headers={**citizen, "Idempotency-Key": key()}, data={
        "category": "road_damage", "description": f"路面塌陷，联系我 {phone}",
        "lon": str(lon), "lat": str(lat + 0.001)})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    return {"id": str(incident_id), "plot": str(plot_id), "lon": lon, "lat": lat,
            "camera": code, "case": r.json()["id"], "phone": phone, "name": name,
            "headline": body["texts"]["zh-CN"]["headline"]}  # fmt: skip


def _first(entries: list[dict[str, Any]], kind: str, text: str = "") -> int:
    return next(i for i, e in enumerate(entries) if e["kind"] == kind and text in e["summaryZh"])


def test_the_replay_lists_everything_in_time_order(story: Steps, seats: dict[str, Seat]) -> None:
    entries = seats["dispatcher"].data(PLOTS, "IncidentReplay", id=story["id"])["incidentReplay"]
    ats = [datetime.fromisoformat(e["at"]) for e in entries]
    assert ats == sorted(ats)
    order = [
        _first(entries, "activated"), _first(entries, "level_changed"),
        _first(entries, "task_accepted"), _first(entries, "plot_added"),
        _first(entries, "plot_updated"), _first(entries, "alarm_raised"),
        _first(entries, "video_view_started", story["camera"]),
        _first(entries, "video_view_ended", story["camera"]),
        _first(entries, "warning_issued", story["headline"]),
        _first(entries, "case_reported", story["case"]),
    ]  # fmt: skip
    assert order == sorted(order), " | ".join(f"{e['at'][11:]} {e['kind']}" for e in entries)
    by_kind = {entries[i]["kind"]: entries[i] for i in order}
    assert by_kind["activated"]["summaryEn"] == "Plan activated at level IV"
    # The activation is drawn at the incident's place.
    assert by_kind["activated"]["geometry"]["coordinates"] == [
        round(story["lon"], 7), round(story["lat"], 7)]  # fmt: skip
    assert by_kind["level_changed"]["summaryZh"] == "响应级别由IV级调整为III级：雨势增强"
    assert by_kind["plot_added"]["geometry"]["coordinates"] == [
        round(story["lon"], 7), round(story["lat"], 7)]  # fmt: skip
    assert by_kind["plot_updated"]["summaryEn"] == 'Plot changed: Cordon "警戒区" (version 2)'
    assert by_kind["video_view_ended"]["summaryEn"].endswith("(42 s)")
    assert by_kind["warning_issued"]["geometry"]["type"] == "MultiPolygon"
    roles = {k: e["actorRole"] for k, e in by_kind.items()}
    assert roles["activated"] == "dispatcher" and roles["warning_issued"] == "warning_officer"
    assert roles["video_view_started"] == "camera_viewer" and roles["case_reported"] == "citizen"
    sources = {k: e["source"] for k, e in by_kind.items()}
    assert sources["alarm_raised"] == "sensor" and sources["case_reported"] == "case"
    # A window: only what happened then.
    since = (T - timedelta(minutes=8, seconds=10)).isoformat()
    until = (T - timedelta(minutes=6, seconds=50)).isoformat()
    window = seats["dispatcher"].data(PLOTS, "IncidentReplay", id=story["id"], **{
        "from": since, "to": until})["incidentReplay"]  # fmt: skip
    assert [e["kind"] for e in window] == ["plot_added", "plot_updated"]


def test_the_state_at_a_moment_scrubs_the_plot(story: Steps, seats: dict[str, Seat]) -> None:
    def at(minutes: float) -> dict[str, Any]:
        when = (T - timedelta(minutes=minutes)).isoformat()
        found: dict[str, Any] = seats["analyst"].data(
            PLOTS, "IncidentStateAt", id=story["id"], at=when)["incidentStateAt"]  # fmt: skip
        return found

    before = at(11)
    assert (before["level"], before["plots"], before["tasks"]) == (None, [], [])
    first = at(9.5)
    assert first["level"] == "IV" and first["plots"] == []
    assert first["tasks"] and {t["status"] for t in first["tasks"]} == {"pending"}
    old, new = at(7.5), at(6.5)
    assert old["level"] == new["level"] == "III"
    assert "accepted" in {t["status"] for t in old["tasks"]}
    assert [(p["plotId"], p["version"]) for p in old["plots"]] == [(story["plot"], 1)]
    assert old["plots"][0]["geometry"]["coordinates"] == [
        round(story["lon"], 7), round(story["lat"], 7)]  # fmt: skip
    assert new["plots"][0]["version"] == 2
    assert new["plots"][0]["geometry"]["coordinates"] == [
        round(story["lon"] + 0.002, 7), round(story["lat"], 7)]  # fmt: skip


def _report_reads(database_url: str, incident: str) -> int:
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT count(*) FROM audit_log WHERE action = 'incident.report.read' "
                         "AND object_id = %s", (incident,)).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def test_the_report_prints_every_entry_and_no_citizen(
    story: Steps, seats: dict[str, Seat], database_url: str
) -> None:
    d = seats["dispatcher"]
    reads = _report_reads(database_url, story["id"])
    entries = d.data(PLOTS, "IncidentReplay", id=story["id"])["incidentReplay"]
    report = d.data(PLOTS, "IncidentReport", id=story["id"])["incidentReport"]
    assert report["mediaType"] == "text/html; charset=utf-8"
    assert report["filename"].startswith("YJ") and report["filename"].endswith(".html")
    page = report["content"]
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT v.title_zh, v.title_en FROM incidents i JOIN plan_versions v "
                         "ON v.id = i.plan_version_id WHERE i.id = %s",
                         (story["id"],)).fetchone()  # fmt: skip
    assert row is not None
    assert escape(row[0]) in page and escape(row[1]) in page
    assert "响应级别由IV级调整为III级" in page and "Level changed from IV to III" in page
    for e in entries:
        assert escape(e["summaryZh"]) in page and escape(e["summaryEn"]) in page, e
    assert "已接收 / accepted" in page and "两车出动" in page
    assert story["phone"] not in page and story["name"] not in page
    assert "<script" not in page and "http" not in page  # self-contained

    sheet = d.data(PLOTS, "IncidentReport", id=story["id"], format="CSV")["incidentReport"]
    rows = list(csv.reader(io.StringIO(sheet["content"])))
    assert rows[0][:6] == ["at", "source", "kind", "actor_role", "summary_zh", "summary_en"]
    assert [r[4] for r in rows[1:]] == [e["summaryZh"] for e in entries]
    assert story["phone"] not in sheet["content"]
    assert _report_reads(database_url, story["id"]) == reads + 2


def test_who_reads_the_replay_and_its_video(
    story: Steps, seats: dict[str, Seat], client: TestClient, tokens: TokenService,
    database_url: str,
) -> None:  # fmt: skip
    reads = _report_reads(database_url, story["id"])
    for role in ("citizen", "auditor", "camera_viewer"):
        for name, extra in (("IncidentReplay", {}), ("IncidentReport", {}),
                            ("IncidentStateAt", {"at": T.isoformat()})):  # fmt: skip
            out = seats[role](PLOTS, name, id=story["id"], **extra)
            assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, name, out)
    assert _report_reads(database_url, story["id"]) == reads  # a refusal reads nothing
    missing = seats["dispatcher"](PLOTS, "IncidentReplay", id="987654321")
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    def video(seat: Seat) -> list[str]:
        found = seat.data(PLOTS, "IncidentReplay", id=story["id"])["incidentReplay"]
        return [e["kind"] for e in found if e["source"] == "video"]

    # The audit's readers and those who may watch the camera see who watched; an analyst not.
    assert video(seats["admin"]) == video(seats["dispatcher"]) == [
        "video_view_started", "video_view_ended"]  # fmt: skip
    assert video(seats["analyst"]) == []
    # A dispatcher of another district does not see the sessions of this camera.
    with psycopg.connect(database_url) as db:
        row = db.execute(
            "SELECT a.id FROM admin_areas a, cameras c WHERE a.level = 'district' "
            "AND c.code = %s AND NOT ST_Intersects(a.geom, c.geom) ORDER BY a.id LIMIT 1",
            (story["camera"],)).fetchone()  # fmt: skip
        uid = user_id(db, "dispatcher")
    assert row is not None
    district = Jurisdiction(Scope.DISTRICT, (int(row[0]),))
    elsewhere = Seat(client, tokens.issue_access(uid, ["dispatcher"], jurisdiction=district))
    assert video(elsewhere) == []
    # The analyst sees the citizen's case only as the public record shows it.
    analyst = seats["analyst"].data(PLOTS, "IncidentReplay", id=story["id"])["incidentReplay"]
    case = next(e for e in analyst if e["kind"] == "case_reported" and story["case"]
                in e["summaryZh"])  # fmt: skip
    assert case["actorRole"] == "citizen"


def test_the_report_page_over_rest(
    story: Steps, client: TestClient, tokens: TokenService, database_url: str
) -> None:
    """``GET /api/v1/incidents/{id}/report``: the page a browser opens to print, the CSV, and
    problem+json refusals that read (and audit) nothing."""
    path = f"/api/v1/incidents/{story['id']}/report"
    dispatcher = auth(tokens, user_with_role(database_url, "dispatcher"), "dispatcher")
    reads = _report_reads(database_url, story["id"])
    page = client.get(path, headers=dispatcher)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-disposition"].startswith('inline; filename="YJ')
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "响应级别由IV级调整为III级" in page.text and escape(story["headline"]) in page.text
    assert story["phone"] not in page.text and story["name"] not in page.text
    sheet = client.get(path, params={"format": "csv"}, headers=dispatcher)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.headers["content-disposition"].startswith("attachment;")
    assert story["headline"] in sheet.text
    assert _report_reads(database_url, story["id"]) == reads + 2

    citizen = auth(tokens, user_with_role(database_url, "citizen"), "citizen")
    refusals = [
        (path, citizen, {}, 403),
        (path, {}, {}, 401),
        (path, dispatcher, {"format": "pdf"}, 400),
        ("/api/v1/incidents/987654321/report", dispatcher, {}, 404),
        ("/api/v1/incidents/abc/report", dispatcher, {}, 404),
    ]
    for url, headers, params, status in refusals:
        r = client.get(url, headers=headers, params=params)
        assert r.status_code == status, (url, params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert _report_reads(database_url, story["id"]) == reads + 2


@pytest.mark.anyio
async def test_the_replay_operations_take_few_statements(
    story: Steps, schema: Schema, pool: AsyncConnectionPool[AsyncConnection[Any]],
    database_url: str,
) -> None:  # fmt: skip
    """However long the timeline: the incident check and one statement for the replay, the
    state at a moment, the plots (and their authors, one DataLoader batch)."""
    with psycopg.connect(database_url) as db:
        reader = principal(db, "dispatcher")
    for name, variables, most in (
        ("IncidentReplay", {"id": story["id"]}, 2),
        ("IncidentStateAt", {"id": story["id"], "at": T.isoformat()}, 2),
        ("IncidentPlots", {"incidentId": story["id"], "includeRemoved": True}, 2),
    ):
        out = await run(schema, pool, PLOTS, variables, principal=reader, operation_name=name)
        assert out.errors == [] and out.data, (name, out.errors)
        assert out.statements <= most, (name, out.statements)
