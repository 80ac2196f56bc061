// The map's vocabulary: each code the tiles and GraphQL carry, with its Chinese and English name
// and its colour. The codes are the database's (geo/enums.py, seed/vocab.py); a test checks that
// every facility category and case category in the database has a name here.

export const FACILITY_CATEGORIES = {
  hospital: ["医院", "Hospital", "#d7263d"],
  clinic: ["诊所", "Clinic", "#f46197"],
  pharmacy: ["药店", "Pharmacy", "#b5179e"],
  test_site: ["核酸检测点", "Test site", "#7b2cbf"],
  school: ["学校", "School", "#1d4ed8"],
  kindergarten: ["幼儿园", "Kindergarten", "#3a86ff"],
  elderly_care: ["养老机构", "Elderly care", "#8d6e63"],
  community_center: ["社区中心", "Community centre", "#6d597a"],
  fire_station: ["消防站", "Fire station", "#ff5400"],
  police_station: ["派出所", "Police station", "#003049"],
  shelter: ["避难场所", "Shelter", "#2a9d8f"],
  park: ["公园", "Park", "#52b788"],
  venue: ["场馆", "Venue", "#e9c46a"],
  metro_station: ["地铁站", "Metro station", "#264653"],
  waterlogging_point: ["易积水点", "Waterlogging point", "#0096c7"],
  hazard_source: ["危险源", "Hazard source", "#9d0208"],
};

export const CASE_STATUSES = {
  reported: ["上报", "Reported", "#e63946"],
  dispatched: ["已派遣", "Dispatched", "#f77f00"],
  in_progress: ["处置中", "In progress", "#fcbf49"],
  resolved: ["待核查", "Resolved", "#4cc9f0"],
  closed: ["结案", "Closed", "#2a9d8f"],
  rejected: ["不予受理", "Rejected", "#8d99ae"],
  duplicate: ["重复", "Duplicate", "#adb5bd"],
};
export const OPEN_STATUSES = ["reported", "dispatched", "in_progress", "resolved"];

export const CASE_CATEGORIES = {
  road_damage: ["道路破损", "Road damage"],
  illegal_parking: ["违章停车", "Illegal parking"],
  garbage_overflow: ["垃圾满溢", "Garbage overflow"],
  street_light: ["路灯故障", "Street light failure"],
  water_leak: ["供水管漏水", "Water main leak"],
  illegal_construction: ["违法搭建", "Illegal construction"],
  noise: ["噪声扰民", "Noise nuisance"],
  manhole_cover: ["窨井盖缺失", "Missing manhole cover"],
  greenery_damage: ["绿化损坏", "Greenery damage"],
  street_vendor: ["无证设摊", "Unlicensed street vending"],
  waterlogging: ["道路积水", "Road waterlogging"],
  graffiti: ["乱涂乱画/小广告", "Graffiti and flyposting"],
  fire_hazard: ["消防通道堵塞", "Blocked fire lane"],
  bike_clutter: ["共享单车乱停放", "Shared bike clutter"],
  air_pollution: ["油烟/扬尘污染", "Cooking fumes and dust"],
  power_outage: ["停电", "Power outage"],
  sewage_overflow: ["污水冒溢", "Sewage overflow"],
  elderly_help: ["独居老人求助", "Elderly living alone needs help"],
  gas_leak: ["燃气泄漏", "Gas leak"],
  cable_overheat: ["电缆过热", "Cable overheating"],
};

export const CASE_PRIORITIES = {
  low: ["低", "Low"], normal: ["一般", "Normal"], high: ["高", "High"], urgent: ["紧急", "Urgent"],
};

export const CASE_SOURCES = {
  citizen_report: ["市民上报", "Citizen report"], grid_worker: ["网格员", "Grid worker"],
  camera: ["视频发现", "Camera"], hotline: ["12345热线", "12345 hotline"], sensor: ["传感器", "Sensor"],
};

export const CASE_EVENTS = {
  reported: ["上报", "Reported"], dispatched: ["派遣", "Dispatched"], started: ["开始处置", "Started"],
  resolved: ["处置完毕", "Resolved"], closed: ["结案", "Closed"], rejected: ["不予受理", "Rejected"],
  reopened: ["重新打开", "Reopened"], marked_duplicate: ["标记重复", "Marked duplicate"],
  commented: ["备注", "Comment"],
  transferred: ["转办", "Transferred"], return_requested: ["申请退单", "Return requested"],
  return_accepted: ["同意退单", "Return accepted"], return_refused: ["驳回退单", "Return refused"],
  whistle_blown: ["吹哨", "Departments called"], task_assigned: ["分派协办", "Task assigned"],
  task_started: ["开始协办", "Task started"], task_reported: ["报到", "Reported for the task"],
  task_done: ["协办完成", "Task done"], task_declined: ["拒绝协办", "Task declined"],
  suspended: ["挂起", "Clock suspended"], resumed: ["恢复计时", "Clock resumed"],
  extended: ["延期", "Extended"], suspension_requested: ["申请挂起", "Suspension requested"],
  extension_requested: ["申请延期", "Extension requested"], request_refused: ["驳回申请", "Request refused"],
  supervised: ["督办", "Supervised"], supervision_answered: ["督办回复", "Supervision answered"],
  supervision_missed: ["督办逾期", "Supervision missed"], escalated: ["升级", "Escalated"],
  call_attached: ["来电合并", "Call attached"], checked: ["核查通过", "Checked on site"],
  check_failed: ["核查不通过", "Check failed"], callback_recorded: ["回访", "Callback recorded"],
  callback_unreachable: ["回访未接通", "Caller not reached"],
};

/** The stages a clock covers (geo.enums.Stage). */
export const CASE_STAGES = {
  dispatch: ["受理派遣", "Dispatch"], handle: ["处置", "Handling"], check: ["核查结案", "Check and close"],
};

/** A clock's state, with its colour. */
export const CLOCK_STATES = {
  on_time: ["正常", "On time", "#2b9348"], warning: ["预警", "Warning", "#e09f3e"],
  overdue: ["超期", "Overdue", "#d00000"],
};

export const CAMERA_STATUSES = {
  online: ["在线", "Online", "#2b9348"],
  offline: ["离线", "Offline", "#d00000"],
  unknown: ["未知", "Unknown", "#8d99ae"],
};

/** A sensor device's state on the map (geo.enums.SensorState), with its colour. */
export const SENSOR_STATES = {
  normal: ["正常", "Normal", "#2b9348"],
  warning: ["预警", "Warning", "#f77f00"],
  alarm: ["告警", "Alarm", "#d00000"],
  offline: ["离线", "Offline", "#8d99ae"],
};

/** What a sensor device senses (its Thing's properties.kind); other kinds show their code. */
export const SENSOR_KINDS = {
  smoke_detector: ["感烟火灾探测器", "Smoke detector"],
  gas_detector: ["可燃气体探测器", "Gas detector"],
  water_level_gauge: ["积水监测仪", "Waterlogging gauge"],
  water_level: ["水位计", "Water-level gauge"],
  cable_temperature_sensor: ["电缆测温", "Cable temperature sensor"],
};

/** What a Datastream measures (its ObservedProperty's name, as the sensors' rules match it). */
export const SENSOR_PROPERTIES = {
  "smoke obscuration": ["烟雾遮光率", "Smoke obscuration"],
  "gas concentration": ["可燃气体浓度", "Gas concentration"],
  "water level": ["积水水位", "Water level"],
  "cable temperature": ["电缆温度", "Cable temperature"],
};

export const ADMIN_LEVELS = {
  district: ["区", "District"], street: ["街道", "Street"], community: ["社区", "Community"],
};

export const HEALTH_RISK = { low: ["低", "Low"], medium: ["中", "Medium"], high: ["高", "High"] };

/** CAP severities (GraphQL's enum names), coloured like China's warning signals: red, orange,
 * yellow, blue. */
export const WARNING_SEVERITIES = {
  EXTREME: ["特别严重", "Extreme", "#c1121f"],
  SEVERE: ["严重", "Severe", "#f77f00"],
  MODERATE: ["较重", "Moderate", "#e9c46a"],
  MINOR: ["一般", "Minor", "#3a86ff"],
  UNKNOWN: ["未知", "Unknown", "#8d99ae"],
};

/** A building's use (geo/base_models.py BuildingUse): its name and the colour of its footprint. */
export const BUILDING_USES = {
  residential: ["住宅", "Residential", "#d6c7a1"],
  office: ["办公", "Office", "#a3b8cc"],
  commercial: ["商业", "Commercial", "#e0a899"],
  school: ["学校", "School", "#b5d6a7"],
  hospital: ["医院", "Hospital", "#f2b5c4"],
  industrial: ["工业", "Industrial", "#c2b8d9"],
  mixed: ["商住混合", "Mixed", "#d9c2a6"],
};
