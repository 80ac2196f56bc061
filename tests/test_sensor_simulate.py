"""``onemap simulate sensors`` from the outside (issue 15, item 6): a real ``onemap serve`` with
its MQTT ingest on a private Mosquitto, the simulator run as a command, and what the
dispatcher reads over GraphQL and the map's OGC collection — a rainstorm's gauges alarm, make
one routed case each and clear when the water falls; a gas leak makes one gas_leak case.

The city is a database of the module's own, seeded like the session's: the simulator feeds
the seeded devices, and the session's city must stay as the seed left it (test_seed_sensors
judges it). Its water rule is made to need 10 s instead of 60 (as an admin may) so the test
stays short; the simulator reads the rule and holds the water over it long enough.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from geo import migrate
from seed.load import seed
from server.kernel.auth.tokens import TokenService
from tests.conftest import (
    TEST_SCALE,
    create_database,
    database_roles,
    drop_database,
    sqlalchemy_url,
)
from tests.gql_helpers import operation
from tests.mapview_helpers import chromium, element, readable, signed_in
from tests.mobile_helpers import auth, user_with_role
from tests.mqtt_helpers import private_broker, wait_until
from tests.running_server import running_server
from tests.test_mapview_browser import DISPATCHER, until

OPS = operation("sensor_alarms")
ONEMAP = str(Path(sys.executable).with_name("onemap"))


@dataclass
class Live:
    url: str  # the server
    database_url: str
    env: dict[str, str]  # the simulator's (the server's MQTT settings)
    dispatcher: dict[str, str]
    admin: dict[str, str]

    def gql(self, name: str, headers: dict[str, str] | None = None, **variables: Any) -> Any:
        response = httpx.post(f"{self.url}/graphql", headers=headers or self.dispatcher,
                              json={"query": OPS, "operationName": name,
                                    "variables": variables}, timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    def state(self, thing: int, headers: dict[str, str] | None = None) -> str:
        response = httpx.get(f"{self.url}/ogc/collections/sensors/items/{thing}?f=json",
                             headers=headers or {}, timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        return str(response.json()["properties"]["state"])

    def alarms(self, thing: int) -> list[Any]:
        return list(self.gql("SensorAlarms", active=None, thingId=str(thing))["sensorAlarms"])

    def simulate(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([ONEMAP, "simulate", "sensors", "--quiet", *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip


@pytest.fixture(scope="module")
def city() -> Iterator[str]:
    url = create_database("onemap_sim")
    try:
        migrate.upgrade(sqlalchemy_url(url), roles=database_roles())
        with psycopg.connect(url, autocommit=True) as conn:
            seed(conn, TEST_SCALE)
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="module")
def live(
    city: str, tokens: TokenService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("mqtt")
    with private_broker(directory, city) as broker:
        s = broker.settings
        mqtt = {"ONEMAP_MQTT_HOST": s.host, "ONEMAP_MQTT_PORT": str(s.port),
                "ONEMAP_MQTT_DEVICE_PORT": str(s.device_port),
                "ONEMAP_MQTT_USERNAME": s.username,
                "ONEMAP_MQTT_PASSWORD": s.login_password()}  # fmt: skip
        client_id = f"onemap-sim-test-{secrets.token_hex(4)}"
        server_env = {**mqtt, "ONEMAP_MQTT_ENABLED": "true", "ONEMAP_MQTT_CLIENT_ID": client_id}
        with running_server(city, **server_env) as url:
            # the ingest connected (its first session: nothing is queued for it before)
            log = directory / "mosquitto.log"
            wait_until(lambda: client_id in log.read_text(), timeout=40, what="the ingest")
            time.sleep(0.5)  # subscribed
            env = {**os.environ, "ONEMAP_DATABASE_URL": city, "ONEMAP_LOG_LEVEL": "WARNING",
                   **mqtt}  # fmt: skip
            dispatcher = auth(tokens, user_with_role(city, "dispatcher"), "dispatcher")
            admin = auth(tokens, user_with_role(city, "admin"), "admin")
            yield Live(url, city, env, dispatcher, admin)


def _rows(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


GAUGES = """
SELECT dist.code, t.id, t.grid_cell_id FROM sta_things t
JOIN grid_cells g ON g.id = t.grid_cell_id JOIN admin_areas c ON c.id = g.community_id
JOIN admin_areas s ON s.id = c.parent_id JOIN admin_areas dist ON dist.id = s.parent_id
WHERE t.properties ->> 'kind' = 'water_level_gauge' ORDER BY dist.code, t.id
"""


def _districts(live: Live) -> dict[str, dict[int, int]]:
    """Each district's gauges: {Thing id: grid cell id}."""
    by_district: dict[str, dict[int, int]] = {}
    for code, thing, cell in _rows(live.database_url, GAUGES):
        by_district.setdefault(code, {})[thing] = cell
    return by_district


def _finish(proc: subprocess.Popen[str], timeout: float = 90) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def test_a_rainstorm_raises_routed_alarms_that_clear_when_the_water_falls(live: Live) -> None:
    rule = next(r for r in live.gql("SensorRules", live.admin)["sensorRules"]
                if r["observedProperty"] == "water level")  # fmt: skip
    live.gql("UpdateSensorRule", live.admin, id=rule["id"], input={"minDurationS": 10})
    by_district = _districts(live)
    # the district with the fewest gauges, two at least; another district stays dry
    busiest = max(by_district, key=lambda d: len(by_district[d]))  # the browser test's
    district, gauges = min(((d, g) for d, g in by_district.items()
                            if len(g) >= 2 and d != busiest),
                           key=lambda dg: len(dg[1]))  # fmt: skip
    dry = next(t for d, g in by_district.items() if d != district for t in g)

    started = time.monotonic()
    proc = live.simulate("--scenario", "rainstorm", "--speed", "600", "--district", district)
    raised: set[int] = set()

    def all_raised() -> bool:
        active = live.gql("SensorAlarms", active=True, first=200)["sensorAlarms"]
        raised.update(int(a["thingId"]) for a in active if a["level"] == "ALARM")
        return set(gauges) <= raised

    wait_until(all_raised, timeout=60, what=f"alarms of every gauge of {district}")
    # while raised: red on the map, for the public too (gauges are not critical)
    assert {live.state(t) for t in gauges} == {"alarm"}
    out = _finish(proc)
    assert f"scenario rainstorm in district {district}: {len(gauges)} device(s)" in out
    counts = out.split("readings sent ")[1].split(" (")[0].split(", acknowledged ")
    sent, acked = (int(x.replace(",", "")) for x in counts)
    assert sent == acked > len(gauges) * 10

    def all_cleared() -> bool:
        return all(a["clearedAt"] for t in gauges for a in live.alarms(t))

    wait_until(all_cleared, timeout=20, what="the alarms to clear")
    cases = set()
    for thing, cell in gauges.items():
        (alarm,) = live.alarms(thing)  # one episode per gauge: no flapping
        assert (alarm["peakLevel"], alarm["active"]) == ("ALARM", False)
        case = live.gql("AlarmCase", id=alarm["caseId"])["case"]
        assert (case["source"], case["category"]) == ("SENSOR", "waterlogging")
        assert case["department"]["code"] == "water_authority"
        assert int(case["gridCell"]["id"]) == cell
        assert "已解除" in " ".join(e["note"] or "" for e in case["events"])
        cases.add(case["id"])
        assert live.state(thing) == "normal"
    assert len(cases) == len(gauges)
    assert live.alarms(dry) == []
    assert time.monotonic() - started < 90


def test_the_dispatchers_feed_shows_the_rainstorm(live: Live) -> None:
    """The map view signed in as the dispatcher: while the storm runs, its feed lists each
    gauge's 传感器报警 as it is raised, the map colours it, and the clears follow."""
    # another district than the test above's (its gauges' cases are still open)
    district, gauges = max(_districts(live).items(), key=lambda dg: len(dg[1]))
    first = min(gauges)
    with chromium() as browser:
        page, console = signed_in(browser, live.url, *DISPATCHER)
        page.click("[data-tab=feed]")
        proc = live.simulate("--scenario", "rainstorm", "--speed", "600", "--district", district,
                             "--devices", "2")  # the first two gauges, nothing else  # fmt: skip
        raised = "#feed li[data-sensor-alarm-id][data-change='raised']"
        element(page, raised, 60000)
        state = "window.onemap.map.getFeatureState({source: 'sensors', sourceLayer: 'sensors', "
        assert until(page, f"{state}id: {first}}}).state === 'alarm'", 30)
        text = readable(page.inner_text("#feed"))
        assert "传感器报警" in text and "water level over the warning line" in text
        name = _rows(live.database_url, "SELECT name FROM sta_things WHERE id = %s", first)[0][0]
        assert until(page, f"document.querySelector('#feed').innerText.includes({name!r})", 30)
        _finish(proc)
        element(page, "#feed li[data-sensor-alarm-id][data-change='cleared']", 20000)
        assert console.errors == []
        page.context.close()


def test_a_gas_leak_makes_one_gas_leak_case(live: Live) -> None:
    proc = live.simulate("--scenario", "gas-leak", "--speed", "600")
    out = _finish(proc)
    thing = int(out.split("  Thing ")[1].split(" ")[0])
    assert "scenario gas-leak: 1 device(s)" in out

    def cleared() -> bool:
        found = live.alarms(thing)
        return bool(found) and all(a["clearedAt"] for a in found)

    wait_until(cleared, timeout=20, what="the gas alarm to clear")
    (alarm,) = live.alarms(thing)
    assert alarm["peakLevel"] == "ALARM" and alarm["peakValue"] >= 25
    case = live.gql("AlarmCase", id=alarm["caseId"])["case"]
    assert (case["source"], case["category"], case["department"]["code"]) == (
        "SENSOR", "gas_leak", "fire_rescue")  # fmt: skip
    assert live.state(thing) == "normal"


def test_bad_options_are_refused_with_a_reason(live: Live) -> None:
    proc = live.simulate("--scenario", "rainstorm", "--district", "NO-SUCH")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "no district 'NO-SUCH'" in err
    proc = live.simulate("--scenario", "gas-leak", "--duration", "2")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "needs --duration" in err
    env = {**live.env, "ONEMAP_MQTT_PASSWORD": "wrong"}
    proc = subprocess.run([ONEMAP, "simulate", "sensors", "--duration", "1"], env=env,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and "refused" in proc.stderr


def test_simulate_has_help() -> None:
    for command in (["simulate"], ["simulate", "sensors"]):
        proc = subprocess.run([ONEMAP, *command, "--help"], capture_output=True, text=True,
                              timeout=30)  # fmt: skip
        assert proc.returncode == 0 and "Usage:" in proc.stdout
