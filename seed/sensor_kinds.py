"""The demo city's kinds of sensor device: where a city puts them, what they measure, and the
shared Sensor and ObservedProperty of each (one row per kind).

The ObservedProperty names are those the default rules match (geo.sensor_alarm_models
``DEFAULT_RULES``: "smoke obscuration", "gas concentration", "water level" less the gauge's
``warningLine``, "cable temperature"), so the seeded devices are judged like any other. Unit
symbols are UCUM codes. Everything here is synthetic; the devices' names echo what Shanghai's
城市运行 platforms register (a facility's name and the device's kind).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from geo.enums import FacilityCategory as F

#: Seconds between readings, as the devices send them (``properties.period``).
HOURLY = 3600
HALF_HOURLY = 1800
QUDT = "http://qudt.org/vocab/unit/"


@dataclass(frozen=True)
class Kind:
    code: str  # Thing properties.kind
    critical: bool  # critical infrastructure: internal (docs/sensors.md, Access)
    period: int
    decimals: int  # readings are rounded to this
    thing_zh: str  # "{fac}": the facility's Chinese name
    thing_en: str  # "{fac}": the facility's English name
    place_zh: str
    place_en: str
    sensor: dict[str, Any]
    observed_property: dict[str, Any]
    unit: dict[str, str]
    model: str = ""  # how its readings go (seed.sensor_readings); the code when empty


SMOKE = Kind(
    "smoke_detector", False, HOURLY, 2,
    "{fac}感烟火灾探测器", "Smoke detector at {fac}", "{fac}公共走廊", "Corridor ceiling, {fac}",
    {"name": "点型光电感烟火灾探测器 (NB-IoT)",
     "description": "Photoelectric point smoke detector (GB 4715) reporting its obscuration "
                    "hourly over NB-IoT",
     "encodingType": "text/html",
     "metadata": "https://en.wikipedia.org/wiki/Smoke_detector"},
    {"name": "smoke obscuration",
     "definition": "https://en.wikipedia.org/wiki/Smoke_detector",
     "description": "烟雾减光率: light lost to smoke per metre of air in the detector's chamber"},
    {"name": "percent per metre", "symbol": "%/m", "definition": "https://ucum.org/ucum"},
)  # fmt: skip
GAS = Kind(
    "gas_detector", False, HALF_HOURLY, 1,
    "{fac}可燃气体探测器", "Combustible gas detector at {fac}", "{fac}", "{fac}",
    {"name": "点型可燃气体探测器 (催化燃烧式)",
     "description": "Catalytic point detector of combustible gas (GB 15322.1), reading % LEL",
     "encodingType": "text/html", "metadata": "https://en.wikipedia.org/wiki/Gas_detector"},
    {"name": "gas concentration",
     "definition": "https://en.wikipedia.org/wiki/Flammability_limit",
     "description": "可燃气体浓度, as a percentage of the gas's lower explosive limit (% LEL)"},
    {"name": "percent of lower explosive limit", "symbol": "%LEL",
     "definition": QUDT + "PERCENT"},
)  # fmt: skip
WATER = Kind(
    "water_level_gauge", False, HALF_HOURLY, 3,
    "{fac}积水监测仪", "Waterlogging gauge at {fac}", "{fac}监测杆", "Gauge post, {fac}",
    {"name": "超声波积水监测仪",
     "description": "Ultrasonic gauge of the water standing on the road surface",
     "encodingType": "text/html",
     "metadata": "https://en.wikipedia.org/wiki/Level_sensor"},
    {"name": "water level",
     "definition": "http://vocab.nerc.ac.uk/collection/P01/current/ASLVZZ01/",
     "description": "路面积水深度: depth of water over the road surface at the gauge; the rule "
                    "compares it with the gauge's warningLine"},
    {"name": "metre", "symbol": "m", "definition": QUDT + "M"},
)  # fmt: skip
CABLE = Kind(
    "cable_temperature_sensor", True, HALF_HOURLY, 1,
    "{fac}牵引变电所电缆测温", "Cable temperature sensor, traction substation of {fac}",
    "{fac}牵引变电所电缆夹层", "Cable vault of the traction substation, {fac}",
    {"name": "电缆表面温度传感器",
     "description": "Surface temperature sensor (PT100) on 35 kV power cables",
     "encodingType": "text/html",
     "metadata": "https://en.wikipedia.org/wiki/Resistance_thermometer"},
    {"name": "cable temperature",
     "definition": "http://qudt.org/vocab/quantitykind/Temperature",
     "description": "电缆表面温度: the temperature of a power cable's sheath; it follows the load"},
    {"name": "degree Celsius", "symbol": "Cel", "definition": QUDT + "DEG_C"},
)  # fmt: skip
KINDS = (SMOKE, GAS, WATER, CABLE)

#: Gas detectors in hazard sources watch internal data: critical, like the substations.
HAZARD_GAS = replace(
    GAS, critical=True, model="gas_store", place_zh="{fac}储存区", place_en="Storage area, {fac}"
)
KITCHEN_GAS = replace(
    GAS,
    model="gas_kitchen",
    thing_zh="{fac}餐厅后厨可燃气体探测器",
    thing_en="Gas detector, restaurant kitchen of {fac}",
    place_zh="{fac}餐厅后厨",
    place_en="Restaurant kitchen, {fac}",
)

#: Share of the venues whose restaurant has a gas detector; of the kindergartens and the
#: community centres without elderly day care that have a connected smoke detector.
VENUE_SHARE = 0.5
KINDERGARTEN_SHARE = 0.1
COMMUNITY_SHARE = 0.05
#: The facility categories that may hold a device (their rows are read from the database).
CATEGORIES = (F.ELDERLY_CARE, F.SCHOOL, F.KINDERGARTEN, F.COMMUNITY_CENTER, F.HAZARD_SOURCE,
              F.VENUE, F.WATERLOGGING_POINT, F.METRO_STATION)  # fmt: skip


def placed(category: str, attributes: dict[str, str], u: float) -> Kind | None:
    """The device a facility of ``category`` gets (``u``: its uniform draw), or None: smoke
    detectors where people sleep or are cared for (every elderly home, boarding schools'
    dormitories, community centres with 托老 day care, a share of the kindergartens), gas
    detectors at every hazard source and in half the venues' kitchens, a gauge at every
    waterlogging point, a cable sensor in every metro station's traction substation."""
    match category:
        case F.ELDERLY_CARE:
            return SMOKE
        case F.SCHOOL:
            return SMOKE if attributes.get("boarding") == "yes" else None
        case F.KINDERGARTEN:
            return SMOKE if u < KINDERGARTEN_SHARE else None
        case F.COMMUNITY_CENTER:
            care = attributes.get("services") == "托老"
            return SMOKE if care or u < COMMUNITY_SHARE else None
        case F.HAZARD_SOURCE:
            return HAZARD_GAS
        case F.VENUE:
            return KITCHEN_GAS if u < VENUE_SHARE else None
        case F.WATERLOGGING_POINT:
            return WATER
        case F.METRO_STATION:
            return CABLE
    return None
