"""``/api/v1/auth/…`` and ``/api/v1/me``: one-time codes, tokens, refresh, logout, who am I."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel
from starlette.responses import Response

from geo.access import Jurisdiction
from geo.services import identity
from geo.services.identity import PHONE_PATTERN, UserRef
from mobile_api.contract import ANY_USER, PUBLIC, Body, Call, Endpoint

Phone = Annotated[str, Field(pattern=PHONE_PATTERN, examples=["13700000001"])]


class OtpRequest(Body):
    phone: Phone


class OtpSent(BaseModel):
    sent: bool = True
    expires_in: int = Field(description="Seconds the code stays valid.")


class OtpGrant(Body):
    grant_type: Literal["otp"]
    phone: Phone
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class PasswordGrant(Body):
    grant_type: Literal["password"]
    phone: Phone
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TokenRequest(
    RootModel[Annotated[OtpGrant | PasswordGrant, Field(discriminator="grant_type")]]
):
    """``{"grant_type": "otp", "phone", "code"}`` or ``{"grant_type": "password", …}``."""


class RefreshRequest(Body):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user_id: int
    roles: list[str]


class Me(BaseModel):
    id: int
    phone: str
    display_name: str
    roles: list[str]
    status: str
    department: str | None


async def request_code(call: Call) -> OtpSent:
    body: OtpRequest = call.body
    async with call.state.pool.connection() as conn:
        code, _ = await identity.request_code(
            conn, phone=body.phone, client_addr=call.client_addr,
            pepper=call.state.otp_pepper, limits=call.state.limits,
        )  # fmt: skip
    await call.state.sender.send(body.phone, code)
    return OtpSent(expires_in=call.state.limits.otp_ttl_s)


async def _pair(call: Call, user: UserRef, method: str) -> TokenPair:
    async with call.state.pool.connection() as conn:
        session = await identity.start_session(
            conn, user, call.state.limits, method=method, client_addr=call.client_addr
        )
        jurisdiction = await identity.jurisdiction_of(conn, user.id)
    return _issue(call, user, session, jurisdiction)


def _issue(
    call: Call, user: UserRef, session: identity.SessionTokens, jurisdiction: Jurisdiction
) -> TokenPair:
    tokens = call.state.tokens
    return TokenPair(
        access_token=tokens.issue_access(
            user.id, user.roles, jurisdiction=jurisdiction, sid=session.session_id
        ),
        expires_in=tokens.settings.access_ttl_s,
        refresh_token=session.refresh_token,
        refresh_expires_in=call.state.limits.refresh_ttl_s,
        user_id=user.id,
        roles=sorted(user.roles),
    )


async def token(call: Call) -> TokenPair:
    grant = call.body.root
    async with call.state.pool.connection() as conn:
        if isinstance(grant, OtpGrant):
            user = await identity.login_with_code(
                conn, phone=grant.phone, code=grant.code, client_addr=call.client_addr,
                pepper=call.state.otp_pepper, limits=call.state.limits,
            )  # fmt: skip
        else:
            user = await identity.login_with_password(
                conn, phone=grant.phone, password=grant.password,
                client_addr=call.client_addr, limits=call.state.limits,
            )  # fmt: skip
    return await _pair(call, user, "otp" if isinstance(grant, OtpGrant) else "password")


async def refresh(call: Call) -> TokenPair:
    async with call.state.pool.connection() as conn:
        user, session = await identity.rotate(conn, call.body.refresh_token, call.state.limits)
        jurisdiction = await identity.jurisdiction_of(conn, user.id)
    return _issue(call, user, session, jurisdiction)


async def logout(call: Call) -> Response:
    async with call.state.pool.connection() as conn:
        await identity.logout(conn, call.body.refresh_token, call.client_addr)
    return Response(status_code=204)


async def me(call: Call) -> Me:
    async with call.state.pool.connection() as conn:
        return Me(**await identity.profile(conn, call.user_id))


endpoints = [
    Endpoint("POST", "/auth/otp", request_code, "Send a one-time login code to a phone", "auth",
             PUBLIC, body=OtpRequest, status=202, response=OtpSent,
             operation_id="requestLoginCode", example={"phone": "13700000001"}),
    Endpoint("POST", "/auth/token", token, "Log in: a one-time code (citizens) or a password "
             "(staff) for an access and a refresh token", "auth", PUBLIC, body=TokenRequest,
             response=TokenPair, operation_id="logIn",
             example={"grant_type": "otp", "phone": "13700000001", "code": "123456"}),
    Endpoint("POST", "/auth/refresh", refresh, "Rotate a refresh token; reusing a rotated one "
             "revokes its whole session", "auth", PUBLIC, body=RefreshRequest, response=TokenPair,
             operation_id="refreshTokens", example={"refresh_token": "rt_3kq9…"}),
    Endpoint("POST", "/auth/logout", logout, "End the session of a refresh token", "auth",
             PUBLIC, body=RefreshRequest, status=204, operation_id="logOut",
             example={"refresh_token": "rt_3kq9…"}),
    Endpoint("GET", "/me", me, "Who I am", "me", ANY_USER, response=Me, operation_id="getMe"),
]  # fmt: skip
