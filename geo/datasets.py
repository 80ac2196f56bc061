"""What each published layer *is*, as a dataset: titles, owner department, licence, update
frequency and keywords — the one place the built-in layers' metadata lives.

The OGC collections take their titles and descriptions from here (``server.ogc.config``), the
open-data catalogue (``/open``, docs/open-data.md) all of it. Layers registered in the layer
catalogue carry the same fields in their registry rows and become :class:`DatasetMeta` the same
way (:func:`meta_of` takes them as ``registered``), so a registered public layer appears in the
open-data catalogue with no change here.

Which datasets a caller sees — and so which ones are *public* — is never decided here: that is
the access policy's (``geo.access.views_for``, ``geo.access.shareable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Frequency(StrEnum):
    """How often a dataset changes (DCAT ``dct:accrualPeriodicity``, the EU frequency
    vocabulary's names)."""

    CONTINUOUS = "CONT"  # changes as the city works (cases, sensors' states)
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    ANNUAL = "ANNUAL"
    IRREGULAR = "IRREG"  # when the base data is revised


#: The EU Publications Office frequency vocabulary (what DCAT-AP asks for).
FREQUENCY_BASE = "http://publications.europa.eu/resource/authority/frequency/"


@dataclass(frozen=True, slots=True)
class Licence:
    name: str
    url: str


#: The demo city's open data licence (a city would name its own: ONEMAP_OPEN_… is not needed
#: for the built-in layers; a registered layer names its licence in the registry).
CC_BY_4 = Licence("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/")
#: Internal data shared with a department's key: no open licence, the sharing agreement rules.
INTERNAL_USE = Licence("internal-use", "urn:onemap:licence:internal-use")


@dataclass(frozen=True, slots=True)
class DatasetMeta:
    """A layer's description as a dataset (the same fields for built-in and registered layers).

    ``title_zh``/``title_en`` are the bilingual titles; ``owner`` is a ``departments.code``.
    The temporal coverage is the span of the layer's time field (``geo.queries.ogc_fields``).
    """

    name: str
    title_en: str
    title_zh: str
    description: str
    owner: str
    frequency: Frequency
    keywords: tuple[str, ...]
    licence: Licence = CC_BY_4
    #: Said of the public view only (what the public version leaves out).
    public_note: str = ""

    @property
    def title(self) -> str:
        """The OGC collection title: English with the Chinese in brackets (one title when a
        registered layer has only one)."""
        if self.title_en == self.title_zh:
            return self.title_en
        return f"{self.title_en} ({self.title_zh})"


_M = DatasetMeta
F = Frequency

#: The built-in layers, by layer name (``geo.layers``).
BUILT_IN: Mapping[str, DatasetMeta] = {
    m.name: m
    for m in (
        _M("admin_areas", "Administrative areas", "行政区划",
           "Districts (区), streets (街道) and communities (社区) of the city.",
           "civil_affairs", F.ANNUAL, ("行政区划", "administrative boundaries", "district",
                                      "street", "community")),
        _M("grid_cells", "Management grid", "网格",
           "Grid cells: every point of the city lies in exactly one, with a responsible grid "
           "worker.", "street_office", F.ANNUAL, ("网格化管理", "management grid", "grid cell")),
        _M("facilities", "Facilities", "设施",
           "Hospitals, schools, shelters, stations, parks and more.", "emergency_management",
           F.MONTHLY, ("公共设施", "facilities", "hospital", "school", "shelter"),
           public_note=" Internal categories (hazard sources) are not published."),
        _M("cameras", "Cameras", "视频监控",
           "Camera positions, heading, field of view and status (never their stream).",
           "public_security", F.CONTINUOUS, ("视频监控", "cameras"), INTERNAL_USE),
        _M("cases", "Cases", "城市管理案件",
           "City-management cases: discover → dispatch → close.", "city_management",
           F.CONTINUOUS, ("城市管理", "cases", "12345", "city management"),
           public_note=" Anonymised: category, status, priority, times, grid cell and location "
           "only."),
        _M("sensors", "Sensors", "物联感知设备",
           "Smoke, gas, water-level and cable-temperature devices with their state: normal, "
           "warning, alarm or offline. Readings: the SensorThings API at /sta/v1.1.",
           "emergency_management", F.CONTINUOUS, ("物联感知", "IoT", "sensors"),
           public_note=" Devices of critical infrastructure (hazard sources, substations) are "
           "internal."),
        _M("roads", "Roads", "道路",
           "The road network: expressways, arterials, local streets and lanes, with speed "
           "limits, lanes and one-way flags (the geometry runs the way one may drive). Routing "
           "and closures: GraphQL route, driveTimeNearest, closeRoad.", "transport",
           F.MONTHLY, ("道路", "roads", "road network", "transport")),
        _M("buildings", "Buildings", "建筑物",
           "Building footprints with floors, height, use, year built, address and grid cell "
           "(internal; synthetic in the demo city). Never a house's occupants.", "housing",
           F.QUARTERLY, ("建筑物", "buildings", "footprints"), INTERNAL_USE),
    )
}  # fmt: skip


def meta_of(name: str, registered: Mapping[str, DatasetMeta] | None = None) -> DatasetMeta:
    """The metadata of layer ``name``: a built-in layer's, else a registered one's; a layer
    with neither is described by its name (never a KeyError on a new layer)."""
    found = BUILT_IN.get(name) or (registered or {}).get(name)
    if found is not None:
        return found
    return DatasetMeta(name, name, name, "", "", Frequency.IRREGULAR, ())


#: A catalogue layer's ``update_frequency`` (geo.catalogue.FREQUENCIES) as a DCAT frequency.
_FREQUENCY_OF = {"continual": Frequency.CONTINUOUS, "daily": Frequency.DAILY,
                 "weekly": Frequency.WEEKLY, "monthly": Frequency.MONTHLY,
                 "quarterly": Frequency.QUARTERLY, "annual": Frequency.ANNUAL}  # fmt: skip


def registered_meta(
    name: str, title: str, description: str, owner: str, update_frequency: str, licence: str,
    keywords: tuple[str, ...],
) -> DatasetMeta:  # fmt: skip
    """A catalogue layer's registry fields (geo.catalogue.CatalogueLayer) as a dataset: one
    title in both languages; ``irregular``, ``as_needed`` and ``not_planned`` are DCAT's
    irregular; a licence named by a URL is its own URL, CC-BY-4.0 the known one, any other a
    ``urn:onemap:licence:`` name."""
    if licence.upper() == CC_BY_4.name.upper():
        named = CC_BY_4
    elif licence.startswith(("http://", "https://")):
        named = Licence(licence, licence)
    else:
        named = Licence(licence, "urn:onemap:licence:" + "-".join(licence.lower().split()))
    return DatasetMeta(name, title, title, description, owner,
                       _FREQUENCY_OF.get(update_frequency, Frequency.IRREGULAR), keywords,
                       named)  # fmt: skip


def description(meta: DatasetMeta, internal: bool) -> str:
    """The description of a view: the public one says what it leaves out."""
    return meta.description if internal else meta.description + meta.public_note
