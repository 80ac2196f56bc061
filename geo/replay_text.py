"""What a replay entry says, in Chinese and English (geo.queries.replay gives the facts).

Only facts chosen for the replay reach here: levels, task and plot texts, warning headlines,
camera codes, case public ids and categories, sensor and rule names — never who a citizen is.
"""

from __future__ import annotations

from typing import Any

from geo.plot_enums import PLOT_LABELS, PlotSymbol

_CASE_STEPS: dict[str, tuple[str, str]] = {
    "reported": ("上报", "reported"),
    "dispatched": ("派遣", "dispatched"),
    "started": ("开始处置", "started"),
    "resolved": ("处置完成", "resolved"),
    "closed": ("结案", "closed"),
    "rejected": ("不予受理", "rejected"),
    "reopened": ("重新打开", "reopened"),
    "commented": ("备注", "commented on"),
    "transferred": ("转办", "transferred"),
    "escalated": ("升级", "escalated"),
    "supervised": ("督办", "supervised"),
}


def _plot(f: dict[str, Any]) -> tuple[str, str]:
    try:
        zh, en = PLOT_LABELS[PlotSymbol(f.get("symbol", ""))]
    except ValueError:
        zh = en = str(f.get("symbol"))
    label = f.get("label") or ""
    return (f"{zh}「{label}」" if label else zh), (f'{en} "{label}"' if label else en)


def _note(f: dict[str, Any], zh: str, en: str) -> tuple[str, str]:
    note = f.get("note")
    return (f"{zh}：{note}", f"{en}: {note}") if note else (zh, en)


def _incident(kind: str, f: dict[str, Any]) -> tuple[str, str]:
    task_zh, task_en = f.get("task_zh") or "", f.get("task_en") or ""
    plot_zh, plot_en = _plot(f)
    version = f.get("version")
    texts = {
        "activated": (f"启动预案，{f.get('level')}级响应",
                      f"Plan activated at level {f.get('level')}"),
        "task_assigned": (f"下达任务：{task_zh}", f"Task assigned: {task_en}"),
        "task_accepted": (f"接收任务：{task_zh}", f"Task accepted: {task_en}"),
        "task_done": (f"完成任务：{task_zh}", f"Task done: {task_en}"),
        "task_refused": (f"拒绝任务：{task_zh}（原因：{f.get('note')}）",
                         f"Task refused: {task_en} (reason: {f.get('note')})"),
        "plot_added": (f"新增标绘：{plot_zh}", f"Plot added: {plot_en}"),
        "plot_updated": (f"修改标绘：{plot_zh}（第{version}版）",
                         f"Plot changed: {plot_en} (version {version})"),
        "plot_removed": (f"删除标绘：{plot_zh}", f"Plot removed: {plot_en}"),
    }  # fmt: skip
    if kind == "level_changed":
        return _note(f, f"响应级别由{f.get('from_level')}级调整为{f.get('level')}级",
                     f"Level changed from {f.get('from_level')} to {f.get('level')}")  # fmt: skip
    if kind == "closed":
        return _note(f, "应急响应结束", "Incident closed")
    if kind in ("task_accepted", "task_done") and f.get("note"):
        zh, en = texts[kind]
        return _note(f, zh, en)
    return texts.get(kind, (kind, kind))


def _warning(kind: str, f: dict[str, Any]) -> tuple[str, str]:
    verb = {"warning_issued": ("发布预警", "Warning issued"),
            "warning_updated": ("更新预警", "Warning updated"),
            "warning_cancelled": ("解除预警", "Warning cancelled")}[kind]  # fmt: skip
    severity, area = f.get("severity"), f.get("area")
    # Exercises and tests never reach citizens: the replay says so.
    drill = {"Exercise": ("【演练】", "[Exercise] "), "Test": ("【测试】", "[Test] ")}.get(
        str(f.get("status")), ("", "")
    )
    return (f"{drill[0]}{verb[0]}：{f.get('headline_zh')}（{severity}，{area}）",
            f"{drill[1]}{verb[1]}: {f.get('headline_en')} ({severity}, {area})")  # fmt: skip


def _video(kind: str, f: dict[str, Any]) -> tuple[str, str]:
    camera = f"{f.get('code')} {f.get('name')}"
    if kind == "video_view_started":
        return f"调阅视频：{camera}", f"Video viewed: camera {camera}"
    seconds = f.get("seconds")
    if seconds is None:
        return f"结束调阅视频：{camera}", f"Video view ended: camera {camera}"
    return (f"结束调阅视频：{camera}（{seconds:.0f}秒）",
            f"Video view ended: camera {camera} ({seconds:.0f} s)")  # fmt: skip


def _case(kind: str, f: dict[str, Any]) -> tuple[str, str]:
    step = kind.removeprefix("case_")
    zh, en = _CASE_STEPS.get(step, (step, step.replace("_", " ")))
    case, category = f.get("case"), f.get("category")
    return f"案件{case}（{category}）{zh}", f"Case {case} ({category}) {en}"


def _sensor(kind: str, f: dict[str, Any]) -> tuple[str, str]:
    what = f"{f.get('thing')}，{f.get('rule')}（{f.get('level')}）"
    what_en = f"{f.get('thing')}, {f.get('rule')} ({f.get('level')})"
    if kind == "alarm_raised":
        return f"传感器告警：{what}", f"Sensor alarm raised: {what_en}"
    return f"传感器告警解除：{what}", f"Sensor alarm cleared: {what_en}"


_BY_SOURCE = {"incident": _incident, "warning": _warning, "video": _video, "case": _case,
              "sensor": _sensor}  # fmt: skip


def summary(source: str, kind: str, facts: dict[str, Any]) -> tuple[str, str]:
    """(zh, en) of one replay entry."""
    return _BY_SOURCE[source](kind, facts)
