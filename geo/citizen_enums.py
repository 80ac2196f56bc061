"""Enumerations of the citizen-facing aggregates: health code, services, ratings.

Kept apart from ``geo.enums`` (the one map's core vocabulary); the database enforces each with
a CHECK constraint, as there.
"""

from __future__ import annotations

from enum import StrEnum


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class TestResult(StrEnum):
    __test__ = False  # not a pytest class

    NEGATIVE = "negative"
    POSITIVE = "positive"


class RiskLevel(StrEnum):
    MEDIUM = "medium"
    HIGH = "high"


class AppealStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"  # 已提交
    ACCEPTED = "accepted"  # 受理
    REJECTED = "rejected"  # 不予受理
    NEEDS_MATERIALS = "needs_materials"  # 补正 (once, listing everything missing)
    UNDER_REVIEW = "under_review"  # 审查
    APPROVED = "approved"  # 准予
    DENIED = "denied"  # 不予许可
    COMPLETED = "completed"  # 办结
    RATED = "rated"  # 好差评


class RatedObject(StrEnum):
    CASE = "case"
    APPLICATION = "application"
