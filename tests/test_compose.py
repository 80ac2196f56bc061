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


def _scripts(service: dict[str, Any]) -> dict[str, str]:
    """The scripts a service mounts from docker/, by where they are mounted."""
    found = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        if source.startswith("./docker/"):
            found[target] = (ROOT / source).read_text()
    return found


def test_the_replica_streams_from_the_primary_on_its_slot() -> None:
    services = _compose()["services"]
    primary = _scripts(services["postgis"])
    init = primary["/docker-entrypoint-initdb.d/20-replication.sh"]
    assert "WITH REPLICATION LOGIN" in init
    assert "pg_create_physical_replication_slot('replica_1')" in init
    assert "host replication replicator" in init
    replica = services["postgis-replica"]
    start = _scripts(replica)[replica["entrypoint"][0]]
    # a copy of the primary that knows it is a standby (-R), on the primary's slot
    assert "pg_basebackup -h postgis" in start and " -R " in start and "-S replica_1" in start
    assert replica["image"] == services["postgis"]["image"]
    assert replica["user"] == "postgres"
    assert replica["depends_on"]["postgis"]["condition"] == "service_healthy"
    # a standby's max_connections is at least its primary's
    assert "max_connections=200" in services["postgis"]["command"]
    assert "max_connections=200" in start
    assert replica["volumes"][0].split(":")[0] in _compose()["volumes"]


def test_app_containers_share_their_keys_and_read_from_the_replica() -> None:
    compose = _compose()
    app, migrate = compose["services"]["app"], compose["services"]["migrate"]
    assert int(app["deploy"]["replicas"].split(":-")[1].rstrip("}")) >= 2
    env = app["environment"]
    assert env["ONEMAP_DATABASE_REPLICA_URLS"] == "postgresql://postgis-replica:5432/onemap"
    assert "ONEMAP_SERVER_WORKERS" in env
    # no host port of their own (N containers cannot share one): the proxy's is the way in
    assert "ports" not in app
    # one data volume for all, so every container signs and verifies with the same keys
    assert app["volumes"] == migrate["volumes"] == ["appdata:/app/data"]
    # the schema is migrated once, before any app starts
    assert "onemap migrate" in " ".join(migrate["command"])
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert app["command"] == ["onemap", "serve"]
    # the proxy's forwarded address is believed, and its address is the one named
    proxy = compose["services"]["proxy"]
    trusted = env["ONEMAP_SERVER_TRUSTED_PROXIES"]
    assert proxy["networks"]["default"]["ipv4_address"] in trusted


def test_the_proxy_is_the_one_way_in_and_runs_the_checked_config() -> None:
    proxy = _compose()["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    config = _scripts(proxy)["/etc/nginx/nginx.conf"]
    assert "hash $camera_id consistent" in config
    assert "listen 8080" in config
    assert proxy["ports"] == ["127.0.0.1:8000:8080"]
