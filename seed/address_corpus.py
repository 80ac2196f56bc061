"""Addresses written the way people write them, made from the seeded address base: the
geocoding tests' and benchmark's corpus (tests/test_geocode_corpus.py, bench/geocode).

Each entry distorts one door's standard address in one of the ways people do — the district
and street left out, full-width digits, traditional characters, Chinese numerals, filler words
(附近, 门口), the district shortened and run on, a mistyped character, 大道 for 路, English
forms with abbreviations, an English typo — and keeps the door it means. Deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from seed.geography import SEED

LAYER_NUMBER = 7
#: Characters people swap for one that sounds alike (a pinyin input method's slip).
HOMOPHONES = dict(
    zip(
        "华京东海中山路新安平和园光阳金桥康乐福春西南北江宁长",
        "化经冬还忠衫陆心按苹河圆广杨今乔糠了富椿希难背将凝常",
        strict=True,
    )
)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
CN_DIGITS = "零一二三四五六七八九"
FILLERS = ("附近", "门口", "旁边", "对面")
EN_SHORT = (("Road", "Rd"), ("Street", "St"), ("East", "E."), ("West", "W."), ("North", "N."),
            ("South", "S."), ("Middle", "Mid"))  # fmt: skip
KINDS = ("full_zh", "no_district", "with_building", "full_width", "traditional", "numerals",
         "filler", "district_short", "typo_zh", "en_no", "en_full", "en_typo", "variant",
         "en_building")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Door:
    id: int
    number: int
    road_zh: str
    road_en: str
    building_zh: str | None
    building_en: str | None
    district_zh: str
    district_en: str
    street_zh: str
    street_en: str


@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    address_id: int
    kind: str


def cn_numeral(n: int) -> str:
    """12 → 十二, 105 → 一百零五, 1202 → 一千二百零二 (as people say door numbers)."""
    if n < 10:
        return CN_DIGITS[n]
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (d == 1 and unit == "十" and not out) else CN_DIGITS[d]) + unit
    return out


def doors(conn: psycopg.Connection[Any], count: int) -> list[Door]:
    """``count`` doors of the base, a fixed pseudo-random draw (by the hash of the id)."""
    rows = conn.execute(
        "SELECT a.id, a.number, r.name_zh, r.name_en, a.building_zh, a.building_en, d.name_zh, "
        "d.name_en, s.name_zh, s.name_en FROM addresses a JOIN address_roads r ON r.id = a.road_id "
        "JOIN admin_areas d ON d.id = a.district_id JOIN admin_areas s ON s.id = a.street_id "
        "ORDER BY md5(a.id::text) LIMIT %s",
        (count,),
    ).fetchall()
    return [Door(*r) for r in rows]


def _en_short(name: str, rng: np.random.Generator) -> str:
    for word, short in EN_SHORT:
        if rng.random() < 0.7:
            name = name.replace(word, short)
    return name


def _typo_zh(road: str) -> str:
    for i in range(len(road) - 2, -1, -1):  # the core first, the kind (路) last
        if road[i] in HOMOPHONES:
            return road[:i] + HOMOPHONES[road[i]] + road[i + 1 :]
    return road[:-1] + HOMOPHONES.get(road[-1], "陆")


def _typo_en(name: str, rng: np.random.Generator) -> str:
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) >= 4:
        j = int(rng.integers(1, len(w) - 2))
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def _write(door: Door, kind: str, rng: np.random.Generator) -> str:
    d, n, road, b = door, door.number, door.road_zh, door.building_zh or ""
    short = d.district_zh.removesuffix("区")
    match kind:
        case "full_zh":
            return f"{d.district_zh}{d.street_zh}{road}{n}号{b}"
        case "no_district":
            return f"{road}{n}号"
        case "with_building":
            return f"{road}{n}号{b}" if b else f"{d.street_zh}{road}{n}号"
        case "full_width":
            return f"{road}{str(n).translate(FULL_WIDTH)}号"
        case "traditional":
            return f"{d.district_zh.replace('区', '區')}{road}{n}號"
        case "numerals":
            return f"{road}{cn_numeral(n)}号"
        case "filler":
            return f"{road}{n}号{FILLERS[int(rng.integers(0, len(FILLERS)))]}"
        case "district_short":
            return f"{short}{road}{n}号"
        case "typo_zh":
            return f"{_typo_zh(road)}{n}号"
        case "en_no":
            return f"No. {n} {_en_short(d.road_en, rng)}"
        case "en_full":
            return f"{n} {d.road_en}, {d.district_en}"
        case "en_typo":
            return f"{n} {_typo_en(d.road_en, rng)}"
        case "variant":
            if road.endswith("路") and not road.endswith("支路"):
                return f"{road[:-1]}大道{n}号"
            return f"{road[:-1]}大街{n}号" if road.endswith("街") else f"{road}{n}號"
        case _:
            where = f"{d.building_en}, " if d.building_en else ""
            return f"{where}{n} {_en_short(d.road_en, rng)}, {d.district_en}"


def corpus(conn: psycopg.Connection[Any], count: int) -> list[Entry]:
    """``count`` entries (the kinds in turn) over as many doors of the base."""
    rng = np.random.default_rng([SEED, LAYER_NUMBER])
    return [Entry(_write(door, KINDS[i % len(KINDS)], rng), door.id, KINDS[i % len(KINDS)])
            for i, door in enumerate(doors(conn, count))]  # fmt: skip
