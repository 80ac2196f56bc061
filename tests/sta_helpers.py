"""Shared helpers of the SensorThings tests: tokens, a deep-inserted station, observations."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from server.kernel.auth.tokens import TokenService
from tests.mobile_helpers import auth, user_with_role

STA = "/sta/v1.1"
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
#: A point inside the demo city (central Shanghai), lon/lat.
IN_CITY = (121.4737, 31.2304)


def staff(tokens: TokenService, database_url: str, role: str) -> dict[str, str]:
    return auth(tokens, user_with_role(database_url, role), role)


def station(
    name: str,
    *,
    lon: float = IN_CITY[0],
    lat: float = IN_CITY[1],
    critical: bool = False,
    streams: int = 1,
) -> dict[str, Any]:
    """A Thing with a Location and ``streams`` Datastreams, each with its Sensor and
    ObservedProperty inline (the deep insert of the standard)."""
    return {
        "name": name,
        "description": f"{name} (test station)",
        "properties": {"critical": critical, "kind": "water_level"},
        "Locations": [
            {
                "name": f"{name} site",
                "description": "where it stands",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} level {i}",
                "description": "water level over the warning line",
                "observationType": MEASUREMENT,
                "unitOfMeasurement": {
                    "name": "metre",
                    "symbol": "m",
                    "definition": "http://qudt.org/vocab/unit/M",
                },
                "Sensor": {
                    "name": f"gauge {i}",
                    "description": "radar gauge",
                    "encodingType": "application/pdf",
                    "metadata": "https://example.org/g.pdf",
                },
                "ObservedProperty": {
                    "name": "water level",
                    "description": "level",
                    "definition": "http://vocab.nerc.ac.uk/collection/P01/current/ASLVZZ01/",
                },
            }
            for i in range(streams)
        ],
    }


def create(client: TestClient, headers: dict[str, str], path: str, body: Any) -> int:
    response = client.post(f"{STA}/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    return int(location[location.rindex("(") + 1 : -1])


def datastreams_of(client: TestClient, headers: dict[str, str], thing_id: int) -> list[int]:
    response = client.get(f"{STA}/Things({thing_id})/Datastreams", headers=headers)
    assert response.status_code == 200, response.text
    return [d["@iot.id"] for d in response.json()["value"]]
