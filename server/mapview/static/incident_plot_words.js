// The words of plotting (指挥标绘) and the replay (复盘), added to i18n.js's tables, and how each
// plot symbol is drawn (the symbol's names come from the server's `plotSymbols`).
import { addWords } from "./i18n.js";

/** How a symbol is drawn: its colour, a dashed line or not, the shape a new one has by default. */
export const PLOT_STYLES = {
  command_post: { colour: "#b91c1c", shape: "point" },
  assembly_point: { colour: "#15803d", shape: "point" },
  cordon: { colour: "#dc2626", dashed: true, shape: "line" },
  evacuation_route: { colour: "#16a34a", dashed: true, shape: "line" },
  hazard_zone: { colour: "#ea580c", shape: "polygon" },
  water_point: { colour: "#0284c7", shape: "point" },
  roadblock: { colour: "#7c2d12", shape: "point" },
  rescue_team: { colour: "#1d4ed8", shape: "point" },
  note: { colour: "#374151", shape: "point" },
};

/** The replay's kinds of entry (ReplayEntry.kind); case_<event> are named by their prefix. */
export const REPLAY_KINDS = {
  activated: ["预案启动", "Plan activated"], task_assigned: ["任务下达", "Task assigned"],
  task_accepted: ["任务接收", "Task accepted"], task_done: ["任务完成", "Task done"],
  task_refused: ["任务拒绝", "Task refused"], level_changed: ["级别调整", "Level changed"],
  closed: ["事件结束", "Incident closed"], plot_added: ["新增标绘", "Plot added"],
  plot_updated: ["修改标绘", "Plot changed"], plot_removed: ["删除标绘", "Plot removed"],
  warning_issued: ["预警发布", "Warning issued"], warning_updated: ["预警更新", "Warning updated"],
  warning_cancelled: ["预警解除", "Warning cancelled"], video_view_started: ["开始调看视频", "Video opened"],
  video_view_ended: ["结束调看视频", "Video closed"], alarm_raised: ["传感器报警", "Alarm raised"],
  alarm_cleared: ["报警解除", "Alarm cleared"], case: ["案件", "Case"],
};

addWords({
  zh: {
    em_plots: "指挥标绘", em_plot_tools: "标绘工具", em_plot_symbol: "符号", em_plot_label: "标注文字",
    em_plot_point: "画点", em_plot_line: "画线", em_plot_polygon: "画面",
    em_plot_finish: "完成", em_plot_cancel: "取消",
    em_plot_help_point: "在地图上点击放置“{symbol}”。按 Esc 取消。",
    em_plot_help_shape: "依次点击各点（已有 {n} 个），双击、回车或按“完成”结束，Esc 取消。",
    em_plot_short: "线至少需要 2 个点，面至少需要 3 个点。", em_plot_added: "已标绘：{symbol} {label}",
    em_plot_saved: "标绘已更新。", em_plot_removed: "标绘已删除。", em_plot_cancelled: "已取消标绘。",
    em_plot_by: "标绘人", em_plot_at: "时间", em_plot_edit: "保存文字", em_plot_remove: "删除",
    em_plot_move: "移动", em_plot_move_help: "在地图上点击新的位置。",
    em_plot_conflict: "{message}（已重新加载该标绘）", em_plot_read_only: "查看标绘；绘制需要应急指挥权限。",
    em_event_plot_added: "新增标绘", em_event_plot_updated: "修改标绘", em_event_plot_removed: "删除标绘",
    em_replay: "复盘", em_replay_start: "开始复盘", em_replay_stop: "回到实时",
    em_replay_play: "播放", em_replay_pause: "暂停", em_replay_at: "复盘时刻", em_replay_level: "当时级别",
    em_replay_plots: "当时标绘", em_replay_tasks: "当时任务", em_replay_entries: "时间线",
    em_replay_not_yet: "尚未启动", em_replay_loading: "正在加载复盘…",
    em_report: "下载复盘报告（可打印）", em_report_saved: "报告已下载：{file}",
    em_lifelines_now: "重新计算路线", em_lifelines_checked: "已按当前路况重新计算路线（{time}）",
  },
  en: {
    em_plots: "Plots", em_plot_tools: "Plotting", em_plot_symbol: "Symbol", em_plot_label: "Label",
    em_plot_point: "Point", em_plot_line: "Line", em_plot_polygon: "Area",
    em_plot_finish: "Finish", em_plot_cancel: "Cancel",
    em_plot_help_point: "Click on the map to place “{symbol}”. Esc cancels.",
    em_plot_help_shape: "Click each point ({n} so far); double-click, Enter or “Finish” ends, Esc cancels.",
    em_plot_short: "A line needs 2 points, an area 3.", em_plot_added: "Plotted: {symbol} {label}",
    em_plot_saved: "The plot is updated.", em_plot_removed: "The plot is removed.",
    em_plot_cancelled: "Plotting cancelled.",
    em_plot_by: "Drawn by", em_plot_at: "Time", em_plot_edit: "Save label", em_plot_remove: "Remove",
    em_plot_move: "Move", em_plot_move_help: "Click the new place on the map.",
    em_plot_conflict: "{message} (the plot was reloaded)",
    em_plot_read_only: "You can see the plots; drawing needs the command capability.",
    em_event_plot_added: "Plot added", em_event_plot_updated: "Plot changed", em_event_plot_removed: "Plot removed",
    em_replay: "Replay", em_replay_start: "Start the replay", em_replay_stop: "Back to live",
    em_replay_play: "Play", em_replay_pause: "Pause", em_replay_at: "Moment", em_replay_level: "Level then",
    em_replay_plots: "Plots then", em_replay_tasks: "Tasks then", em_replay_entries: "Timeline",
    em_replay_not_yet: "Not yet activated", em_replay_loading: "Loading the replay…",
    em_report: "Download the report (printable)", em_report_saved: "Report downloaded: {file}",
    em_lifelines_now: "Re-check routes now", em_lifelines_checked: "Routes re-checked on the roads as they are ({time})",
  },
});
