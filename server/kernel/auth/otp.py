"""Delivering one-time login codes. The sender is pluggable; the development sender writes the
code to the log (masked phone, never in production: an SMS gateway sender replaces it)."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("onemap.otp")


class OtpSender(Protocol):
    async def send(self, phone: str, code: str) -> None: ...


def masked(phone: str) -> str:
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:]


class LogSender:
    """Development only: the code goes to the log, where the developer reads it."""

    async def send(self, phone: str, code: str) -> None:
        log.warning("one-time code for %s: %s (development sender)", masked(phone), code,
                    extra={"phone_masked": masked(phone), "otp_code": code})  # fmt: skip


def sender_for(name: str) -> OtpSender:
    if name == "log":
        return LogSender()
    raise ValueError(f"unknown OTP sender {name!r}")
