"""``onemap users create`` with a jurisdiction, then that account's view from the outside: it
logs in with its password and its token carries the jurisdiction it was given."""

from __future__ import annotations

import os

import jwt
import psycopg
from starlette.testclient import TestClient

from tests.mobile_helpers import unique_phone
from tests.test_cli import _run

PASSWORD = "district-centre-2026"  # noqa: S105 - a test account's


def _create(database_url: str, phone: str, *extra: str) -> tuple[int, str]:
    done = _run("users", "create", "--phone", phone, "--name", "区调度", "--role", "dispatcher",
                "--password-stdin", *extra, env={"ONEMAP_DATABASE_URL": database_url},
                input_text=PASSWORD + "\n")  # fmt: skip
    return done.returncode, done.stderr.strip()


def test_a_district_dispatcher_is_created_and_logs_in_with_that_district(
    client: TestClient, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        code, area = conn.execute(
            "SELECT code, id FROM admin_areas WHERE level = 'district' ORDER BY code DESC LIMIT 1"
        ).fetchone() or ("", 0)
    phone = unique_phone("1361")
    status, said = _create(database_url, phone, "--jurisdiction", f"district:{code}")
    assert status == 0, said
    grant = {"grant_type": "password", "phone": phone, "password": PASSWORD}
    r = client.post("/api/v1/auth/token", json=grant)
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["jur"] == {"scope": "district", "ids": [area]}


def test_a_bad_jurisdiction_is_refused_in_one_line(database_url: str) -> None:
    for given, said in [("district:NOPE", "no district with code NOPE"),
                        ("planet:earth", "unknown jurisdiction 'planet'"),
                        ("street", "jurisdiction 'street' needs codes")]:  # fmt: skip
        status, message = _create(database_url, unique_phone("1362"), "--jurisdiction", given)
        assert status != 0
        assert said in message and "Traceback" not in message
        assert len(message.splitlines()) == 1


def test_help_names_the_jurisdiction_syntax() -> None:
    done = _run("users", "create", "--help", env={"ONEMAP_DATABASE_URL": os.environ.get(
        "ONEMAP_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/onemap")})  # fmt: skip
    assert "--jurisdiction" in done.stdout and "district:CODE" in done.stdout
