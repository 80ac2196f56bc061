"""docker-compose.yml, checked by parsing (no Docker engine runs here)."""

from __future__ import annotations

from typing import Any

import yaml

from server.kernel.settings import Settings
from tests.conftest import ROOT


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_postgis_service_has_a_health_check_and_a_volume() -> None:
    compose = _compose()
    db = compose["services"]["postgis"]
    # PostGIS with pgRouting: the postgis/postgis image and the Debian package (roads)
    dockerfile = (ROOT / db["build"]["context"] / db["build"]["dockerfile"]).read_text()
    assert "FROM postgis/postgis:15-" in dockerfile
    assert "postgresql-15-pgrouting" in dockerfile
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_app_builds_from_the_dockerfile_and_waits_for_a_healthy_database() -> None:
    compose = _compose()
    app = compose["services"]["app"]
    dockerfile = ROOT / app["build"]["context"] / app["build"]["dockerfile"]
    assert dockerfile.is_file()
    assert app["depends_on"]["postgis"]["condition"] == "service_healthy"
    for mount in app["volumes"]:
        assert mount.split(":")[0] in compose["volumes"]
    # Every package the Dockerfile copies exists, and it runs the real CLI.
    text = dockerfile.read_text()
    copied = [line.split()[1:-1] for line in text.splitlines()
              if line.startswith("COPY ") and "--from=" not in line]  # fmt: skip
    assert copied
    for sources in copied:
        for src in sources:
            assert (ROOT / src).exists(), src
    assert "onemap serve" in text


def test_app_environment_names_real_settings_and_the_database_service() -> None:
    app = _compose()["services"]["app"]
    env: dict[str, str] = app["environment"]
    known = {"ONEMAP_SEED_SCALE"}  # read by the image's start command, not by Settings
    for model in Settings.model_fields.values():
        assert model.annotation is not None
        prefix = model.annotation.model_config["env_prefix"]
        known |= {prefix + name.upper() for name in model.annotation.model_fields}
    assert set(env) <= known, set(env) - known
    url = env["ONEMAP_DATABASE_URL"]
    assert "@postgis:5432/" in url
    db_env = _compose()["services"]["postgis"]["environment"]
    assert url.endswith("/" + db_env["POSTGRES_DB"])
    assert f"//{db_env['POSTGRES_USER']}:" in url
