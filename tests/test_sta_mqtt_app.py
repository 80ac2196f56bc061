"""The MQTT ingest as the server runs it: started by the app's lifespan (the sensor lead),
keeping the broker's password and ACL files in step with the registry and reloading the broker
it manages — a device given an account while the server runs can publish within seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from geo.services.sensor_mqtt import issue_device
from server.app import create_app
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import SensorSettings, Settings
from tests.mqtt_helpers import ADMIN, connect, private_broker, run_async, stored, wait_until
from tests.sta_helpers import STA, create, datastreams_of, staff, station


def _connects(port: int, user: str, password: str) -> bool:
    try:
        connect(port, user, password).close()
    except ConnectionRefusedError:
        return False
    return True


def test_the_server_ingests_and_keeps_the_broker_acl(
    tmp_path: Path, database_url: str, settings: Settings, tokens: TokenService
) -> None:
    with private_broker(tmp_path, database_url) as broker:
        mqtt = broker.settings.model_copy(update={
            "client_id": "onemap-app", "refresh_s": 0.3,
            "broker_pid_file": tmp_path / "mosquitto.pid"})  # fmt: skip
        app_settings = settings.model_copy(update={
            "mqtt": mqtt, "sta": SensorSettings(retention_sweep_hours=0)})  # fmt: skip
        admin = staff(tokens, database_url, "admin")
        with TestClient(create_app(app_settings)) as app:
            thing = create(app, admin, "Things", station("app gauge"))
            (ds,) = datastreams_of(app, admin, thing)
            # Made straight in the registry: the server writes the files and SIGHUPs the broker.
            user, password = run_async(database_url, lambda c: issue_device(c, ADMIN, thing))
            wait_until(lambda: _connects(broker.settings.device_port, user, password),
                       timeout=10, what="the broker to know the new device")  # fmt: skip
            device = connect(broker.settings.device_port, user, password)
            try:
                device.publish(f"v1.1/Datastreams({ds})/Observations",
                               {"result": 3.5}).wait_for_publish(5)  # fmt: skip
                wait_until(lambda: len(stored(database_url, ds)) == 1, what="the reading")
            finally:
                device.close()
            read = app.get(f"{STA}/Datastreams({ds})/Observations", headers=admin).json()
            assert [o["result"] for o in read["value"]] == [3.5]
        acl = (tmp_path / "acl").read_text()
        assert f"user {user}\ntopic write devices/v1.1/Datastreams({ds})/Observations\n" in acl


@pytest.mark.parametrize("flag", ["--help"])
def test_mqtt_commands_have_help(flag: str) -> None:
    from click.testing import CliRunner

    from server.cli import main

    for command in (["mqtt"], ["mqtt", "config"], ["mqtt", "device"], ["mqtt", "reader"],
                    ["sensors", "retention"]):  # fmt: skip
        result = CliRunner().invoke(main, [*command, flag])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
