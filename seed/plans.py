"""The demo city's emergency plans (预案): flood (城市防汛), fire (火灾) and hazardous chemicals
(危险化学品), each with the four response levels and their measures.

SYNTHETIC but realistic: the shape follows Chinese municipal plans (a document number, the
general office of the city government issuing, levels I 特别重大 to IV 一般, each with its
measures for named departments and the resources they bring); numbers and details are
invented. Written in one transaction as the plan registry writes a first version
(geo.services.plans); the seed step runs once (``seed_progress``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

PLANS_STEP = "plans"
ISSUER = "演示市人民政府办公厅 (General Office of the Demo City People's Government)"

# (department code, 中文, English, ((facility category, count), …), due minutes)
Measure = tuple[str, str, str, tuple[tuple[str, int], ...], int]
PlanSpec = tuple[str, str, str, str, str, dict[str, tuple[Measure, ...]]]

FLOOD: PlanSpec = (
    "演示市政办发〔2026〕18号", "flood", "城市防汛应急预案", "Urban Flood Emergency Plan",
    "全市行政区域内暴雨、城市内涝及其次生灾害的预防和应急处置。Rainstorms, urban waterlogging "
    "and their secondary disasters anywhere in the city.",
    {
        "IV": (
            ("water_authority", "加强易涝点巡查，排水泵站预抽空", "Patrol waterlogging points; "
             "pump stations draw down in advance", (), 60),
            ("city_management", "清掏雨水口，疏通排水管网", "Clear storm inlets and drains",
             (), 120),
            ("street_office", "通知社区网格员在易涝点值守", "Grid workers stand by at "
             "waterlogging points", (), 60),
        ),
        "III": (
            ("water_authority", "启动移动泵车抽排积水", "Deploy mobile pump trucks to drain "
             "standing water", (), 60),
            ("transport", "积水路段交通管制，发布绕行信息", "Traffic control on flooded roads; "
             "publish detours", (), 45),
            ("public_security", "积水区域设置警戒，维护秩序", "Cordon off flooded areas and keep "
             "order", (("police_station", 1),), 45),
            ("civil_affairs", "开放就近应急避难场所", "Open the nearest emergency shelters",
             (("shelter", 2),), 90),
        ),
        "II": (
            ("emergency_management", "成立现场指挥部，统一调度救援力量", "Set up the on-site "
             "command post; coordinate all rescue forces", (), 30),
            ("fire_rescue", "派出救援队伍转移被困人员", "Send rescue teams to evacuate trapped "
             "people", (("fire_station", 2),), 30),
            ("water_authority", "泵站满负荷运行，调集全部移动泵车", "Run pump stations at full "
             "load; call in every mobile pump truck", (), 45),
            ("transport", "封闭下穿通道和低洼路段", "Close underpasses and low-lying roads",
             (), 30),
            ("civil_affairs", "开放避难场所，安置转移群众", "Open shelters and house evacuees",
             (("shelter", 3),), 60),
            ("health_commission", "医疗救护队赶赴现场待命", "Medical teams stand by on site",
             (("hospital", 2),), 45),
            ("power_grid", "积水区域配电设施停电保护", "Cut power to distribution equipment in "
             "flooded areas", (), 30),
        ),
        "I": (
            ("emergency_management", "市应急指挥部全面指挥，请求省级支援", "The city command "
             "takes full control and asks the province for support", (), 20),
            ("fire_rescue", "全部救援力量投入抢险", "Commit every rescue force",
             (("fire_station", 4),), 20),
            ("public_security", "全面交通管制，组织人员疏散", "Full traffic control; organise "
             "evacuation", (("police_station", 3),), 20),
            ("street_office", "组织学校、幼儿园、养老机构人员转移", "Move people out of schools, "
             "kindergartens and elderly homes", (), 30),
            ("civil_affairs", "开放全部避难场所", "Open every shelter", (("shelter", 6),), 45),
            ("health_commission", "启动医疗救治绿色通道", "Open green channels for the injured",
             (("hospital", 4),), 30),
            ("power_grid", "保障指挥部和医院应急供电", "Keep power to the command post and "
             "hospitals", (), 30),
        ),
    },
)  # fmt: skip

FIRE: PlanSpec = (
    "演示市政办发〔2026〕21号", "fire", "火灾事故应急预案", "Fire Emergency Plan",
    "全市范围内建筑、场所和设施火灾的扑救与人员疏散。Fires in buildings, venues and "
    "facilities anywhere in the city, their fighting and evacuation.",
    {
        "IV": (
            ("fire_rescue", "辖区消防站出警扑救", "The local fire station responds",
             (("fire_station", 1),), 15),
            ("street_office", "网格员协助疏散周边群众", "Grid workers help evacuate neighbours",
             (), 30),
        ),
        "III": (
            ("fire_rescue", "增派邻近消防站力量", "Send forces from neighbouring stations",
             (("fire_station", 2),), 15),
            ("public_security", "设置警戒区，疏导交通", "Set a cordon and direct traffic",
             (("police_station", 1),), 20),
            ("health_commission", "派出救护车待命", "Ambulances stand by", (("hospital", 1),), 20),
        ),
        "II": (
            ("emergency_management", "成立现场指挥部", "Set up the on-site command post", (), 20),
            ("fire_rescue", "调集全市消防力量", "Call in the city's fire forces",
             (("fire_station", 4),), 15),
            ("public_security", "疏散周边人员，实施交通管制", "Evacuate the surroundings; "
             "traffic control", (("police_station", 2),), 20),
            ("health_commission", "组织伤员救治", "Treat the injured", (("hospital", 2),), 20),
            ("power_grid", "切断火场周边电源", "Cut power around the fire", (), 15),
            ("ecology_environment", "监测烟气对周边环境影响", "Monitor the smoke's effect on "
             "the surroundings", (), 60),
        ),
        "I": (
            ("emergency_management", "市应急指挥部统一指挥，请求增援", "The city command "
             "leads and asks for reinforcements", (), 15),
            ("fire_rescue", "全部消防力量投入，请求跨区增援", "Commit every fire force; ask "
             "other districts", (("fire_station", 6),), 15),
            ("public_security", "大范围疏散和交通管制", "Wide evacuation and traffic control",
             (("police_station", 4),), 15),
            ("health_commission", "启动大规模伤员救治", "Mass-casualty treatment",
             (("hospital", 4),), 20),
            ("civil_affairs", "开放避难场所安置受灾群众", "Open shelters for those displaced",
             (("shelter", 3),), 60),
        ),
    },
)  # fmt: skip

HAZCHEM: PlanSpec = (
    "演示市政办发〔2026〕25号", "hazardous_chemicals", "危险化学品事故应急预案",
    "Hazardous Chemicals Accident Emergency Plan",
    "危险化学品生产、储存、运输、使用过程中的泄漏、火灾、爆炸事故。Leaks, fires and "
    "explosions where hazardous chemicals are made, stored, carried or used.",
    {
        "IV": (
            ("emergency_management", "核实事故单位和化学品种类", "Identify the site and the "
             "chemicals", (), 30),
            ("fire_rescue", "派出专业处置力量", "Send a hazmat team", (("fire_station", 1),), 20),
        ),
        "III": (
            ("fire_rescue", "堵漏、稀释、洗消", "Plug, dilute and decontaminate",
             (("fire_station", 2),), 20),
            ("ecology_environment", "开展大气和水体应急监测", "Monitor air and water", (), 45),
            ("public_security", "划定警戒区，禁止无关人员进入", "Mark the exclusion zone",
             (("police_station", 1),), 20),
        ),
        "II": (
            ("emergency_management", "成立现场指挥部，组织专家研判", "Set up the command post; "
             "convene the experts", (), 20),
            ("fire_rescue", "调集全市危化品处置力量", "Call in the city's hazmat forces",
             (("fire_station", 3),), 20),
            ("ecology_environment", "扩大监测范围，防止污染扩散", "Widen monitoring; contain "
             "the pollution", (), 30),
            ("public_security", "疏散下风向群众", "Evacuate people downwind",
             (("police_station", 2),), 20),
            ("health_commission", "中毒伤员救治", "Treat poisoning casualties",
             (("hospital", 2),), 30),
            ("market_regulation", "排查同类企业危化品储存", "Inspect similar firms' storage",
             (), 240),
        ),
        "I": (
            ("emergency_management", "市应急指挥部统一指挥，请求国家支援", "The city command "
             "leads and asks for national support", (), 15),
            ("fire_rescue", "全部危化品处置力量投入", "Commit every hazmat force",
             (("fire_station", 5),), 15),
            ("public_security", "大范围疏散，全面交通管制", "Wide evacuation; full traffic "
             "control", (("police_station", 4),), 15),
            ("health_commission", "启动中毒救治预案", "Mass poisoning treatment",
             (("hospital", 4),), 20),
            ("civil_affairs", "开放避难场所", "Open shelters", (("shelter", 4),), 45),
            ("ecology_environment", "持续监测并发布环境信息", "Keep monitoring; publish "
             "environmental information", (), 30),
        ),
    },
)  # fmt: skip

PLANS = (FLOOD, FIRE, HAZCHEM)


def load(conn: psycopg.Connection[Any]) -> int:
    """Insert the demo plans (first versions); the number of measures written."""
    dept = dict(conn.execute("SELECT code, id FROM departments").fetchall())
    written = 0
    for number, hazard, title_zh, title_en, scope, levels in PLANS:
        row = conn.execute(
            "INSERT INTO plans (number, hazard_type, current_version) VALUES (%s, %s, 1) "
            "ON CONFLICT (number) DO NOTHING RETURNING id",
            (number, hazard),
        ).fetchone()
        if row is None:
            continue
        version = conn.execute(
            "INSERT INTO plan_versions (plan_id, version, title_zh, title_en, issuing_body, "
            "valid_from, valid_to, scope_text) VALUES (%s, 1, %s, %s, %s, %s, %s, %s) "
            "RETURNING id",
            (row[0], title_zh, title_en, ISSUER, date(2026, 1, 1), date(2030, 12, 31), scope),
        ).fetchone()
        assert version is not None
        for level, measures in levels.items():
            for n, (code, zh, en, resources, due) in enumerate(measures, start=1):
                conn.execute(
                    "INSERT INTO plan_measures (version_id, level, position, text_zh, text_en, "
                    "department_id, resources, due_minutes) VALUES (%s, %s, %s, %s, %s, %s, "
                    "%s, %s)",
                    (version[0], level, n, zh, en, dept[code],
                     Jsonb([{"category": c, "count": k} for c, k in resources]), due),
                )  # fmt: skip
                written += 1
    return written
