"""The ``onemap`` command from the outside: help everywhere, one-line failures, a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from geo import migrate
from tests.conftest import ROOT

ONEMAP = str(Path(sys.executable).with_name("onemap"))
COMMANDS = [[], ["db"], ["db", "provision"], ["db", "roles"], ["migrate"], ["seed"], ["serve"],
            ["audit"], ["audit", "verify"], ["audit", "export"], ["sweep"], ["evaluation"],
            ["evaluation", "rebuild"], ["apikeys"], ["apikeys", "create"], ["apikeys", "list"],
            ["apikeys", "revoke"], ["apikeys", "usage"]]  # fmt: skip


def _run(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "ONEMAP_LOG_LEVEL": "WARNING", **(env or {})}
    return subprocess.run(
        [ONEMAP, *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT,
        input=input_text,
    )  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "onemap")
def test_every_command_has_help(command: list[str]) -> None:
    done = _run(*command, "--help")
    assert done.returncode == 0
    assert "Usage: onemap" in done.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ONEMAP_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"},
         "cannot connect to the database (127.0.0.1:1/nowhere)"),
        ({"ONEMAP_DATABASE_URL": "mysql://root@127.0.0.1/x"},
         "invalid setting ONEMAP_DATABASE_URL: must be a postgresql:// URL"),
        ({"ONEMAP_SERVER_PORT": "99999"}, "invalid setting ONEMAP_SERVER_PORT"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["seed"], ["sweep", "--once"]])
def test_bad_settings_exit_non_zero_with_one_line(
    env: dict[str, str], message: str, command: list[str]
) -> None:
    done = _run(*command, env=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_seed_again_adds_nothing(database_url: str) -> None:
    done = _run("seed", "--scale", "0.05", env={"ONEMAP_DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    assert "added nothing" in done.stderr


def test_sweep_once_prints_its_counts(database_url: str) -> None:
    """Beside running servers, as the app role; a second sweep right after has nothing to
    tell (every notice is made once)."""
    import json

    first = _run("sweep", "--once", env={"ONEMAP_DATABASE_URL": database_url})
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["ran"] is True
    second = json.loads(_run("sweep", "--once", env={"ONEMAP_DATABASE_URL": database_url}).stdout)
    assert (second["ran"], second["notifications"], second["escalations"]) == (True, 0, 0)


def test_evaluation_rebuild_recomputes_every_case_with_progress(database_url: str) -> None:
    """Every case's facts recomputed (a bar labelled facts on stderr); ``--missing`` finds none
    left to do."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM cases").fetchone()
    assert row is not None
    env = {"ONEMAP_DATABASE_URL": database_url}
    done = _run("evaluation", "rebuild", env=env)
    assert done.returncode == 0, done.stderr
    assert "facts" in done.stderr.splitlines()[0]
    assert f"evaluation facts of {row[0]:,} cases rebuilt" in done.stderr
    again = _run("evaluation", "rebuild", "--missing", "--quiet", env=env)
    assert again.stderr.strip() == "evaluation facts of 0 cases rebuilt"


def test_migrate_at_head_is_a_no_op(database_url: str) -> None:
    done = _run("migrate", env={"ONEMAP_DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    head = migrate.head_revision()
    assert f"{head} → {head}" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_a_real_server(database_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [ONEMAP, "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "server did not start in 30 s"
                time.sleep(0.2)
        assert r.status_code == 200
        assert r.json()["status"] == "ready"
        r = httpx.get(f"http://127.0.0.1:{port}/nope", timeout=2)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says why it ended.
    assert proc.returncode in (0, -15)
    assert "Traceback" not in err


def test_graphql_resolves_to_graphql_core_not_the_contract_folder() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import graphql; print(graphql.__file__)"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    assert "site-packages" in done.stdout
    assert not (ROOT / "graphql" / "__init__.py").exists()
    assert not list((ROOT / "graphql").rglob("*.py"))
