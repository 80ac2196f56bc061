"""The vocabulary of CAP 1.2 warnings (预警发布): OASIS Common Alerting Protocol 1.2, section 3.

Values are spelled as CAP spells them, so a stored alert is written to XML as it is; the
database enforces each with a CHECK constraint (geo/warning_models.py).
"""

from __future__ import annotations

from enum import StrEnum


class CapStatus(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


#: What an officer may issue (System and Draft are not for citizens).
ISSUABLE_STATUSES = (CapStatus.ACTUAL, CapStatus.EXERCISE, CapStatus.TEST)


class CapMsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class CapScope(StrEnum):
    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class CapCategory(StrEnum):
    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class CapUrgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CapSeverity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class CapCertainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


#: The languages every alert carries an info block in: Chinese first, then English.
LANGUAGES = ("zh-CN", "en-US")
#: The texts of an info block, per language.
TEXT_FIELDS = ("event", "headline", "description", "instruction", "sender_name")


class PushOutcome(StrEnum):
    """What a push service answered for one subscription (``warning_deliveries``)."""

    DELIVERED = "delivered"  # 201 (or any 2xx)
    GONE = "gone"  # 404 / 410: the subscription has expired; it is deleted
    FAILED = "failed"  # anything else (an error status, no answer)
