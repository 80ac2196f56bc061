"""Free-text addresses as people write them, taken apart for geocoding (geo.queries.geocode).

Chinese and English, tolerant of what people do: full-width digits and letters (NFKC), a few
traditional characters (號, 區…), Chinese numerals before 号 (十二号 → 12), filler words (附近,
门口, near…), a district or street left out or shortened (浦东新华路), 大道/大街 for 路/街, and
English abbreviations (Rd, St, E., No.). The result is the house number, the unit (3号楼,
Building 3), a building name, and a few keys for the road name that the trigram indexes of
``address_roads`` are searched with. No I/O here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Traditional forms seen in addresses → simplified (the demo city's vocabulary and the usual).
_SIMPLIFIED = str.maketrans(
    "號區華東園灣廣門樓棟單陽長嶺際國興傑龍鳳橋條豐澤壽寧滬閔嘉靜陝蘇淮聯勝寶綠灣漢錦雲湧藝",
    "号区华东园湾广门楼栋单阳长岭际国兴杰龙凤桥条丰泽寿宁沪闵嘉静陕苏淮联胜宝绿湾汉锦云涌艺",
)
#: Words that say where near the address, not which: dropped before matching.
_FILLERS = re.compile(
    r"附近|门口|旁边|对面|边上|那边|这边|一带|路口|隔壁|楼下|大门|入口|里面|周边|"
    r"中华人民共和国|中国|上海市|上海|"
    r"\b(?:near|nearby|opposite|outside|next to|in front of|around|entrance|gate|"
    r"shanghai|china|prc)\b"
)
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百千]+)(?=\s*(?:号|弄|幢|栋|座|单元|室))")
#: The shortest road name: two characters and its kind (新华路).
MIN_ROAD = 3
_HAN = re.compile(r"[\u4e00-\u9fff]")

# Chinese parts.
_ZH_UNIT = re.compile(r"(\d+)\s*(?:号楼|幢|栋|座)")
_ZH_ROOM = re.compile(r"\d+\s*(?:单元|室|层|楼)")
_ZH_NUMBER = re.compile(r"(\d+)\s*号")
_ZH_BARE_NUMBER = re.compile(r"(?<=[路街道弄])\s*(\d+)")
_ZH_BUILDING = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:小区|大厦|公寓|花园|新村|广场|大楼|苑)")
_ZH_BUILDING_END = re.compile(r"小区|大厦|公寓|花园|新村|广场|大楼|苑")
_ZH_ADMIN_END = re.compile(r"街道|新区|区|镇")
#: The kind of a road, as keys write it: a variant to its standard word.
_ZH_KINDS = (("大道", "路"), ("马路", "路"), ("大街", "街"), ("支路", "支路"), ("路", "路"),
             ("街", "街"), ("弄", "弄"), ("巷", "巷"))  # fmt: skip

# English parts.
_EN_WORDS = {
    "rd": "road", "rd.": "road", "st": "street", "st.": "street", "str": "street",
    "ave": "road", "av": "road", "avenue": "road", "blvd": "road", "boulevard": "road",
    "ln": "lane", "br": "branch", "e": "east", "e.": "east", "w": "west", "w.": "west",
    "s": "south", "s.": "south", "n": "north", "n.": "north", "m": "middle", "mid": "middle",
    "(m)": "middle", "(e)": "east", "(w)": "west", "(s)": "south", "(n)": "north",
    "dist": "district", "dist.": "district",
}  # fmt: skip
_EN_ROAD_NO = re.compile(r"\bno\.?\s*(\d)\s+(road|rd\b)")  # "Zhongshan No.1 Road" is a name
_EN_UNIT = re.compile(r"\b(?:building|bldg\.?|block|blk\.?|tower)\s*(\d+)\b")
_EN_ROOM = re.compile(r"\b(?:room|rm\.?|flat|apt\.?|unit|floor)\s*\d+\b")
_EN_NUMBER = re.compile(r"(?:\bno\.?|\bnumber|#)\s*(\d+)\b")
_EN_BARE = re.compile(r"\b(\d+)\b")
_EN_ROAD_WORDS = re.compile(r"\b(road|street|lane|branch)\b")
_EN_ADMIN = re.compile(
    r"\b[a-z']+\s+(?:district|subdistrict|new area)\b|\b(?:district|subdistrict)\b"
)


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """An address taken apart: ``lang`` "zh" or "en"; ``road_keys`` the road part's keys
    (comparable with ``road_key`` of a road's name), best guess first; ``text`` the whole,
    normalised (for the search without a number)."""

    lang: str
    text: str
    road_keys: tuple[str, ...]
    number: int | None
    unit: int | None
    building: str | None


def _cn_number(word: str) -> int:
    """一百零五 → 105, 十二 → 12, 二三 → 23 (digits read one by one)."""
    if not any(c in _CN_UNITS for c in word):
        return int("".join(str(_CN_DIGITS[c]) for c in word))
    total, digit = 0, 0
    for c in word:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            total += (digit or 1) * _CN_UNITS[c]
            digit = 0
    return total + digit


def normalise(raw: str) -> str:
    """Width, case, traditional characters, Chinese numerals and fillers made regular."""
    text = unicodedata.normalize("NFKC", raw).translate(_SIMPLIFIED).lower()
    text = _CN_NUMBER.sub(lambda m: str(_cn_number(m[1])), text)
    text = _FILLERS.sub(" ", text)
    text = re.sub(r"[,，、;；()（）\[\]【】\"“”:：]", " , ", text)
    return re.sub(r"\s+", " ", text).strip(" ,")


def _zh_kind(name: str) -> tuple[str, str]:
    for variant, kind in _ZH_KINDS:
        if name.endswith(variant) and len(name) > len(variant):
            return name[: -len(variant)], kind
    return name, ""


def road_key(name: str) -> str:
    """A road name's key: Chinese its characters, the kind standard (新华大道 → 新 华 路), English
    lower-case words
    with abbreviations spelt out and no punctuation (Xinhua Rd. → xinhua road)."""
    text = normalise(name)
    if _HAN.search(text):
        core, kind = _zh_kind(re.sub(r"[^\u4e00-\u9fff\d]", "", text))
        # One word per character: trigrams then compare characters, not runs of three, which
        # in a name of three or four characters would make one wrong character cost it all.
        return " ".join(core + kind)
    text = _EN_ROAD_NO.sub(r"no\1 \2", text)
    words = [_EN_WORDS.get(w, w) for w in text.replace("'", "").split()]
    return " ".join(re.sub(r"[^a-z0-9]", "", w) for w in words if re.sub(r"[^a-z0-9]", "", w))


def parse(raw: str) -> ParsedAddress:
    text = normalise(raw)
    return _parse_zh(text) if _HAN.search(text) else _parse_en(text)


def _parse_zh(text: str) -> ParsedAddress:
    flat = text.replace(" ", "").replace(",", "")
    unit_m = _ZH_UNIT.search(flat)
    unit = int(unit_m[1]) if unit_m else None
    rest = _ZH_ROOM.sub("", _ZH_UNIT.sub("", flat))
    number_m = _ZH_NUMBER.search(rest) or _ZH_BARE_NUMBER.search(rest)
    number = int(number_m[1]) if number_m else None
    before, after = (rest[: number_m.start()], rest[number_m.end() :]) if number_m else (rest, "")
    building_m = _ZH_BUILDING.search(after)
    building = building_m[0] if building_m else None
    pieces = _ZH_BUILDING_END.split(before)
    if len(pieces) > 1 and len(pieces[-1]) >= MIN_ROAD:  # 金桥小区新华路12号; not 北苑路
        building = building or before[: len(before) - len(pieces[-1])][-8:]
        before = pieces[-1]
    road = before or after
    # After the last 区/街道/镇 that leaves a road's name behind it (丰镇路 is a road).
    ends = [m.end() for m in _ZH_ADMIN_END.finditer(road) if len(road) - m.end() >= MIN_ROAD]
    if ends:
        road = road[ends[-1] :]
    road = re.sub(r"\d+", "", road)
    keys = [road_key(road)] if road else []
    # A district or street shortened and run on (浦东新华路): also try without its first
    # two or three characters; the best match among the keys decides.
    for cut in (2, 3):
        if len(road) - cut >= 3:
            keys.append(road_key(road[cut:]))
    return ParsedAddress("zh", flat, tuple(dict.fromkeys(k for k in keys if k)), number, unit,
                         building)  # fmt: skip


def _parse_en(text: str) -> ParsedAddress:
    text = _EN_ROAD_NO.sub(r"no\1 \2", text)
    unit_m = _EN_UNIT.search(text)
    unit = int(unit_m[1]) if unit_m else None
    rest = _EN_ROOM.sub(" ", _EN_UNIT.sub(" ", text))
    number_m = _EN_NUMBER.search(rest) or _EN_BARE.search(rest)
    number = int(number_m[1]) if number_m else None
    if number_m:
        rest = rest[: number_m.start()] + " " + rest[number_m.end() :]
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    spelt = [" ".join(_EN_WORDS.get(w, w) for w in p.split()) for p in parts]
    roads = [p for p in spelt if _EN_ROAD_WORDS.search(p)] or spelt[:1]
    road = _EN_ADMIN.sub(" ", roads[0]) if roads else ""
    others = [p for p in spelt if p not in roads and not _EN_ADMIN.search(p)]
    keys = (road_key(road),) if road_key(road) else ()
    return ParsedAddress("en", " ".join(spelt), keys, number, unit,
                         " ".join(others) or None)  # fmt: skip
