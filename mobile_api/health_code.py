"""The health code (健康码): my code and its QR, my inputs and history, appeals, verification
by verifiers, and the health officers' inputs. Every online verification and every staff read
of someone's health data is audited, and the audit write is part of the action."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
import jwt
import segno
from pydantic import BaseModel, Field
from starlette.responses import Response

from geo.access import Capability
from geo.citizen_enums import AppealStatus, Colour
from geo.queries import fetch
from geo.queries import health_appeals as appeals_q
from geo.services import health_code as hc
from geo.services import health_rules as rules
from geo.services.health_officers import audited
from mobile_api.contract import CITIZEN, PUBLIC, Body, Call, Endpoint, needs
from mobile_api.once import create_once
from server.kernel.auth.health_token import HealthTokens, InvalidHealthToken

VERIFIER = needs(Capability.VERIFY_HEALTH_CODES)
Symptom = Literal["cough", "sore_throat", "fatigue", "loss_of_smell", "breathlessness", "other"]


class RuleText(BaseModel):
    id: str
    colour: Colour
    text_zh: str
    text_en: str


class HealthCodeQuery(BaseModel):
    qr: Annotated[
        str,
        Field(pattern=r"^((svg|png)(,(svg|png))?)?$", description="QR images: svg, png, svg,png"),
    ] = ""


class HealthCode(BaseModel):
    colour: Colour
    reason: str
    rule: RuleText
    rule_version: str
    token: str = Field(description="ES256 JWT (≤ 5 min); verify offline with the JWKS")
    expires_at: datetime
    qr_svg: str | None = Field(default=None, description="The token as a QR code, SVG")
    qr_png: str | None = Field(default=None, description="The same as a PNG data: URI")


class DeclarationIn(Body):
    fever: bool
    symptoms: Annotated[list[Symptom], Field(default_factory=list, max_length=6)]
    contact_with_case: bool = False


class Created(BaseModel):
    id: int
    at: datetime


class CheckinIn(Body):
    venue_code: Annotated[str, Field(min_length=1, max_length=32)]


class Venue(BaseModel):
    code: str
    name_zh: str
    name_en: str


class Checkin(Created):
    venue: Venue


class AppealIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Appeal(BaseModel):
    id: int
    status: AppealStatus
    reason: str
    created_at: datetime
    decided_at: datetime | None = None
    decision_note: str | None = None
    corrected_colour: Colour | None = None
    override_until: datetime | None = None


class Appeals(BaseModel):
    items: list[Appeal]


class StatusChange(BaseModel):
    colour: Colour
    rule_version: str
    rule_id: str
    reason: str
    at: datetime


class Verified(BaseModel):
    at: datetime
    verifier: str = Field(description="Who verified (the verifier account's display name)")
    valid: bool
    colour: Colour | None


class History(BaseModel):
    changes: list[StatusChange]
    verifications: list[Verified]


class VerifyIn(Body):
    token: Annotated[str, Field(min_length=1, max_length=2000)]


class VerifyOut(BaseModel):
    valid: bool
    colour: Colour | None = Field(description="The colour the token states")
    current_colour: Colour | None = Field(description="The holder's colour now, if known")
    rule_version: str | None
    expires_at: datetime | None
    reason: str | None = Field(description="Why the token is not valid")


class RuleSet(BaseModel):
    version: str
    rules: list[RuleText]


def _signer(call: Call) -> HealthTokens:
    h = call.state.health
    return HealthTokens(call.state.tokens.keys, call.state.tokens.settings.issuer, h.audience,
                        h.token_ttl_s)  # fmt: skip


def _qr(token: str, kinds: set[str]) -> dict[str, str]:
    # A fixed mask skips segno's evaluation of all eight (most of its time); any mask scans.
    code = segno.make(token, error="m", mask=0, boost_error=False, mode="byte")
    out: dict[str, str] = {}
    if "svg" in kinds:
        out["qr_svg"] = code.svg_inline(scale=4, border=2)
    if "png" in kinds:
        buf = io.BytesIO()
        code.save(buf, kind="png", scale=4, border=2)
        out["qr_png"] = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return out


async def my_code(call: Call) -> HealthCode:
    async with call.state.pool.connection() as conn:
        decision, subject = await hc.current(
            conn, call.user_id, call.state.pseudonym_secret, call.state.health.audience
        )
    token, exp = _signer(call).issue(subject, decision.colour.value, decision.version)
    kinds = set(filter(None, call.query.qr.split(",")))
    images = await anyio.to_thread.run_sync(_qr, token, kinds) if kinds else {}
    r = decision.rule
    return HealthCode(
        colour=decision.colour, reason=decision.reason, rule_version=decision.version,
        rule=RuleText(id=r.id, colour=r.colour, text_zh=r.text_zh, text_en=r.text_en),
        token=token, expires_at=datetime.fromtimestamp(exp, UTC), **images,
    )  # fmt: skip


async def declare(call: Call) -> Response:
    body: DeclarationIn = call.body

    async def create(conn: Any) -> Created:
        row = await hc.declare(conn, call.user_id, body.fever, list(body.symptoms),
                               body.contact_with_case)  # fmt: skip
        return Created(**row)

    return await create_once(call, "declaration", body.model_dump(), create)


async def check_in(call: Call) -> Response:
    body: CheckinIn = call.body

    async def create(conn: Any) -> Checkin:
        return Checkin(**await hc.check_in(conn, call.user_id, body.venue_code))

    return await create_once(call, "checkin", body.model_dump(), create)


async def history(call: Call) -> History:
    async with call.state.pool.connection() as conn:
        return History.model_validate(await hc.history(conn, call.user_id))


async def appeal(call: Call) -> Response:
    body: AppealIn = call.body

    async def create(conn: Any) -> Appeal:
        return Appeal(**await hc.appeal(conn, call.user_id, body.reason), reason=body.reason)

    return await create_once(call, "appeal", body.model_dump(), create)


async def my_appeals(call: Call) -> Appeals:
    async with call.state.pool.connection() as conn:
        found = await fetch(conn, appeals_q.mine(call.user_id))
    return Appeals(items=[Appeal(**r) for r in found])


async def verify(call: Call) -> VerifyOut:
    """The verdict on a scanned token: any token — expired, forged, of another audience,
    garbage — gets one (valid false and why), never an error (docs/identity.md)."""
    token = call.body.token
    claims: dict[str, Any]
    try:
        claims, valid, reason = _signer(call).verify(token), True, None
    except InvalidHealthToken as exc:
        claims, valid, reason = exc.claims, False, exc.reason
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        # An expired token that is not a health code (an access token, another audience or
        # issuer) fails again when its claims are read leniently: it is just invalid.
        claims, valid, reason = {}, False, f"invalid: {type(exc).__name__}"
    raw_colour = claims.get("colour")
    colour = raw_colour if isinstance(raw_colour, str) and raw_colour in set(Colour) else None
    async with call.state.pool.connection() as conn, conn.transaction():
        user_id, now_colour = await hc.verification(
            conn, verifier_id=call.user_id, jti=_short(claims.get("jti")),
            subject=_short(claims.get("sub")), colour=colour, valid=valid, reason=reason,
        )  # fmt: skip
        await audited(
            conn,
            call.principal,
            "health_code.verify",
            "user",
            user_id,
            call.client_addr,
            {"valid": valid, "jti": _short(claims.get("jti"))},
        )
    return VerifyOut(
        valid=valid, colour=colour, current_colour=now_colour, reason=reason,
        rule_version=_short(claims.get("rv")), expires_at=_instant(claims.get("exp")),
    )  # fmt: skip


def _short(value: Any) -> str | None:
    """A claim as recorded and shown: text, at most 64 characters, no NUL (a token signed by
    the deployment still says only what its signer wrote, but the record must hold it)."""
    return value.replace("\x00", "")[:64] if isinstance(value, str) else None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):  # past the year 9999
        return None


async def published_rules(call: Call) -> RuleSet:
    return RuleSet(version=rules.VERSION,
                   rules=[RuleText.model_validate(r) for r in rules.published()])  # fmt: skip


endpoints = [
    Endpoint("GET", "/me/health-code", my_code, "My health code: colour, the rule that decided "
             "it, a signed token (≤ 5 min) and optionally its QR code", "health code", CITIZEN,
             query=HealthCodeQuery, response=HealthCode, operation_id="getMyHealthCode"),
    Endpoint("GET", "/me/health-code/history", history, "How my colour changed, and who "
             "verified my code when", "health code", CITIZEN, response=History,
             operation_id="getMyHealthCodeHistory"),
    Endpoint("POST", "/me/health-code/appeals", appeal, "Ask for a correction of my code",
             "health code", CITIZEN, body=AppealIn, status=201, response=Appeal,
             idempotent=True, operation_id="appealMyHealthCode",
             example={"reason": "我的核酸结果是阴性 My test result was negative"}),
    Endpoint("GET", "/me/health-code/appeals", my_appeals, "My correction requests",
             "health code", CITIZEN, response=Appeals, operation_id="listMyHealthCodeAppeals"),
    Endpoint("POST", "/me/declarations", declare, "Declare my health (fever, symptoms, "
             "contact)", "health code", CITIZEN, body=DeclarationIn, status=201,
             response=Created, idempotent=True, operation_id="declareMyHealth",
             example={"fever": False, "symptoms": ["cough"], "contact_with_case": False}),
    Endpoint("POST", "/me/checkins", check_in, "Check in at a venue by its facility code",
             "health code", CITIZEN, body=CheckinIn, status=201, response=Checkin,
             idempotent=True, operation_id="checkInAtVenue", example={"venue_code": "F0000042"}),
    Endpoint("GET", "/health-codes/rules", published_rules, "The rules in force and their "
             "version", "health code", PUBLIC, response=RuleSet,
             operation_id="getHealthCodeRules"),
    Endpoint("POST", "/health-codes/verify", verify, "Verify a scanned health-code token "
             "(audited)", "health code", VERIFIER, body=VerifyIn, response=VerifyOut,
             operation_id="verifyHealthCode", example={"token": "eyJhbGciOiJFUzI1NiIsImtpZCI6…"}),
]  # fmt: skip
