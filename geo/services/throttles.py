"""Abuse limits held in the database: one row per key in ``auth_throttles``.

An attempt is *charged* against each of its keys before the secret is evaluated, in one
transaction, one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per key: the statement takes the
key's row lock, so concurrent attempts queue on it and each sees the count the one before left.
N guesses at once can never get more than a key allows evaluated. If any key is blocked the
transaction rolls back (a refused attempt costs nothing anywhere) and ``RateLimited`` says how
long the longest block lasts. A success gives its charge back (``release``); a failure keeps it.

A key has a policy: ``free`` attempts, then either a back-off (the wait after the ``free``-th
attempt is ``base_s``, doubling with each further one, capped at ``cap_s``) or, for a quota
(``cap_s`` None), a block until its window ends. The count restarts ``window_s`` after the
window's first attempt, or (``quiet``) once the key has seen no attempt for ``window_s`` after
its last block ended — a patient attacker stays at the cap. The numbers, and why nobody can
lock an account out from another address: docs/identity.md.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from geo.citizen_errors import RateLimited


@dataclass(frozen=True)
class Policy:
    free: int
    window_s: float
    cap_s: float | None = None  # the back-off's cap; None: a quota, blocked until the window ends
    base_s: float = 1.0
    quiet: bool = False


@dataclass(frozen=True)
class Charge:
    key: str
    policy: Policy


@dataclass(frozen=True)
class Ticket:
    """The keys one attempt was charged against; ``release`` them when it succeeds."""

    charges: tuple[Charge, ...]
    #: The first key is the (account, address) pair: a success resets it and marks the pair
    #: as trusted rather than only giving the charge back.
    reset_first: bool = False


@dataclass(frozen=True)
class Limits:
    """Identity's limits (``ONEMAP_AUTH_…``; the numbers are argued in docs/identity.md)."""

    otp_ttl_s: int = 300
    window_s: int = 900
    per_phone: int = 3
    per_client: int = 20
    max_attempts: int = 5
    client_max_attempts: int = 20
    login_max_failures: int = 5
    login_client_max_failures: int = 20
    login_account_max_failures: int = 30
    login_window_s: int = 3_600
    login_backoff_base_s: float = 1.0
    login_backoff_cap_s: int = 900
    login_account_backoff_cap_s: int = 60
    login_trusted_s: int = 30 * 86_400
    refresh_ttl_s: int = 30 * 86_400


_WINDOW = "make_interval(secs => %(window)s::float8)"
_RESTART = (
    f"CASE WHEN %(quiet)s THEN greatest(t.updated_at, t.blocked_until) < now() - {_WINDOW} "
    f"ELSE t.window_started <= now() - {_WINDOW} END"
)
_N = f"(CASE WHEN {_RESTART} THEN 1 ELSE t.failures + 1 END)"
_STARTED = f"(CASE WHEN {_RESTART} THEN now() ELSE t.window_started END)"


def _block(n: str, started: str) -> str:
    """When the attempt that makes the count ``n`` blocks the key until (NULL: it does not)."""
    return (
        f"CASE WHEN {n} < %(free)s THEN NULL "
        f"WHEN %(cap)s::float8 IS NULL THEN {started} + {_WINDOW} "
        f"ELSE now() + make_interval(secs => least(%(cap)s::float8, "
        f"%(base)s::float8 * 2 ^ least({n} - %(free)s, 30))) END"
    )


#: One attempt charged against one key, unless the key is blocked (then no row comes back, and
#: the row stays locked until the transaction ends).
CHARGE = (
    "INSERT INTO auth_throttles AS t (key, failures, window_started, blocked_until, updated_at) "  # noqa: S608 (only module constants are interpolated)
    f"VALUES (%(key)s, 1, now(), {_block('1', 'now()')}, now()) "
    f"ON CONFLICT (key) DO UPDATE SET failures = {_N}, window_started = {_STARTED}, "
    f"blocked_until = {_block(_N, _STARTED)}, updated_at = now() "
    "WHERE t.blocked_until IS NULL OR t.blocked_until <= now() "
    "RETURNING t.succeeded_at > now() - make_interval(secs => %(trusted)s::float8)"
)
#: How long a blocked key still waits, from the clock (now() is when this transaction began,
#: perhaps before it queued behind the one that set the block).
BLOCKED_FOR = (
    "SELECT greatest(1, ceil(extract(epoch FROM blocked_until - clock_timestamp())))::int, "
    "coalesce(succeeded_at > now() - make_interval(secs => %(trusted)s::float8), false) "
    "FROM auth_throttles WHERE key = %(key)s"
)
REFUND = (
    "UPDATE auth_throttles SET failures = greatest(failures - 1, 0), "
    "blocked_until = CASE WHEN failures - 1 < %(free)s THEN NULL ELSE blocked_until END, "
    "updated_at = now() WHERE key = %(key)s"
)
RESET = (
    "UPDATE auth_throttles SET failures = 0, blocked_until = NULL, window_started = now(), "
    "succeeded_at = now(), updated_at = now() WHERE key = %(key)s"
)
#: Rows whose count would restart anyway, that block nothing and vouch for no address.
PURGE = (
    "DELETE FROM auth_throttles WHERE key IN (SELECT key FROM auth_throttles "
    "WHERE key LIKE %(kind)s AND greatest(updated_at, blocked_until) "
    "< now() - make_interval(secs => %(age)s::float8) AND (succeeded_at IS NULL "
    "OR succeeded_at < now() - make_interval(secs => %(trusted)s::float8)) LIMIT 1000)"
)
#: One reservation in this many also clears stale rows (an attacker spraying phones makes rows).
PURGE_ONE_IN = 200


async def reserve(
    conn: AsyncConnection[Any],
    charges: Sequence[Charge],
    *,
    message: str,
    trusted_s: float = 0,
    reset_first: bool = False,
) -> Ticket:
    """Charge one attempt against each key, in the order given (every caller orders its key
    kinds the same way, so the row locks cannot deadlock). When ``trusted_s`` is set and the
    first key saw a success within it, the other keys are neither charged nor consulted.
    Raises ``RateLimited`` (nothing charged) when a key is blocked. Inside a caller's
    transaction the rows stay locked until it ends."""
    waits: list[int] = []
    charged: list[Charge] = []
    async with conn.transaction():
        for i, charge in enumerate(charges):
            p = charge.policy
            params = {"key": charge.key, "free": p.free, "window": p.window_s, "cap": p.cap_s,
                      "base": p.base_s, "quiet": p.quiet, "trusted": trusted_s}  # fmt: skip
            row = await (await conn.execute(CHARGE, params)).fetchone()
            if row is None:
                blocked = await (await conn.execute(BLOCKED_FOR, params)).fetchone()
                assert blocked is not None
                waits.append(int(blocked[0]))
                trusted = bool(blocked[1])
            else:
                charged.append(charge)
                trusted = bool(row[0])
            if i == 0 and trusted_s and trusted:
                break
        if waits:
            wait = max(waits)
            raise RateLimited(f"{message}; try again in {wait} s.", wait)
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        kind = charges[0].key.split(":", 1)[0]
        await purge(conn, kind, max(c.policy.window_s for c in charges), trusted_s)
    return Ticket(tuple(charged), reset_first)


async def release(conn: AsyncConnection[Any], ticket: Ticket) -> None:
    """The attempt succeeded: its charges are given back (the pair key is reset)."""
    async with conn.transaction():
        for i, charge in enumerate(ticket.charges):
            reset = i == 0 and ticket.reset_first
            await conn.execute(
                RESET if reset else REFUND, {"key": charge.key, "free": charge.policy.free}
            )


async def purge(conn: AsyncConnection[Any], kind: str, age_s: float, trusted_s: float) -> None:
    """Delete up to 1,000 stale rows of one kind of key (``login``, ``otp-send``, …): every
    key of a kind has the same window, ``age_s``."""
    async with conn.transaction():
        await conn.execute(PURGE, {"kind": f"{kind}:%", "age": age_s, "trusted": trusted_s})


def address(client_addr: str | None) -> str:
    """The client address a key counts: an IPv6 address by its /64 (one subscriber's
    allocation, or anyone could rotate through 2^64 addresses), an IPv4-mapped one as IPv4."""
    if not client_addr:
        return "-"
    try:
        ip = ipaddress.ip_address(client_addr)
    except ValueError:
        return client_addr
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def login_charges(limits: Limits, phone: str, client_addr: str | None) -> list[Charge]:
    """A password attempt: per (account, address), per address, per account — in that order."""
    addr = address(client_addr)
    base = limits.login_backoff_base_s
    window = limits.login_window_s
    return [
        Charge(f"login:pair:{phone}@{addr}", Policy(limits.login_max_failures, window,
               limits.login_backoff_cap_s, base, quiet=True)),
        Charge(f"login:addr:{addr}", Policy(limits.login_client_max_failures, window,
               limits.login_backoff_cap_s, base, quiet=True)),
        Charge(f"login:acct:{phone}", Policy(limits.login_account_max_failures, window,
               limits.login_account_backoff_cap_s, base)),
    ]  # fmt: skip


def otp_send_charges(limits: Limits, phone: str, client_addr: str | None) -> list[Charge]:
    """A code sent: a quota per phone and per address."""
    return [
        Charge(f"otp-send:phone:{phone}", Policy(limits.per_phone, limits.window_s)),
        Charge(f"otp-send:addr:{address(client_addr)}", Policy(limits.per_client, limits.window_s)),
    ]


def otp_code_charges(limits: Limits, phone: str, client_addr: str | None) -> list[Charge]:
    """A code tried: a quota of wrong codes per phone and per address."""
    return [
        Charge(f"otp-code:phone:{phone}", Policy(limits.max_attempts, limits.window_s)),
        Charge(f"otp-code:addr:{address(client_addr)}",
               Policy(limits.client_max_attempts, limits.window_s)),
    ]  # fmt: skip
