"""The health-code rules, versioned and published: which facts make a code green, yellow or red.

Each decision names the rule that fired and explains it in words a citizen can check (the
unpublished, unexplained rules of 2022 are what this avoids). A new rule set is a new VERSION;
codes carry the version they were decided under, and the published text of every version that
decided a code is kept in ``health_rule_versions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from geo.citizen_enums import Colour

VERSION = "2026.1"
LOOKBACK = timedelta(days=14)
SYMPTOM_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Rule:
    id: str
    colour: Colour
    text_zh: str
    text_en: str


#: In order of precedence: the first rule that applies decides.
RULES: tuple[Rule, ...] = (
    Rule("A1", Colour.GREEN, "经申诉核实更正（在有效期内）",
         "Corrected after an upheld appeal, while the correction is in force"),
    Rule("R1", Colour.RED, "14天内核酸检测阳性，且其后无阴性结果",
         "A positive test in the last 14 days with no negative test sampled after it"),
    Rule("R2", Colour.RED, "14天内在高风险网格的场所扫码，且在风险期内",
         "A check-in in the last 14 days at a venue in a high-risk grid cell, in its risk period"),
    Rule("Y1", Colour.YELLOW, "14天内在中风险网格的场所扫码，且在风险期内",
         "A check-in in the last 14 days at a venue in a medium-risk cell, in its risk period"),
    Rule("Y2", Colour.YELLOW, "14天内申报密切接触，且其后无阴性结果",
         "Declared contact with a confirmed case in the last 14 days, no negative test since"),
    Rule("Y3", Colour.YELLOW, "7天内申报发热或症状，且其后无阴性结果",
         "Declared fever or symptoms in the last 7 days, no negative test since"),
    Rule("G0", Colour.GREEN, "无上述情形", "None of the above"),
)  # fmt: skip
BY_ID = {r.id: r for r in RULES}


@dataclass(frozen=True)
class Facts:
    """What the rules look at, read in one statement (``geo.services.health_code``)."""

    now: datetime
    positive_at: datetime | None = None
    negative_at: datetime | None = None  # the latest negative test's sampling time
    declared_at: datetime | None = None  # the latest declaration in the look-back
    declared_fever_or_symptoms: bool = False
    declared_contact: bool = False
    risk_level: str | None = None  # the worst risk level among check-ins in the look-back
    risk_checkin_at: datetime | None = None
    override_colour: str | None = None
    override_until: datetime | None = None
    override_appeal: int | None = None


@dataclass(frozen=True)
class Decision:
    colour: Colour
    rule: Rule
    reason: str
    version: str = VERSION


def _after(test: datetime | None, event: datetime | None) -> bool:
    return test is not None and event is not None and test > event


def decide(f: Facts) -> Decision:
    if f.override_colour and f.override_until and f.override_until > f.now:
        colour = Colour(f.override_colour)
        return Decision(colour, BY_ID["A1"], f"Appeal {f.override_appeal} was upheld: "
                        f"{colour.value} until {f.override_until:%Y-%m-%d %H:%M} UTC.")  # fmt: skip
    if (
        f.positive_at
        and f.positive_at > f.now - LOOKBACK
        and not _after(f.negative_at, f.positive_at)
    ):
        return Decision(Colour.RED, BY_ID["R1"], f"Positive test sampled {f.positive_at:%Y-%m-%d}.")
    if f.risk_level and f.risk_checkin_at:
        rule = BY_ID["R2" if f.risk_level == "high" else "Y1"]
        return Decision(rule.colour, rule, f"Check-in on {f.risk_checkin_at:%Y-%m-%d} at a venue "
                        f"in a {f.risk_level}-risk grid cell.")  # fmt: skip
    if f.declared_at and not _after(f.negative_at, f.declared_at):
        if f.declared_contact:
            return Decision(Colour.YELLOW, BY_ID["Y2"],
                            f"Contact declared on {f.declared_at:%Y-%m-%d}.")  # fmt: skip
        if f.declared_fever_or_symptoms and f.declared_at > f.now - SYMPTOM_LOOKBACK:
            return Decision(Colour.YELLOW, BY_ID["Y3"],
                            f"Fever or symptoms declared on {f.declared_at:%Y-%m-%d}.")  # fmt: skip
    return Decision(Colour.GREEN, BY_ID["G0"], "No rule applies: green.")


def published() -> list[dict[str, Any]]:
    """The rule set's text, as stored in ``health_rule_versions`` and served to anyone."""
    return [
        {"id": r.id, "colour": r.colour.value, "text_zh": r.text_zh, "text_en": r.text_en}
        for r in RULES
    ]
