// Chinese and English: the page's words, and names of codes (vocab.js) in the chosen language.
// Chinese first: the operators' language; English for everyone else. The map labels carry both.

const WORDS = {
  zh: {
    other_lang: "English", panel: "面板", map: "城市地图", live_on: "实时",
    login: "登录", logout: "退出", login_title: "工作人员登录", phone: "手机号", password: "密码",
    cancel: "取消", clear: "清除", close: "关闭",
    tab_layers: "图层", tab_incident: "事件分析", tab_feed: "实时动态",
    base: "底图", facilities: "设施", cases: "案件", cameras: "视频监控",
    case_view: "显示方式", case_heat: "热力图", case_points: "点位", case_off: "不显示",
    category: "类别", all_categories: "全部类别",
    admin_areas: "行政区划", grid_cells: "管理网格", grid_risk: "网格健康风险",
    department_layers: "部门图层",
    public_view: "公开视图：案件已匿名化。工作人员请登录查看内部图层。",
    staff_view: "内部视图", incident_help: "选择半径，然后在地图上点选事件位置。",
    radius: "半径", incident_pick: "在地图上点选", incident_picking: "请在地图上点击事件位置…",
    incident_loading: "正在分析…", incident_done: "分析完成",
    grid_hit: "涉及网格", affected: "受影响单位", hazards: "危险源", resources: "应急资源",
    open_cases: "未结案件", none: "无", play: "播放", worker: "网格员",
    feed_help: "登录后实时推送案件状态变化与传感器报警。", feed_empty: "暂无新动态",
    sensor_raised: "传感器报警", sensor_escalated: "传感器报警升级", sensor_eased: "传感器报警降级",
    sensor_cleared: "传感器报警解除", sensor_level_normal: "正常", sensor_level_warning: "预警",
    sensor_level_alarm: "告警", sensor_case: "案件", sensors: "物联感知",
    warning: "预警", warnings: "预警发布", warning_area: "范围", warning_until: "有效至", warning_do: "防御指南",
    warnings_help: "生效中的预警区域，按严重程度着色：红 特别严重、橙 严重、黄 较重、蓝 一般",
    sensor_24h: "近24小时", sensor_chart: "近24小时 {n} 个读数，{lo} 至 {hi}",
    sensor_no_chart: "近24小时读数不足，无法绘图", sensor_no_reading: "暂无读数",
    address: "地址", capacity: "容量", code: "编号", status: "状态", priority: "优先级",
    reported_at: "上报时间", due_at: "处置时限", source: "来源", grid: "网格",
    department: "处置部门", assignee: "处置人", description: "描述", timeline: "处置过程",
    last_seen: "最后在线", heading: "朝向", connecting: "正在连接视频…", no_video_role: "无权查看视频",
    case_public_note: "匿名化信息；登录后查看详情与处置过程。",
    loading: "加载中…", error: "出错了", login_failed: "登录失败",
    population: "人口", level: "级别", health_risk: "健康风险", hidden_hazards: "危险源（内部）",
    updated: "更新", new_case: "新案件", session_expired: "登录已过期，请重新登录。",
    cases_count: "件", offline_retry: "摄像头离线，稍后重试。",
    actions: "处置操作", note: "备注", note_help: "处置完毕、不予受理、转办、督办等需说明理由时必填",
    action_dispatch: "派遣", action_start: "开始处置", action_resolve: "处置完毕",
    action_close: "结案", action_reject: "不予受理", action_reopen: "重新打开",
    action_working: "正在提交…", action_done: "操作成功（{action}），当前状态：{status}",
    note_required: "请先填写备注：{action}需要说明理由。",
    action_transfer: "转办", action_request_return: "退单", action_accept_return: "同意退单",
    action_refuse_return: "驳回退单", action_add_co_handlers: "协办部门", action_blow_whistle: "吹哨报到",
    action_comment: "备注留言", action_supervise: "督办", action_answer_supervision: "回复督办",
    action_check: "现场核查", action_callback: "回访", action_task_start: "开始协办",
    action_task_finish: "协办完成", action_task_decline: "拒绝协办",
    action_request_suspension: "申请挂起", action_request_extension: "申请延期", action_resume: "恢复计时",
    action_approve_clock_request: "批准申请", action_refuse_clock_request: "驳回申请",
    extension_hours: "延期（工作小时）", extension_hours_range: "延期为 1 至 240 个工作小时。",
    confirm_step: "确认{action}", pick_department: "转办至部门", pick_departments: "选择部门（可多选）",
    pick_department_first: "请先选择转办部门。", pick_departments_first: "请至少选择一个部门。",
    supervise_deadline: "督办期限", supervise_deadline_first: "请填写督办期限。",
    satisfaction: "来电人满意度", callback_to: "回访对象（电话）", satisfied: "满意", basically_satisfied: "基本满意", not_satisfied: "不满意",
    check_result: "核查结果", check_passed: "通过", check_failed: "不通过", check_photos: "现场照片",
    check_photos_first: "请先选择现场照片。",
    check_position_note: "提交时使用您当前的位置：核查须在案件现场附近进行。",
    check_no_position: "无法获取您的位置：现场核查需要定位，请允许定位后重试。",
    clock: "时限", clock_deadline: "截止", clock_suspended: "已挂起（暂停计时）",
    clock_pending: "待审批：{what}", supervision_waiting: "督办待回复（期限 {deadline}）：",
    reported_from: "上报起始", reported_to: "上报截止", dates_clear: "清除日期",
    dates_invalid: "起始日期晚于截止日期：请调整后再筛选。",
    dates_active: "仅显示 {from} 至 {to} 上报的案件", dates_open: "不限",
    locate: "定位我的位置", locate_busy: "正在定位…", locate_done: "已定位（精度约 {accuracy}）",
    locate_denied: "定位被拒绝：请在浏览器的网站设置中允许本页获取位置，然后重试。",
    locate_unavailable: "无法获取位置：此浏览器或连接不提供定位（需要 HTTPS）。",
    cell_cases: "此处 {n} 件案件", cell_zoom: "放大地图查看每一件案件。",
    search: "搜索", search_hint: "设施、地点、网格、案件编号",
    search_none: "没有找到“{text}”", search_found: "找到 {n} 项",
    search_category: "已按类别筛选案件：{name}",
    kind_FACILITY: "设施", kind_CASE: "案件", kind_CATEGORY: "案件类别", kind_GRID_CELL: "网格",
    kind_COMMUNITY: "社区", kind_STREET: "街道", kind_DISTRICT: "区",
    locate_failed: "暂时无法确定您的位置，请稍后重试。", locate_timeout: "定位超时，请重试。",
    locate_outside: "您的位置不在本市地图范围内。",
    incident_centre: "以地图中心为事件点",
    cockpit: "驾驶舱", cockpit_title: "驾驶舱：本辖区态势",
    cockpit_forbidden: "您的账号无权查看这部分数据。",
    cockpit_today: "今日上报案件（按状态）", cockpit_30days: "近30天（{from} 至 {to}）",
    cockpit_on_time_rate: "按时处置率", cockpit_received: "受理", cockpit_overdue_30: "超期",
    cockpit_top_departments: "超期最多的部门（近30天）", cockpit_top_streets: "超期最多的街道（近30天）",
    cockpit_warning: "预警（当前）", cockpit_overdue: "超期（当前）",
    cockpit_overdue_list: "超期案件", cockpit_warning_list: "预警案件",
    cockpit_updated: "更新于 {at}",
  },
  en: {
    other_lang: "中文", panel: "Panel", map: "City map", live_on: "Live",
    login: "Log in", logout: "Log out", login_title: "Staff login", phone: "Phone",
    password: "Password", cancel: "Cancel", clear: "Clear", close: "Close",
    tab_layers: "Layers", tab_incident: "Incident", tab_feed: "Live feed",
    base: "Base map", facilities: "Facilities", cases: "Cases", cameras: "Cameras",
    case_view: "Show as", case_heat: "Heat map", case_points: "Points", case_off: "Hidden",
    category: "Category", all_categories: "All categories",
    admin_areas: "Administrative areas", grid_cells: "Management grid",
    grid_risk: "Grid health risk", department_layers: "Department layers",
    public_view: "Public view: cases are anonymised. Staff: log in for the internal layers.",
    staff_view: "Internal view", incident_help: "Choose a radius, then click the incident point.",
    radius: "Radius", incident_pick: "Pick on the map", incident_picking: "Click the incident point…",
    incident_loading: "Analysing…", incident_done: "Done",
    grid_hit: "Grid cells", affected: "Affected units", hazards: "Hazard sources",
    resources: "Emergency resources", open_cases: "Open cases", none: "None", play: "Play",
    worker: "Grid worker", feed_help: "Case status changes and sensor alarms, live, once logged in.",
    feed_empty: "Nothing new yet",
    sensor_raised: "Sensor alarm", sensor_escalated: "Sensor alarm escalated",
    sensor_eased: "Sensor alarm eased", sensor_cleared: "Sensor alarm cleared",
    sensor_level_normal: "normal", sensor_level_warning: "warning", sensor_level_alarm: "alarm",
    sensor_case: "case", sensors: "Sensors",
    warning: "Warning", warnings: "Warnings", warning_area: "Area", warning_until: "Until", warning_do: "What to do",
    warnings_help: "Warnings in force, by severity: red extreme, orange severe, yellow moderate, blue minor",
    sensor_24h: "Last 24 hours", sensor_chart: "{n} readings in the last 24 hours, {lo} to {hi}",
    sensor_no_chart: "Too few readings in the last 24 hours for a chart",
    sensor_no_reading: "No readings yet",
    address: "Address", capacity: "Capacity", code: "Code", status: "Status",
    priority: "Priority", reported_at: "Reported", due_at: "Due", source: "Source", grid: "Grid cell",
    department: "Department", assignee: "Assignee", description: "Description",
    timeline: "Timeline", last_seen: "Last seen", heading: "Heading",
    connecting: "Connecting video…", no_video_role: "Not allowed to view video",
    case_public_note: "Anonymised; log in for details and the timeline.",
    loading: "Loading…", error: "Error", login_failed: "Login failed",
    population: "Population", level: "Level", health_risk: "Health risk",
    hidden_hazards: "Hazard sources (internal)", updated: "updated", new_case: "New case",
    session_expired: "Your session expired; please log in again.", cases_count: "cases",
    offline_retry: "The camera is offline; retrying later.",
    actions: "Actions", note: "Note", note_help: "needed to resolve, reject, transfer, supervise and other steps that need a reason",
    action_dispatch: "Dispatch", action_start: "Start", action_resolve: "Resolve",
    action_close: "Close", action_reject: "Reject", action_reopen: "Reopen",
    action_working: "Sending…", action_done: "{action}: done. The case is now {status}.",
    note_required: "Write a note first: {action} needs a reason.",
    action_transfer: "Transfer", action_request_return: "Return", action_accept_return: "Accept return",
    action_refuse_return: "Refuse return", action_add_co_handlers: "Co-handling departments",
    action_blow_whistle: "Call departments", action_comment: "Comment", action_supervise: "Supervise",
    action_answer_supervision: "Answer supervision", action_check: "On-site check",
    action_callback: "Callback", action_task_start: "Start task", action_task_finish: "Finish task",
    action_task_decline: "Decline task",
    action_request_suspension: "Ask to suspend", action_request_extension: "Ask for more time",
    action_resume: "Resume clock", action_approve_clock_request: "Approve request",
    action_refuse_clock_request: "Refuse request",
    extension_hours: "Extension (working hours)", extension_hours_range: "An extension is 1 to 240 working hours.",
    confirm_step: "Confirm: {action}", pick_department: "Transfer to", pick_departments: "Departments (one or more)",
    pick_department_first: "Choose the department to transfer to.",
    pick_departments_first: "Choose at least one department.",
    supervise_deadline: "Answer by", supervise_deadline_first: "Give the supervision's deadline.",
    satisfaction: "The caller is", callback_to: "Call back (phone)", satisfied: "Satisfied", basically_satisfied: "Mostly satisfied",
    not_satisfied: "Not satisfied",
    check_result: "Result", check_passed: "Passed", check_failed: "Not passed", check_photos: "Photos taken on site",
    check_photos_first: "Choose the photos taken on site first.",
    check_position_note: "Your current position is sent: a check is made at the case's place.",
    check_no_position: "Your position is unavailable: an on-site check needs it; allow location and try again.",
    clock: "Time limit", clock_deadline: "due", clock_suspended: "suspended (clock stopped)",
    clock_pending: "waiting for a decision: {what}", supervision_waiting: "Supervision to answer by {deadline}:",
    reported_from: "Reported from", reported_to: "Reported to", dates_clear: "Clear dates",
    dates_invalid: "The start date is after the end date: change one of them to filter.",
    dates_active: "Only cases reported {from} to {to}", dates_open: "any",
    locate: "Show my location", locate_busy: "Finding your location…",
    locate_done: "Located (to about {accuracy})",
    locate_denied: "Location refused: allow this page to use your location in the browser's site settings, then try again.",
    locate_unavailable: "Your location is unavailable: this browser or connection cannot provide it (it needs HTTPS).",
    cell_cases: "{n} cases here", cell_zoom: "Zoom in to see each case.",
    search: "Search", search_hint: "Facilities, places, grid cells, case numbers",
    search_none: "Nothing found for “{text}”", search_found: "{n} found",
    search_category: "Cases filtered by category: {name}",
    kind_FACILITY: "Facility", kind_CASE: "Case", kind_CATEGORY: "Case category",
    kind_GRID_CELL: "Grid cell", kind_COMMUNITY: "Community", kind_STREET: "Street",
    kind_DISTRICT: "District",
    locate_failed: "Your location could not be found just now; try again later.",
    locate_timeout: "Finding your location took too long; try again.",
    locate_outside: "You are outside the city's map.",
    incident_centre: "Use the map centre",
    cockpit: "Cockpit", cockpit_title: "Cockpit: your jurisdiction now",
    cockpit_forbidden: "Your account may not see these figures.",
    cockpit_today: "Reported today, by status", cockpit_30days: "Last 30 days ({from} to {to})",
    cockpit_on_time_rate: "Handled on time", cockpit_received: "Received", cockpit_overdue_30: "Overdue",
    cockpit_top_departments: "Departments with most overdue (30 days)",
    cockpit_top_streets: "Streets with most overdue (30 days)",
    cockpit_warning: "Warning (now)", cockpit_overdue: "Overdue (now)",
    cockpit_overdue_list: "Overdue cases", cockpit_warning_list: "Cases in warning",
    cockpit_updated: "Updated {at}",
  },
};

/**
 * MapLibre's own control labels (its `locale` option, read once when the map is made), in both
 * languages: screen readers announce them whichever language the page is switched to.
 */
export const MAP_UI = {
  "AttributionControl.ToggleAttribution": "数据来源 Attribution",
  "Map.Title": "城市地图 City map",
  "NavigationControl.ResetBearing": "指北（拖动旋转）Reset north (drag to rotate)",
  "NavigationControl.ZoomIn": "放大 Zoom in",
  "NavigationControl.ZoomOut": "缩小 Zoom out",
  "Popup.Close": "关闭 Close",
};

/** More words from a module of its own (`{zh: {…}, en: {…}}`), e.g. incident_words.js. */
export function addWords(more) {
  for (const code of ["zh", "en"]) Object.assign(WORDS[code], more[code]);
}

let lang = "zh";
const listeners = new Set();

export function language() { return lang; }

/** The word for `key` in the current language (the key itself if there is none). */
export function t(key) { return WORDS[lang][key] ?? WORDS.zh[key] ?? key; }

/** The word for `key` with its {placeholders} filled from `values`. */
export function tf(key, values) {
  return t(key).replace(/\{(\w+)\}/g, (whole, k) => (k in values ? String(values[k]) : whole));
}

/** The name of a code from a vocab.js table ([zh, en, …]); the code itself if unknown. */
export function name(table, code) {
  const entry = table[code];
  return entry ? entry[lang === "zh" ? 0 : 1] : String(code ?? "");
}

/** Both names, for places where the other language helps (legend tooltips). */
export function bothNames(table, code) {
  const entry = table[code];
  return entry ? `${entry[0]} ${entry[1]}` : String(code ?? "");
}

const PG_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A time as GraphQL sends it (ISO 8601) or as a tile carries it (PostgreSQL's text form in UTC,
 * "2026-11-20 08:00:00+00", which not every browser parses): a Date, or null.
 */
export function parseTime(value) {
  if (value == null || value === "") return null;
  let text = String(value);
  const m = PG_TIME.exec(text);
  if (m) {
    let zone = m[3] || "Z";
    if (/^[+-]\d{2}$/.test(zone)) zone += ":00";
    else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
    text = `${m[1]}T${m[2]}${zone}`;
  }
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function formatTime(value) {
  if (value == null || value === "") return "";
  const d = parseTime(value);
  if (!d) return String(value);
  return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

export function formatDistance(m) {
  if (m == null) return "";
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

/** Fill every [data-i18n] element's text and [data-i18n-title]/[data-i18n-aria-label]. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function setLanguage(next) {
  lang = next === "en" ? "en" : "zh";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  translate();
  for (const fn of listeners) fn(lang);
}

export function onLanguage(fn) { listeners.add(fn); }
