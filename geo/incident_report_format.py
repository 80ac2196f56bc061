"""An incident's report rendered: a self-contained HTML page to print (no script, no external
asset; styles inline) and the timeline as CSV. The content comes from
geo.services.incident_report (read and audited there); GraphQL (``incidentReport``) and the
REST API (``GET /api/v1/incidents/{id}/report``) both answer with these. No web framework."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from geo.services.incident_report import ReportData

CITY_TIME = ZoneInfo("Asia/Shanghai")
_STATUS = {"pending": ("待接收", "pending"), "accepted": ("已接收", "accepted"),
           "done": ("已完成", "done"), "refused": ("已拒绝", "refused")}  # fmt: skip
_CSS = (
    "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;color:#111}"
    "h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:2px solid #333}table{border-collapse:collapse;width:100%;font-size:.9em}"
    "th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{background:#eee}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}"
    "dt{font-weight:bold}.en{color:#555}"
    "@media print{body{margin:1cm}tr{page-break-inside:avoid}}"
)


def _t(value: datetime | None) -> str:
    return value.astimezone(CITY_TIME).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _place(data: ReportData) -> str:
    geometry = json.loads(data.incident.geometry)
    if geometry["type"] == "Point":
        lon, lat = geometry["coordinates"][:2]
        return f"{lon:.6f}, {lat:.6f}（半径 / reach {data.incident.reach_m:g} m）"
    return f"{geometry['type']}（范围内 / inside the area, reach {data.incident.reach_m:g} m）"


def _rows(cells: list[list[str]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in cells)  # fmt: skip


def filename(data: ReportData, fmt: str) -> str:
    return f"{data.incident.number}-report.{fmt}"


def render_html(data: ReportData, made: datetime) -> str:
    i, v = data.incident, data.version
    levels = [e for e in data.entries
              if e.source == "incident" and e.kind in ("activated", "level_changed")]  # fmt: skip
    timeline = [[_t(e.at), e.source, e.kind, e.actor_role or "—", e.summary_zh, e.summary_en]
                for e in data.entries]  # fmt: skip
    tasks = []
    for k in data.tasks:
        dept = data.departments.get(k.department_id, ("—", "—"))
        zh, en = _STATUS.get(k.status, (k.status, k.status))
        tasks.append([k.level, f"{k.text_zh} / {k.text_en}", f"{dept[0]} / {dept[1]}",
                      f"{zh} / {en}", k.reason or k.note or "", _t(k.updated_at)])  # fmt: skip
    header = [
        ("事件编号 / Number", i.number), ("事件 / Incident", i.title),
        ("预案 / Plan", f"{v.title_zh} / {v.title_en}（{data.plan_number}，第{v.version}版）"),
        ("当前级别 / Level", f"{i.level}"), ("地点 / Place", _place(data)),
        ("开始 / Started", _t(i.started_at)), ("结束 / Closed", _t(i.closed_at)),
        ("状态 / Status", i.status),
    ]  # fmt: skip
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(val)}</dd>" for k, val in header)
    return (
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(i.number)} 复盘报告 / Incident report</title><style>{_CSS}</style>"
        f"</head><body><h1>{escape(i.title)} — 复盘报告 <span class=\"en\">Incident report"
        f"</span></h1><p class=\"en\">生成于 / Made at {_t(made)}（北京时间 / CST）</p>"
        f"<h2>概况 / Overview</h2><dl>{dl}</dl>"
        "<h2>响应级别变化 / Level history</h2><table><tr><th>时间 / Time</th>"
        "<th>说明</th><th>Description</th></tr>"
        + _rows([[_t(e.at), e.summary_zh, e.summary_en] for e in levels]) + "</table>"
        "<h2>时间线 / Timeline</h2><table><tr><th>时间 / Time</th><th>来源 / Source</th>"
        "<th>类型 / Kind</th><th>角色 / Role</th><th>说明</th><th>Description</th></tr>"
        + _rows(timeline) + "</table>"
        "<h2>任务 / Tasks</h2><table><tr><th>级别 / Level</th><th>任务 / Task</th>"
        "<th>部门 / Department</th><th>结果 / Outcome</th><th>说明 / Note</th>"
        "<th>更新 / Updated</th></tr>" + _rows(tasks) + "</table>"
        "<h2>总结 / Summary</h2><p>"
        + escape(i.summary or "（事件尚未结束 / the incident is still active）")
        + "</p></body></html>"
    )  # fmt: skip


def render_csv(data: ReportData) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "source", "kind", "actor_role", "summary_zh", "summary_en",
                     "geometry"])  # fmt: skip
    for e in data.entries:
        writer.writerow([e.at.isoformat(), e.source, e.kind, e.actor_role or "", e.summary_zh,
                         e.summary_en, e.geometry or ""])  # fmt: skip
    return out.getvalue()
