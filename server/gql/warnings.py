"""Warnings (预警发布) in GraphQL: ``warnings`` (the public's Actual, Public messages; every
status for ISSUE_WARNINGS) and ``issueWarning``, ``updateWarning``, ``cancelWarning``. Refusals
are typed errors (``extensions.code``: FORBIDDEN, UNAUTHENTICATED, BAD_USER_INPUT, CONFLICT,
NOT_FOUND) from the one error table. The writer is geo.services.warnings; after the commit
the message is pushed to the citizens in its area (server.kernel.webpush)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import strawberry

from geo import access
from geo.access import Capability
from geo.queries.warning_deliveries import DeliverySummary, summaries
from geo.queries.warnings import CapMessage, listing
from geo.services import warnings
from geo.services.warning_input import WarningDraft
from geo.warning_enums import LANGUAGES, CapCategory, CapCertainty, CapSeverity, CapUrgency
from server.gql.context import Info
from server.gql.inputs import page_size
from server.gql.plans import loader
from server.gql.scalars import GeoJSON

strawberry.enum(CapCategory, name="CapCategory", description="CAP 1.2 <category>.")
strawberry.enum(CapUrgency, name="CapUrgency", description="CAP 1.2 <urgency>.")
strawberry.enum(CapSeverity, name="CapSeverity", description="CAP 1.2 <severity>.")
strawberry.enum(CapCertainty, name="CapCertainty", description="CAP 1.2 <certainty>.")


@strawberry.enum(
    description="What a warning is: Actual reaches citizens; Exercise and Test "
    "are never published nor pushed."
)
class WarningStatus(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    TEST = "Test"


@strawberry.type(description="One language's info block of a warning.")
class WarningInfo:
    language: str = strawberry.field(description="zh-CN or en-US")
    event: str
    headline: str
    description: str
    instruction: str
    sender_name: str


@strawberry.type(
    name="WarningDelivery",
    description="How far a warning got (预警送达): counts only, never a person. recipients: "
    "citizens with a place in the area (devices' last positions, latest check-in, latest "
    "report; 0 for exercises and tests); inboxDelivered: those whose inbox shows it now (0 "
    "once it is no longer in force); push*: devices by the push service's answer; pending: "
    "devices of recipients not yet answered for.",
)
class WarningDelivery:
    recipients: int
    inbox_delivered: int
    push_delivered: int
    push_gone: int
    push_failed: int
    pending: int
    updated_at: datetime | None = strawberry.field(description="The newest push answer.")

    @classmethod
    def of(cls, d: DeliverySummary) -> WarningDelivery:
        return cls(
            recipients=d.recipients,
            inbox_delivered=d.inbox_delivered,
            push_delivered=d.push_delivered,
            push_gone=d.push_gone,
            push_failed=d.push_failed,
            pending=d.pending,
            updated_at=d.updated_at,
        )


async def _summaries(info: Info, ids: list[int]) -> list[DeliverySummary | None]:
    found = {d.warning_id: d for d in await info.context.fetch(summaries(ids))}
    return [found.get(i) for i in ids]


@strawberry.type(
    name="Warning",
    description="A CAP 1.2 message: an Alert, or an Update or "
    "Cancel of an earlier one (references).",
)
class CapWarning:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str = strawberry.field(description="Alert, Update or Cancel")
    scope: str
    references: str | None = strawberry.field(description="The message it updates or cancels.")
    replaced_by: str | None = strawberry.field(description="The Update or Cancel replacing it.")
    active: bool = strawberry.field(description="In force: current, not a Cancel.")
    category: CapCategory
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    effective: datetime
    onset: datetime | None
    expires: datetime
    info: list[WarningInfo] = strawberry.field(description="zh-CN, then en-US.")
    area_desc: str
    area: GeoJSON = strawberry.field(description="MultiPolygon (lon, lat).")
    incident_id: int | None
    cap_url: str = strawberry.field(description="Its CAP 1.2 XML (public messages).")
    warning_id: strawberry.Private[int]

    @strawberry.field(
        description="Its delivery (counts, never a person): issue_warnings for any warning, "
        "read_plans for an incident's warnings; FORBIDDEN otherwise."
    )
    async def delivery(self, info: Info) -> WarningDelivery | None:
        access.reads_warning_delivery(info.context.principal, self.incident_id)
        found = await loader(info, "warning_delivery", lambda ids: _summaries(info, ids)).load(
            self.warning_id
        )
        return WarningDelivery.of(found) if found is not None else None

    @classmethod
    def of(cls, m: CapMessage) -> CapWarning:
        return cls(
            identifier=m.identifier,
            sender=m.sender,
            sent=m.sent,
            status=m.status,
            msg_type=m.msg_type,
            scope=m.scope,
            references=m.references[1] if m.references else None,
            replaced_by=m.replaced_by,
            active=m.current and m.msg_type != "Cancel",
            category=CapCategory(m.category),
            urgency=CapUrgency(m.urgency),
            severity=CapSeverity(m.severity),
            certainty=CapCertainty(m.certainty),
            effective=m.effective,
            onset=m.onset,
            expires=m.expires,
            info=[WarningInfo(language=lang, **m.texts[lang]) for lang in LANGUAGES],
            area_desc=m.area_desc,
            area=GeoJSON(m.area),
            incident_id=m.incident_id,
            cap_url=f"/cap/alerts/{m.identifier}.xml",
            warning_id=m.id,
        )


@strawberry.input(
    description="One language's texts: event, headline and description are "
    "required in zh-CN and en-US."
)
class WarningTextInput:
    language: str
    event: str
    headline: str
    description: str
    instruction: str = ""
    sender_name: str = ""


@strawberry.input(
    description="A warning's content (an Alert, or the whole new content of an "
    "Update). Times need a zone; effective defaults to now."
)
class WarningInput:
    category: CapCategory
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    expires: datetime
    info: list[WarningTextInput]
    area_desc: str
    area: GeoJSON = strawberry.field(description="Polygon or MultiPolygon, rings closed.")
    status: WarningStatus = WarningStatus.ACTUAL
    effective: datetime | None = None
    onset: datetime | None = None
    incident_id: int | None = None


def _draft(given: WarningInput) -> WarningDraft:
    texts: dict[str, dict[str, str | None]] = {}
    for block in given.info:
        texts[block.language] = {k: v for k, v in vars(block).items() if k != "language"}
    return WarningDraft(
        status=given.status.value,
        category=given.category.value,
        urgency=given.urgency.value,
        severity=given.severity.value,
        certainty=given.certainty.value,
        expires=given.expires,
        texts=texts,
        area_desc=given.area_desc,
        area=given.area,  # type: ignore[arg-type]
        effective=given.effective,
        onset=given.onset,
        incident_id=given.incident_id,
    )


@strawberry.type
class WarningQuery:
    @strawberry.field(
        description="Warnings, newest first. active: in force (current, not a "
        "Cancel); false: replaced, cancelled or expired; null: all. Callers "
        "without issue_warnings see Actual, Public messages only."
    )
    async def warnings(
        self, info: Info, active: bool | None = True, first: int | None = None
    ) -> list[CapWarning]:
        ctx = info.context
        limit = page_size(first, ctx.settings.default_first, ctx.settings.max_first)
        public = not ctx.can(Capability.ISSUE_WARNINGS)
        return [CapWarning.of(m) for m in await ctx.fetch(listing(active, public, limit))]


async def _written(info: Info, write: Any) -> CapWarning:
    ctx = info.context
    async with ctx.pool.connection() as conn:
        ctx.statements += 1
        message = await write(conn)
    if ctx.pusher is not None:
        ctx.pusher.schedule(message.id)  # after the commit: to the citizens in the area
    return CapWarning.of(message)


@strawberry.type
class WarningMutation:
    @strawberry.mutation(description="Issue a warning (a CAP Alert; issue_warnings).")
    async def issue_warning(self, info: Info, input: WarningInput) -> CapWarning:
        ctx = info.context
        return await _written(
            info, lambda conn: warnings.issue(conn, ctx.principal, _draft(input), ctx.issuer)
        )

    @strawberry.mutation(
        description="Update a warning: a CAP Update referencing it, with the "
        "whole new content (issue_warnings)."
    )
    async def update_warning(self, info: Info, identifier: str, input: WarningInput) -> CapWarning:
        ctx = info.context
        return await _written(
            info,
            lambda conn: warnings.update(
                conn, ctx.principal, identifier, _draft(input), ctx.issuer
            ),
        )

    @strawberry.mutation(
        description="Cancel a warning: a CAP Cancel referencing it; the note "
        "becomes its description (issue_warnings)."
    )
    async def cancel_warning(
        self, info: Info, identifier: str, note: str | None = None
    ) -> CapWarning:
        ctx = info.context
        return await _written(
            info, lambda conn: warnings.cancel(conn, ctx.principal, identifier, ctx.issuer, note)
        )
