// The words of the emergency mode (应急指挥), added to i18n.js's tables, and the names of the
// plan and incident codes GraphQL sends (geo/plan_enums.py), as vocab.js names the others.
import { addWords } from "./i18n.js";

export const HAZARD_TYPES = {
  flood: ["防汛", "Flood"], fire: ["火灾", "Fire"], hazardous_chemicals: ["危险化学品", "Hazardous chemicals"],
  earthquake: ["地震", "Earthquake"], public_health: ["公共卫生", "Public health"],
  geological: ["地质灾害", "Geological"], typhoon: ["台风", "Typhoon"], snow_ice: ["雨雪冰冻", "Snow and ice"],
  traffic: ["道路交通", "Traffic"], power_outage: ["大面积停电", "Power outage"], gas: ["燃气", "Gas"],
  other: ["其他", "Other"],
};

export const LEVELS = {
  I: ["Ⅰ级（特别重大）", "Level I (most severe)"], II: ["Ⅱ级（重大）", "Level II (severe)"],
  III: ["Ⅲ级（较大）", "Level III (major)"], IV: ["Ⅳ级（一般）", "Level IV (general)"],
};

export const TASK_STATUSES = {
  pending: ["待接收", "Pending"], accepted: ["已接收", "Accepted"], done: ["已完成", "Done"],
  refused: ["已拒绝", "Refused"],
};

/** The button that moves a task to a status. */
export const TASK_STEPS = {
  accepted: ["接收任务", "Accept"], done: ["任务完成", "Mark done"], refused: ["拒绝", "Refuse"],
};

export const INCIDENT_STATUSES = { active: ["处置中", "Active"], closed: ["已结束", "Closed"] };

export const ALARM_LEVELS = { normal: ["正常", "normal"], warning: ["预警", "warning"], alarm: ["告警", "alarm"] };

/** The level's default reach around a point, metres (geo/plan_enums.py LEVEL_REACH_M). */
export const LEVEL_REACH_M = { I: 3000, II: 2000, III: 1000, IV: 500 };

addWords({
  zh: {
    tab_emergency: "应急指挥", em_start: "启动预案", em_plan: "预案", em_level: "响应级别",
    em_pick: "在地图上点选地点", em_centre: "以地图中心为地点", em_picking: "请在地图上点击事发地点…",
    em_place: "事发地点 {lon}, {lat}（影响半径 {reach}）", em_no_place: "尚未选择事发地点。",
    em_draw: "在地图上划定范围", em_draw_done: "完成范围", em_draw_help: "依次点击范围的各个顶点，然后按“完成范围”。",
    em_drawing: "正在划定范围：已有 {n} 个顶点", em_area: "事发范围：{n} 个顶点的多边形",
    em_area_short: "范围至少需要 3 个顶点。", em_inside: "划定范围内",
    em_activate: "确认启动", em_activating: "正在启动预案…", em_activated: "已启动：{number}",
    em_need_place: "请先在地图上选择事发地点。", em_plans_refused: "您的账号无权查看预案。",
    em_active: "进行中的事件", em_closed_list: "已结束", em_open: "查看", em_loading: "正在加载事件…",
    em_help: "选择预案和响应级别，在地图上点选事发地点，确认后启动预案。",
    em_read_only: "您可以查看事件；启动预案、调整级别和结束事件需要应急指挥权限。",
    em_number: "事件编号", em_started: "启动时间", em_started_by: "启动人", em_reach: "影响范围",
    em_status: "状态", em_summary: "总结", em_closed_at: "结束时间",
    em_affected: "波及单位", em_hazards: "重大危险源", em_cameras: "附近视频",
    em_population: "人群分布（按网格）", em_population_total: "合计 {n} 人", em_people: "{n} 人",
    em_cases: "周边未结案件", em_alarms: "传感器报警", em_weather: "天气情况",
    em_rain: "降雨", em_wind: "风", em_temperature: "气温", em_observed: "观测时间",
    em_tasks: "任务（按部门）", em_due: "时限", em_reason: "拒绝理由",
    em_refuse_reason: "拒绝理由（必填）", em_refuse_confirm: "确认拒绝", em_reason_first: "请先填写拒绝理由。",
    em_task_done: "任务已更新：{text} → {status}",
    em_change_level: "调整响应级别", em_new_level: "新级别", em_change_reason: "调整理由",
    em_change: "确认调整", em_reason_needed: "请填写调整理由。", em_changed: "响应级别已调整为 {level}",
    em_close: "结束事件", em_close_summary: "事件总结", em_close_confirm: "确认结束",
    em_summary_needed: "请填写事件总结。", em_closed: "事件已结束。",
    em_live: "实时更新：{what}",
    em_event_activated: "预案启动", em_event_task_assigned: "任务下达", em_event_task_accepted: "任务接收",
    em_event_task_done: "任务完成", em_event_task_refused: "任务拒绝", em_event_level_changed: "级别调整",
    em_event_closed: "事件结束", em_back: "返回事件列表",
    em_resources: "周边应急资源（按车程）", em_lifelines: "生命线（最快路线）",
    em_drive: "车程 {time}（路程 {road}，直线 {line}）", em_route: "{time} · {road} · 经 {roads}",
    em_no_route: "无可通行路线", em_minutes: "{n} 分钟", em_seconds: "{n} 秒",
  },
  en: {
    tab_emergency: "Emergency", em_start: "Activate a plan", em_plan: "Plan", em_level: "Response level",
    em_pick: "Pick the place on the map", em_centre: "Use the map centre", em_picking: "Click where it happens…",
    em_place: "Place {lon}, {lat} (reach {reach})", em_no_place: "No place chosen yet.",
    em_draw: "Draw the area on the map", em_draw_done: "Finish the area",
    em_draw_help: "Click each corner of the area, then press “Finish the area”.",
    em_drawing: "Drawing the area: {n} corners so far", em_area: "The area: a polygon of {n} corners",
    em_area_short: "An area needs at least 3 corners.", em_inside: "inside the area drawn",
    em_activate: "Activate", em_activating: "Activating the plan…", em_activated: "Activated: {number}",
    em_need_place: "Pick the place on the map first.", em_plans_refused: "Your account may not see the plans.",
    em_active: "Active incidents", em_closed_list: "Closed", em_open: "Open", em_loading: "Loading the incident…",
    em_help: "Choose a plan and a response level, pick the place on the map, then activate.",
    em_read_only: "You can follow incidents; activating, changing the level and closing need the command capability.",
    em_number: "Number", em_started: "Started", em_started_by: "Started by", em_reach: "Reach",
    em_status: "Status", em_summary: "Summary", em_closed_at: "Closed",
    em_affected: "Affected units", em_hazards: "Hazard sources", em_cameras: "Nearby cameras",
    em_population: "Population by grid cell", em_population_total: "{n} people in all", em_people: "{n} people",
    em_cases: "Open cases nearby", em_alarms: "Sensor alarms", em_weather: "Weather",
    em_rain: "Rain", em_wind: "Wind", em_temperature: "Temperature", em_observed: "Observed",
    em_tasks: "Tasks by department", em_due: "Due", em_reason: "Refused because",
    em_refuse_reason: "Reason for refusing (required)", em_refuse_confirm: "Confirm refusal",
    em_reason_first: "Write the reason for refusing first.", em_task_done: "Task updated: {text} → {status}",
    em_change_level: "Change the response level", em_new_level: "New level", em_change_reason: "Reason",
    em_change: "Change level", em_reason_needed: "Give the reason for the change.",
    em_changed: "The response level is now {level}",
    em_close: "Close the incident", em_close_summary: "Summary", em_close_confirm: "Close it",
    em_summary_needed: "Write the summary first.", em_closed: "The incident is closed.",
    em_live: "Live: {what}",
    em_event_activated: "Plan activated", em_event_task_assigned: "Task assigned",
    em_event_task_accepted: "Task accepted", em_event_task_done: "Task done", em_event_task_refused: "Task refused",
    em_event_level_changed: "Level changed", em_event_closed: "Incident closed", em_back: "Back to the list",
    em_resources: "Emergency resources by drive time", em_lifelines: "Lifelines (fastest routes)",
    em_drive: "{time} by road ({road} driven, {line} straight)", em_route: "{time} · {road} · via {roads}",
    em_no_route: "No passable route", em_minutes: "{n} min", em_seconds: "{n} s",
  },
});
