"""The symbols of shared plotting (指挥标绘, issue 16 item 4) and the geometry each allows.

The database enforces the symbol with a CHECK constraint (migration 0027)."""

from __future__ import annotations

from enum import StrEnum


class PlotSymbol(StrEnum):
    """What a command seat drew. The labels are the legend's (zh, en)."""

    COMMAND_POST = "command_post"  # 指挥部
    ASSEMBLY_POINT = "assembly_point"  # 集结点
    CORDON = "cordon"  # 警戒线 / 警戒区
    EVACUATION_ROUTE = "evacuation_route"  # 疏散路线
    HAZARD_ZONE = "hazard_zone"  # 危险区
    WATER_POINT = "water_point"  # 取水点
    ROADBLOCK = "roadblock"  # 路障 / 交通管制点
    RESCUE_TEAM = "rescue_team"  # 救援队伍
    NOTE = "note"  # 标注


PLOT_LABELS: dict[PlotSymbol, tuple[str, str]] = {
    PlotSymbol.COMMAND_POST: ("指挥部", "Command post"),
    PlotSymbol.ASSEMBLY_POINT: ("集结点", "Assembly point"),
    PlotSymbol.CORDON: ("警戒线", "Cordon"),
    PlotSymbol.EVACUATION_ROUTE: ("疏散路线", "Evacuation route"),
    PlotSymbol.HAZARD_ZONE: ("危险区", "Hazard zone"),
    PlotSymbol.WATER_POINT: ("取水点", "Water point"),
    PlotSymbol.ROADBLOCK: ("路障", "Roadblock"),
    PlotSymbol.RESCUE_TEAM: ("救援队伍", "Rescue team"),
    PlotSymbol.NOTE: ("标注", "Note"),
}

#: The geometry types a plot may have (one generic column, CHECKed).
PLOT_GEOMETRY_TYPES = ("ST_Point", "ST_LineString", "ST_Polygon")
