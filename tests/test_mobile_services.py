"""One-network services (一网通办) from the outside: the catalogue, applying (form schema,
materials, idempotency), the lifecycle by the right department's staff, 补正 once, working-day
due dates, rating, the inbox."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from starlette.testclient import TestClient

from geo.access import Jurisdiction, Scope
from geo.services.workdays import Calendar
from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, key, seeded, user_with_role

APPS = "/api/v1/applications"
ITEM = "SC-MR-001"  # 个体工商户设立登记: market regulation; id card + premises


def _form(**extra: Any) -> dict[str, Any]:
    return {"applicant_name": "张三", "id_number": "31010119900101123X",
            "contact_phone": "13700000021", "business_name": "张三便利店",
            "business_scope": "日用百货零售", "address": "示例路1号", **extra}  # fmt: skip


@pytest.fixture(scope="module")
def citizen(database_url: str, tokens: TokenService) -> dict[str, str]:
    uid = seeded(database_url, "SELECT id FROM users WHERE phone = '13700000021'")
    return auth(tokens, int(uid), "citizen")


def _staff(database_url: str, tokens: TokenService, department: str) -> dict[str, str]:
    """A department's staff member, with the department jurisdiction their login gives."""
    uid, roles, dept = seeded(database_url, "SELECT u.id, u.roles, d.id FROM users u JOIN "
                              "departments d ON d.id = u.department_id WHERE d.code = %s "
                              "AND u.phone LIKE '1381%%' ORDER BY u.id LIMIT 1",
                              department)  # fmt: skip
    return auth(tokens, int(uid), *roles, jurisdiction=Jurisdiction(Scope.DEPARTMENT, (dept,)))


def _upload(client: TestClient, headers: dict[str, str]) -> int:
    pdf = ("lease.pdf", b"%PDF-1.4\n% lease\n%%EOF\n", "application/pdf")
    r = client.post(
        "/api/v1/attachments", headers={**headers, "Idempotency-Key": key()}, files={"file": pdf}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _apply(client: TestClient, headers: dict[str, str], body: dict[str, Any],
           idem: str | None = None) -> Any:  # fmt: skip
    return client.post(APPS, headers={**headers, "Idempotency-Key": idem or key()}, json=body)


def test_the_catalogue_has_about_thirty_items_across_departments(client: TestClient) -> None:
    items = client.get("/api/v1/services").json()["items"]
    assert 28 <= len(items) <= 40
    assert len({i["department"]["code"] for i in items}) >= 12
    assert all(i["promised_limit_days"] <= i["legal_limit_days"] for i in items)
    found = client.get("/api/v1/services", params={"q": "食品"}).json()["items"]
    assert [i["code"] for i in found] == ["SC-MR-002"]
    civil = client.get("/api/v1/services", params={"department": "civil_affairs"}).json()["items"]
    assert civil and all(i["department"]["code"] == "civil_affairs" for i in civil)
    item = client.get(f"/api/v1/services/{ITEM}").json()
    assert item["form_schema"]["type"] == "object"
    assert {m["code"] for m in item["materials"]} == {"id_card", "lease"}
    assert client.get("/api/v1/services/NOPE").status_code == 404


def test_applying_checks_the_form_and_the_materials(
    client: TestClient, citizen: dict[str, str]
) -> None:
    bad = _apply(client, citizen, {"service_code": ITEM, "form": _form(id_number="123"),
                                   "materials": []})  # fmt: skip
    assert bad.status_code == 422
    assert any(e["field"] == "id_number" for e in bad.json()["errors"])
    extra = _apply(client, citizen, {"service_code": ITEM, "form": _form(x=1)})
    assert extra.status_code == 422
    only_id = [{"code": "id_card", "e_licence_id": "E1"}]
    missing = _apply(client, citizen, {"service_code": ITEM, "form": _form(), "materials": only_id})
    assert missing.status_code == 422 and missing.json()["missing"] == ["lease"]
    # A photograph (SC-CA-001, marriage) must be an upload: no electronic licence for it.
    photo = _apply(client, citizen, {"service_code": "SC-CA-001", "form": {
        "applicant_name": "张三", "id_number": "31010119900101123X",
        "contact_phone": "13700000021", "spouse_name": "李四"},
        "materials": [{"code": "photo", "e_licence_id": "E2"}]})  # fmt: skip
    assert photo.status_code == 400 and "electronic" in photo.json()["detail"]
    unknown = _apply(client, citizen, {"service_code": "NOPE", "form": {}})
    assert unknown.status_code == 404


def test_the_lifecycle_with_supplement_once_and_working_days(
    client: TestClient, citizen: dict[str, str], database_url: str, tokens: TokenService
) -> None:
    lease = _upload(client, citizen)
    body = {"service_code": ITEM, "form": _form(),
            "materials": [{"code": "id_card", "e_licence_id": "EL-310101"},
                          {"code": "lease", "attachment_id": lease}]}  # fmt: skip
    idem = key()
    created = _apply(client, citizen, body, idem)
    assert created.status_code == 201, created.text
    app = created.json()
    again = _apply(client, citizen, body, idem)
    assert again.json()["id"] == app["id"]
    assert app["status"] == "submitted" and app["department"] == "market_regulation"
    local = datetime.fromisoformat(app["submitted_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert date.fromisoformat(app["accept_due"]) == Calendar().add(local.date(), 5)
    url = f"/api/v1/staff/applications/{app['id']}"
    other_dept = _staff(database_url, tokens, "housing")
    # Another department neither sees nor moves it, and does not list it.
    assert client.get(url, headers=other_dept).status_code == 404
    assert client.post(f"{url}/actions", headers=other_dept,
                       json={"action": "accept"}).status_code == 404  # fmt: skip
    theirs = client.get("/api/v1/staff/applications", headers=other_dept,
                        params={"status": "submitted", "limit": 100}).json()["items"]  # fmt: skip
    assert app["id"] not in [a["id"] for a in theirs]
    assert {a["department"] for a in theirs} <= {"housing"}
    staff = _staff(database_url, tokens, "market_regulation")
    listed = client.get("/api/v1/staff/applications", headers=staff,
                        params={"status": "submitted"}).json()["items"]  # fmt: skip
    assert app["id"] in [a["id"] for a in listed]
    # A city-wide account that handles applications sees every department's.
    admin = auth(tokens, user_with_role(database_url, "admin"), "admin")
    assert client.get(url, headers=admin).status_code == 200

    def act(action: str, **extra: Any) -> Any:
        return client.post(f"{url}/actions", headers=staff, json={"action": action, **extra})

    assert act("request_materials", note="租赁合同不清晰").status_code == 400  # lists nothing
    asked = act("request_materials", note="租赁合同不清晰", missing=["lease"])
    assert asked.status_code == 200 and asked.json()["status"] == "needs_materials"
    assert asked.json()["applicant"]["display_name"]  # staff see who applied
    assert act("accept").status_code == 409
    fresh = _upload(client, citizen)
    lease_again = {"materials": [{"code": "lease", "attachment_id": fresh}]}
    supplied = client.post(f"{APPS}/{app['id']}/supplement", headers=citizen, json=lease_again)
    assert supplied.status_code == 200 and supplied.json()["status"] == "submitted"
    twice = act("request_materials", note="again", missing=["id_card"])
    assert twice.status_code == 409 and "once" in twice.json()["detail"]
    accepted = act("accept").json()
    assert accepted["due_date"] is not None
    assert Calendar().is_workday(date.fromisoformat(accepted["due_date"]))
    for step, status in [("start_review", "under_review"), ("approve", "approved"),
                         ("complete", "completed")]:  # fmt: skip
        assert act(step).json()["status"] == status
    rated = client.put(f"{APPS}/{app['id']}/rating", headers=citizen, json={"score": 5})
    assert rated.status_code == 201
    mine = client.get(f"{APPS}/{app['id']}", headers=citizen).json()
    assert mine["status"] == "rated" and mine["applicant"] is None
    assert [e["to_status"] for e in mine["timeline"]] == [
        "submitted", "needs_materials", "submitted", "accepted", "under_review", "approved",
        "completed", "rated"]  # fmt: skip
    assert mine["timeline"][1]["detail"] == {"missing": ["lease"]}
    inbox = client.get("/api/v1/me/notifications", headers=citizen, params={"limit": 50})
    inbox = inbox.json()
    statuses = [n["status"] for n in inbox["items"] if n["object_id"] == app["id"]]
    assert statuses == ["completed", "approved", "under_review", "accepted", "needs_materials"]
    audited = seeded(database_url, "SELECT count(*) FROM audit_log WHERE object_type = "
                     "'application' AND object_id = %s", app["id"])  # fmt: skip
    assert audited == 6  # the admin's read and each successful action showed the applicant


def test_my_applications_are_mine(
    client: TestClient, citizen: dict[str, str], database_url: str, tokens: TokenService
) -> None:
    page = client.get(APPS, headers=citizen).json()
    assert page["items"]
    other = auth(tokens, int(seeded(database_url, "SELECT id FROM users WHERE phone = "
                                    "'13700000022'")), "citizen")  # fmt: skip
    assert client.get(f"{APPS}/{page['items'][0]['id']}", headers=other).status_code == 404


def test_working_days_skip_weekends_and_holidays() -> None:
    cal = Calendar.of(["2026-10-01", "2026-10-02"], ["2026-10-10"])
    assert cal.add(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Friday + 1 → Monday
    assert cal.add(date(2026, 9, 30), 1) == date(2026, 10, 5)  # over the holiday
    assert cal.is_workday(date(2026, 10, 10))  # a Saturday worked (调休)


def test_application_timelines_are_append_only(db: psycopg.Connection[object]) -> None:
    db.execute(
        "WITH a AS (INSERT INTO applications (public_id, service_code, applicant_id, "
        "department_id, status, form, materials, submitted_at, accept_due) SELECT 'T-1', "
        "code, (SELECT min(id) FROM users), department_id, 'submitted', '{}', '[]', now(), "
        "current_date FROM service_items LIMIT 1 RETURNING id) "
        "INSERT INTO application_events (application_id, event_type, to_status, at) "
        "SELECT id, 'submitted', 'submitted', now() FROM a"
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute("DELETE FROM application_events")
