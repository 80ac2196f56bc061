"""The one-network services catalogue (一网通办) of the demo city, and the Open311 demo partner.

SYNTHETIC but realistic: item names, materials and time limits follow the shape of Shanghai's
public catalogue (legal time limit ≥ promised time limit, in working days; materials as
original or copy, with an electronic licence (电子证照) accepted or not), but codes and details
are invented. Each item's form is a JSON Schema that applications are validated against.
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

CATALOGUE = "catalogue"
#: The demo partner system's Open311 api_key. Demo only, like the staff password.
DEMO_OPEN311_KEY = "onemap-demo-open311-key"
DEMO_OPEN311_PARTNER = "12345 市民服务热线 (demo)"

# code → (name_zh, name_en, original|copy, e-licence accepted)
MATERIALS: dict[str, tuple[str, str, str, bool]] = {
    "id_card": ("居民身份证", "Resident ID card", "original", True),
    "household_register": ("户口簿", "Household register", "original", True),
    "marriage_cert": ("结婚证", "Marriage certificate", "original", True),
    "business_licence": ("营业执照", "Business licence", "copy", True),
    "lease": (
        "场地使用证明（租赁合同或产权证）",
        "Proof of premises (lease or title)",
        "copy",
        True,
    ),
    "site_plan": ("场所平面布局图", "Floor plan of the premises", "copy", False),
    "photo": ("近期免冠照片", "Recent photograph", "original", False),
    "income_proof": ("家庭收入证明", "Proof of household income", "original", False),
    "disability_cert": ("残疾人证", "Disability certificate", "original", True),
    "design_drawings": ("设计图纸", "Design drawings", "copy", False),
    "safety_plan": ("安全工作方案", "Safety plan", "original", False),
    "eia_report": ("环境影响报告表", "Environmental impact report form", "original", False),
    "construction_contract": ("施工合同", "Construction contract", "copy", False),
    "vehicle_licence": ("机动车行驶证", "Vehicle licence", "copy", True),
    "birth_record": ("出生医学记录", "Birth medical record", "copy", False),
    "hygiene_staff_cert": ("从业人员健康证明", "Staff health certificates", "copy", True),
    "property_cert": ("不动产权证书", "Real-estate title certificate", "copy", True),
    "owner_consent": ("业主大会决议", "Owners' meeting resolution", "original", False),
    "road_plan": ("占路施工方案及交通组织图", "Works and traffic plan", "original", False),
    "chemicals_list": ("危险化学品品种清单", "List of hazardous chemicals", "original", False),
}

# field → JSON Schema
FIELDS: dict[str, dict[str, Any]] = {
    "applicant_name": {"type": "string", "minLength": 1, "maxLength": 50, "title": "申请人姓名"},
    "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$", "title": "身份证号"},
    "contact_phone": {"type": "string", "pattern": "^\\+?[0-9]{6,15}$", "title": "联系电话"},
    "address": {"type": "string", "minLength": 1, "maxLength": 200, "title": "地址"},
    "business_name": {"type": "string", "minLength": 1, "maxLength": 100, "title": "名称"},
    "business_scope": {"type": "string", "minLength": 1, "maxLength": 500, "title": "经营范围"},
    "area_m2": {"type": "number", "exclusiveMinimum": 0, "maximum": 100000, "title": "面积"},
    "start_date": {"type": "string", "format": "date", "title": "开始日期"},
    "end_date": {"type": "string", "format": "date", "title": "结束日期"},
    "reason": {"type": "string", "minLength": 1, "maxLength": 1000, "title": "事由"},
    "household_size": {"type": "integer", "minimum": 1, "maximum": 20, "title": "家庭人口"},
    "monthly_income": {"type": "number", "minimum": 0, "title": "月收入（元）"},
    "tree_count": {"type": "integer", "minimum": 1, "maximum": 500, "title": "树木数量"},
    "attendance": {"type": "integer", "minimum": 1, "maximum": 200000, "title": "预计人数"},
    "spouse_name": {"type": "string", "minLength": 1, "maxLength": 50, "title": "配偶姓名"},
    "vehicle_plate": {"type": "string", "minLength": 5, "maxLength": 10, "title": "车牌号"},
}
PERSON = ("applicant_name", "id_number", "contact_phone")
Item = tuple[str, str, str, str, int, int, bool, int, tuple[str, ...], tuple[str, ...]]

# (code, department, name_zh, name_en, legal days, promised days, online, max visits,
#  materials (required ones first; a trailing "?" marks optional), extra form fields)
ITEMS: tuple[Item, ...] = (
    (
        "SC-MR-001",
        "market_regulation",
        "个体工商户设立登记",
        "Registration of an individual business",
        15,
        1,
        True,
        0,
        ("id_card", "lease"),
        ("business_name", "business_scope", "address"),
    ),
    (
        "SC-MR-002",
        "market_regulation",
        "食品经营许可证核发",
        "Food business licence",
        20,
        10,
        True,
        1,
        ("business_licence", "lease", "site_plan", "hygiene_staff_cert"),
        ("business_name", "address", "area_m2"),
    ),
    (
        "SC-MR-003",
        "market_regulation",
        "营业执照变更登记",
        "Change of a business licence",
        15,
        3,
        True,
        0,
        ("business_licence", "id_card"),
        ("business_name", "reason"),
    ),
    (
        "SC-MR-004",
        "market_regulation",
        "小型餐饮店登记",
        "Registration of a small eatery",
        20,
        5,
        True,
        1,
        ("id_card", "lease", "site_plan?"),
        ("business_name", "address", "area_m2"),
    ),
    (
        "SC-CA-001",
        "civil_affairs",
        "内地居民结婚登记",
        "Marriage registration",
        1,
        1,
        False,
        1,
        ("id_card", "household_register", "photo"),
        ("spouse_name",),
    ),
    (
        "SC-CA-002",
        "civil_affairs",
        "最低生活保障申请",
        "Minimum living allowance (低保)",
        30,
        20,
        True,
        1,
        ("id_card", "household_register", "income_proof"),
        ("address", "household_size", "monthly_income"),
    ),
    (
        "SC-CA-003",
        "civil_affairs",
        "高龄老人津贴申领",
        "Allowance for the very old",
        20,
        10,
        True,
        0,
        ("id_card", "household_register"),
        ("address",),
    ),
    (
        "SC-CA-004",
        "civil_affairs",
        "困难残疾人生活补贴",
        "Living subsidy for disabled people",
        20,
        15,
        True,
        0,
        ("id_card", "disability_cert", "income_proof?"),
        ("address", "monthly_income"),
    ),
    (
        "SC-HS-001",
        "housing",
        "公共租赁住房申请",
        "Public rental housing",
        60,
        30,
        True,
        1,
        ("id_card", "household_register", "income_proof"),
        ("household_size", "monthly_income", "address"),
    ),
    (
        "SC-HS-002",
        "housing",
        "住宅专项维修资金使用",
        "Use of the housing maintenance fund",
        20,
        10,
        True,
        1,
        ("owner_consent", "construction_contract"),
        ("address", "reason"),
    ),
    (
        "SC-HS-003",
        "housing",
        "住宅装修登记",
        "Registration of home renovation",
        5,
        2,
        True,
        0,
        ("id_card", "property_cert", "design_drawings?"),
        ("address", "start_date", "end_date"),
    ),
    (
        "SC-CM-001",
        "city_management",
        "户外广告设施设置许可",
        "Outdoor advertising permit",
        20,
        10,
        True,
        1,
        ("business_licence", "design_drawings", "lease"),
        ("business_name", "address", "area_m2"),
    ),
    (
        "SC-CM-002",
        "city_management",
        "临时占用道路设摊许可",
        "Temporary street stall permit",
        20,
        7,
        True,
        1,
        ("id_card", "site_plan"),
        ("address", "start_date", "end_date"),
    ),
    (
        "SC-CM-003",
        "city_management",
        "建筑垃圾处置核准",
        "Construction waste disposal approval",
        20,
        5,
        True,
        0,
        ("business_licence", "construction_contract"),
        ("address", "start_date", "end_date"),
    ),
    (
        "SC-GL-001",
        "greening_landscape",
        "树木砍伐、迁移许可",
        "Tree felling or relocation permit",
        20,
        10,
        True,
        1,
        ("id_card", "site_plan"),
        ("address", "tree_count", "reason"),
    ),
    (
        "SC-GL-002",
        "greening_landscape",
        "临时占用城市绿地审批",
        "Temporary use of green space",
        20,
        10,
        True,
        1,
        ("business_licence", "site_plan"),
        ("address", "area_m2", "start_date", "end_date"),
    ),
    (
        "SC-WA-001",
        "water_authority",
        "城镇污水排入排水管网许可",
        "Sewage discharge permit",
        20,
        10,
        True,
        1,
        ("business_licence", "site_plan", "design_drawings"),
        ("business_name", "address"),
    ),
    (
        "SC-WA-002",
        "water_authority",
        "临时用水申请",
        "Temporary water supply",
        10,
        5,
        True,
        0,
        ("id_card", "site_plan?"),
        ("address", "start_date", "end_date"),
    ),
    (
        "SC-TR-001",
        "transport",
        "占用、挖掘城市道路许可",
        "Road occupation or excavation permit",
        20,
        10,
        True,
        1,
        ("business_licence", "road_plan", "construction_contract"),
        ("address", "start_date", "end_date"),
    ),
    (
        "SC-TR-002",
        "transport",
        "超限运输车辆行驶许可",
        "Oversize transport permit",
        20,
        5,
        True,
        0,
        ("vehicle_licence", "id_card"),
        ("vehicle_plate", "start_date", "end_date"),
    ),
    (
        "SC-PS-001",
        "public_security",
        "居住证办理",
        "Residence permit",
        15,
        7,
        True,
        1,
        ("id_card", "lease", "photo"),
        ("address",),
    ),
    (
        "SC-PS-002",
        "public_security",
        "户口迁入",
        "Household registration transfer",
        30,
        15,
        False,
        2,
        ("id_card", "household_register", "property_cert"),
        ("address", "reason"),
    ),
    (
        "SC-PS-003",
        "public_security",
        "大型群众性活动安全许可",
        "Safety permit for a large public event",
        20,
        7,
        True,
        1,
        ("business_licence", "safety_plan", "site_plan"),
        ("business_name", "address", "attendance", "start_date", "end_date"),
    ),
    (
        "SC-FR-001",
        "fire_rescue",
        "公众聚集场所投入使用、营业前消防安全检查",
        "Fire-safety inspection before opening",
        10,
        5,
        True,
        1,
        ("business_licence", "site_plan", "safety_plan"),
        ("business_name", "address", "area_m2"),
    ),
    (
        "SC-FR-002",
        "fire_rescue",
        "建设工程消防验收备案",
        "Fire acceptance filing of works",
        15,
        10,
        True,
        1,
        ("design_drawings", "construction_contract"),
        ("address", "area_m2"),
    ),
    (
        "SC-HC-001",
        "health_commission",
        "出生医学证明补发",
        "Reissue of a birth certificate",
        20,
        10,
        True,
        1,
        ("id_card", "birth_record"),
        ("reason",),
    ),
    (
        "SC-HC-002",
        "health_commission",
        "公共场所卫生许可",
        "Hygiene licence of a public venue",
        20,
        10,
        True,
        1,
        ("business_licence", "site_plan", "hygiene_staff_cert"),
        ("business_name", "address", "area_m2"),
    ),
    (
        "SC-EE-001",
        "ecology_environment",
        "建设项目环境影响报告表审批",
        "Approval of an environmental impact report",
        30,
        15,
        True,
        1,
        ("eia_report", "business_licence"),
        ("business_name", "address"),
    ),
    (
        "SC-EE-002",
        "ecology_environment",
        "夜间施工许可",
        "Night-time construction permit",
        7,
        3,
        True,
        0,
        ("construction_contract", "safety_plan"),
        ("address", "start_date", "end_date", "reason"),
    ),
    (
        "SC-EM-001",
        "emergency_management",
        "危险化学品经营许可",
        "Hazardous chemicals business licence",
        30,
        20,
        True,
        2,
        ("business_licence", "safety_plan", "chemicals_list", "site_plan"),
        ("business_name", "address"),
    ),
    (
        "SC-SO-001",
        "street_office",
        "居住证明开具",
        "Certificate of residence",
        5,
        1,
        True,
        0,
        ("id_card", "lease?"),
        ("address", "reason"),
    ),
    (
        "SC-PG-001",
        "power_grid",
        "低压居民新装用电",
        "New household power connection",
        10,
        5,
        True,
        0,
        ("id_card", "property_cert"),
        ("address",),
    ),
)


def form_schema(fields: tuple[str, ...]) -> dict[str, Any]:
    names = (*PERSON, *fields)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {name: FIELDS[name] for name in names},
        "required": list(names),
        "additionalProperties": False,
    }


def materials(codes: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for code in codes:
        name = code.rstrip("?")
        zh, en, kind, e_licence = MATERIALS[name]
        out.append({"code": name, "name_zh": zh, "name_en": en, "form": kind,
                    "e_licence": e_licence, "required": not code.endswith("?")})  # fmt: skip
    return out


def rows(department_ids: dict[str, int]) -> list[tuple[Any, ...]]:
    return [
        (code, zh, en, department_ids[dept], f"{zh}（{en}）。", "符合法定条件的申请人。",
         Jsonb(materials(mats)), legal, promised, online, visits, Jsonb(form_schema(fields)))
        for code, dept, zh, en, legal, promised, online, visits, mats, fields in ITEMS
    ]  # fmt: skip


def load(conn: psycopg.Connection[Any]) -> int:
    """Insert the catalogue and the demo Open311 partner (idempotent: ON CONFLICT)."""
    dept = dict(conn.execute("SELECT code, id FROM departments").fetchall())
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO service_items (code, name_zh, name_en, department_id, description, "
            "conditions, materials, legal_limit_days, promised_limit_days, online, max_visits, "
            "form_schema) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (code) DO NOTHING",
            rows(dept),
        )
        cur.execute(
            "INSERT INTO open311_api_keys (partner, key_hash) VALUES (%s, %s) "
            "ON CONFLICT (key_hash) DO NOTHING",
            (DEMO_OPEN311_PARTNER, hashlib.sha256(DEMO_OPEN311_KEY.encode()).hexdigest()),
        )
    return len(ITEMS)
