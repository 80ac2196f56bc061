"""The daily loop's steps around the workflow (geo.services.cases) and collaboration
(geo.services.collaboration): supervise (督办), answer a supervision, the on-site check (核查)
and the callback (回访) — which of them a caller may take on a case now, as
``Case.allowedActions`` lists them beside the others.

Each step has its own writer (geo.services.supervision, checks, callbacks), which applies the
same rules again when the step runs; this module only decides what is offered, from the
capabilities and scopes of geo.access, for a case already read through
geo.access.case_scope (the scope every one of those writers loads the case with).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import OPEN_CASE_STATUSES, CaseStatus, SupervisionStatus

#: The steps, as geo.services.cases.allowed_actions names steps (CaseAction in GraphQL).
ACTIONS = ("supervise", "answer_supervision", "check", "callback")


@dataclass(frozen=True)
class Unanswered:
    """A supervision over the case that nobody answered yet (open, or missed its deadline)."""

    id: int
    kind: str  # case or department
    status: str
    deadline: datetime
    note: str
    department_id: int
    case_id: int | None  # the supervised case, for a supervision of one case

    @classmethod
    def of(cls, row: Sequence[object]) -> Unanswered:
        """From a ``case_supervisions`` look-up row (id, kind, status, deadline, note,
        department_id, case_id)."""
        return cls(*row)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LoopState:
    """What the offer depends on besides the status: read by the caller in one go."""

    supervisions: Sequence[Unanswered] = ()
    #: Resolved, its category requires an on-site check, and none has passed since.
    check_due: bool = False
    #: A callback of the case waits for a call-taker.
    callback_pending: bool = False


def answerable(actor: Principal, supervisions: Sequence[Unanswered]) -> list[Unanswered]:
    """The unanswered supervisions ``actor`` answers (HANDLE): those aimed at a department
    whose handling the actor carries (geo.access.handles_case), oldest first."""
    if not actor.can(C.HANDLE):
        return []
    return [s for s in supervisions if access.handles_case(actor, s.department_id)]


def allowed_actions(
    actor: Principal, status: CaseStatus | str, department_id: int | None, state: LoopState
) -> list[str]:
    """The steps of ACTIONS ``actor`` may take on a case in ``status`` held by
    ``department_id``."""
    current = CaseStatus(status)
    supervised = any(
        s.kind == "case" and s.status == SupervisionStatus.OPEN.value for s in state.supervisions
    )
    steps = {
        # An open case with a department to answer, not already under its own supervision.
        "supervise": actor.can(C.SUPERVISE) and current in OPEN_CASE_STATUSES
        and department_id is not None and not supervised,
        "answer_supervision": bool(answerable(actor, state.supervisions)),
        "check": actor.can(C.CHECK_ON_SITE) and current is CaseStatus.RESOLVED and state.check_due,
        "callback": actor.can(C.CALLBACK) and state.callback_pending,
    }  # fmt: skip
    return [name for name in ACTIONS if steps[name]]
