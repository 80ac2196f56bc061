// The words of an incident's warnings (incident_warnings.js), added to i18n.js's tables, and
// what a warning drafted from an incident starts from: per plan hazard type (geo/plan_enums.py)
// its CAP category, its event in both languages and what to do; per response level a severity.
import { addWords } from "./i18n.js";

const GO_AWAY = ["远离事发区域，听从现场指挥和疏散安排。", "Keep away from the area; follow the instructions of the responders on site."];

/** hazard type → {category (CAP 1.2), zh, en (the event), doZh, doEn (the instruction)} */
export const HAZARD_WARNINGS = Object.fromEntries(Object.entries({
  flood: ["Met", "城市内涝", "Urban flooding", "远离低洼地带、地下空间和积水路段，听从现场指挥。",
    "Keep away from low-lying areas, underground spaces and flooded roads; follow the instructions on site."],
  fire: ["Fire", "火灾", "Fire", "远离火场及下风方向，关闭门窗，听从现场指挥。",
    "Keep away from the fire and downwind of it, close windows and doors, follow the instructions on site."],
  hazardous_chemicals: ["CBRNE", "危险化学品泄漏", "Hazardous chemicals release", "立即向上风方向撤离，关闭门窗，勿靠近围观。",
    "Move upwind at once, close windows and doors, do not approach."],
  earthquake: ["Geo", "地震", "Earthquake", ...GO_AWAY],
  public_health: ["Health", "突发公共卫生事件", "Public health emergency", ...GO_AWAY],
  geological: ["Geo", "地质灾害", "Geological hazard", ...GO_AWAY],
  typhoon: ["Met", "台风", "Typhoon", "留在室内，远离广告牌、临时建筑和大树。", "Stay indoors; keep away from billboards, temporary structures and trees."],
  snow_ice: ["Met", "雨雪冰冻", "Snow and ice", ...GO_AWAY],
  traffic: ["Transport", "道路交通事故", "Traffic accident", "绕行事发路段，听从交警指挥。", "Avoid the road; follow the police's directions."],
  power_outage: ["Infra", "大面积停电", "Power outage", ...GO_AWAY],
  gas: ["Safety", "燃气泄漏", "Gas leak", "勿使用明火和电器开关，立即撤离并向上风方向疏散。",
    "Use no flame or electric switch; leave at once, upwind."],
  other: ["Other", "突发事件", "Emergency", ...GO_AWAY],
}).map(([k, [category, zh, en, doZh, doEn]]) => [k, { category: category.toUpperCase(), zh, en, doZh, doEn }]));

/** The severity a warning of a response level starts with. */
export const LEVEL_SEVERITY = { I: "Extreme", II: "Severe", III: "Moderate", IV: "Minor" };

addWords({
  zh: {
    ew_title: "预警发布", ew_no_delivery: "无送达信息。", ew_recipients: "覆盖市民", ew_inbox: "收件箱送达",
    ew_push_delivered: "推送成功", ew_push_gone: "推送失效", ew_push_failed: "推送失败", ew_pending: "待推送",
    ew_updated: "最近回执", ew_in_force: "生效中", ew_replaced: "已被 {by} 取代", ew_not_in_force: "已失效",
    ew_sent: "发布于", ew_until: "有效至", ew_draft: "起草预警（依据本事件）", ew_severity: "严重程度",
    ew_urgency: "紧迫程度", ew_certainty: "确定程度", ew_hours: "有效时长（小时）", ew_event_zh: "事件（中文）",
    ew_event_en: "事件（英文）", ew_headline_zh: "标题（中文）", ew_headline_en: "标题（英文）",
    ew_description_zh: "说明（中文）", ew_description_en: "说明（英文）", ew_instruction_zh: "防御指引（中文）",
    ew_instruction_en: "防御指引（英文）", ew_issue: "发布预警", ew_issuing: "正在发布预警…",
    ew_issued: "预警已发布：{identifier}", ew_texts_needed: "请填写中英文的事件和标题。",
    ew_hours_needed: "有效时长为 1 至 72 小时。", ew_area_of: "影响范围",
    ew_area_note: "预警范围：{area}。", ew_area_circle: "事发点周围 {r} 米", ew_area_incident: "事件划定的范围",
    ew_level_note: "本事件响应级别：{level}。",
  },
  en: {
    ew_title: "Warnings", ew_no_delivery: "No delivery figures.", ew_recipients: "Citizens reached",
    ew_inbox: "In inboxes", ew_push_delivered: "Pushed", ew_push_gone: "Push gone", ew_push_failed: "Push failed",
    ew_pending: "Pending", ew_updated: "Last answer", ew_in_force: "in force", ew_replaced: "replaced by {by}",
    ew_not_in_force: "no longer in force", ew_sent: "Sent", ew_until: "until",
    ew_draft: "Draft a warning (from this incident)", ew_severity: "Severity", ew_urgency: "Urgency",
    ew_certainty: "Certainty", ew_hours: "In force for (hours)", ew_event_zh: "Event (Chinese)",
    ew_event_en: "Event (English)", ew_headline_zh: "Headline (Chinese)", ew_headline_en: "Headline (English)",
    ew_description_zh: "Description (Chinese)", ew_description_en: "Description (English)",
    ew_instruction_zh: "What to do (Chinese)", ew_instruction_en: "What to do (English)", ew_issue: "Issue warning",
    ew_issuing: "Issuing the warning…", ew_issued: "Warning issued: {identifier}",
    ew_texts_needed: "Fill in the event and headline in both languages.",
    ew_hours_needed: "A warning is in force for 1 to 72 hours.", ew_area_of: " area",
    ew_area_note: "Area: {area}.", ew_area_circle: "{r} m around the incident's point",
    ew_area_incident: "the incident's area", ew_level_note: "The incident's response level: {level}.",
  },
});
