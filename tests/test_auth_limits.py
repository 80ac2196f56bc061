"""Login and one-time-code limits under concurrency, and that nobody can turn them against an
account's owner: guesses fired at once against the real app (its pool wide enough to run them
side by side), counted as 401 (evaluated) and 429 (refused before anything was evaluated)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from geo.services import throttles
from geo.services.throttles import Limits
from server.app import create_app
from server.kernel.settings import AuthSettings, Settings
from tests.mobile_helpers import unique_phone

pytestmark = pytest.mark.anyio

OTP = "/api/v1/auth/otp"
TOKEN = "/api/v1/auth/token"  # noqa: S105 - a path
PASSWORD = "correct horse battery"  # noqa: S105 - a test account's
#: Slow back-off for the counting tests: a first wait of 60 s cannot run out while a burst of
#: requests is still arriving, so the counts are exact on a loaded machine too.
SLOW = {"login_backoff_base_s": 60.0, "otp_per_client": 8}

Client = Callable[[str], httpx.AsyncClient]
#: The test accounts' hashes are cheap to check (argon2 reads its cost from the hash): the
#: limits do not care, and two loaded CPUs would otherwise spend minutes on argon2.
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@contextlib.asynccontextmanager
async def _serving(settings: Settings, **auth: Any) -> AsyncIterator[Client]:
    """The app with its lifespan running, a pool that grows to run a burst of 20 side by side,
    and a factory of clients that each come from one address. (Not 32 connections held open:
    the suite runs in one worker per core, and two such apps with the other worker's servers
    exhausted PostgreSQL's 100 connections.)"""
    database = settings.database.model_copy(update={"pool_min_size": 4, "pool_max_size": 22})
    app: Starlette = create_app(
        settings.model_copy(update={"auth": AuthSettings(**auth), "database": database})
    )
    async with app.router.lifespan_context(app):

        def client(addr: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(addr, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://onemap.test")

        yield client


@pytest.fixture(scope="module")
async def serve(settings: Settings) -> AsyncIterator[Client]:
    async with _serving(settings, **SLOW) as client:
        yield client


def _accounts(database_url: str, n: int, role: str = "dispatcher") -> list[str]:
    phones = [unique_phone("1364") for _ in range(n)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO users (phone, display_name, roles, password_hash) VALUES (%s, %s, %s, %s)",
            [(phone, f"test {role}", [role], CHEAP_HASH) for phone in phones],
        )
    return phones


def _account(database_url: str, role: str = "dispatcher") -> str:
    return _accounts(database_url, 1, role)[0]


def _one(database_url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    return None if row is None else row[0] if len(row) == 1 else row


async def _guesses(client: httpx.AsyncClient, phones: list[str], password: str) -> list[Any]:
    """One password attempt per phone, all at once."""
    return list(await asyncio.gather(*(
        client.post(TOKEN, json={"grant_type": "password", "phone": p, "password": password})
        for p in phones
    )))  # fmt: skip


def _statuses(responses: list[Any]) -> dict[int, int]:
    found: dict[int, int] = {}
    for r in responses:
        found[r.status_code] = found.get(r.status_code, 0) + 1
    return found


def _refused_properly(responses: list[Any], longest: int) -> None:
    for r in responses:
        if r.status_code == 429:
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"] == "urn:onemap:problem:rate_limited"
            assert 0 < int(r.headers["retry-after"]) <= longest


async def test_32_concurrent_guesses_get_only_the_allowed_5_evaluated(
    serve: Client, database_url: str
) -> None:
    phone = _account(database_url)
    async with serve("10.77.0.1") as attacker:
        answers = await _guesses(attacker, [phone] * 32, "wrong")
    assert _statuses(answers) == {401: 5, 429: 27}
    _refused_properly(answers, 60)
    # Each evaluated guess left one failure row; the refused ones cost no argon2 and no row.
    assert _one(database_url, "SELECT count(*) FROM auth_failures WHERE phone = %s "
                "AND kind = 'password'", phone) == 5  # fmt: skip
    pair = f"login:pair:{phone}@10.77.0.1"
    assert _one(database_url, "SELECT failures FROM auth_throttles WHERE key = %s", pair) == 5


async def test_spraying_40_phones_from_one_address_is_throttled_after_20(
    serve: Client, database_url: str
) -> None:
    phones = _accounts(database_url, 40)
    async with serve("10.77.0.2") as sprayer:
        answers = await _guesses(sprayer, phones, "123456")
    assert _statuses(answers) == {401: 20, 429: 20}
    _refused_properly(answers, 60)
    assert _one(database_url, "SELECT count(*) FROM auth_failures WHERE phone = ANY(%s)",
                phones) == 20  # fmt: skip
    # Another address is not affected by this one's spraying.
    async with serve("10.77.0.3") as neighbour:
        assert _statuses(await _guesses(neighbour, phones[:3], "123456")) == {401: 3}


async def test_an_attacker_cannot_lock_the_admin_out(serve: Client, database_url: str) -> None:
    admin = _account(database_url, "admin")
    # A lone attacker at A: five guesses evaluated, then refused — A's own keys only.
    async with serve("10.77.1.1") as attacker:
        assert _statuses(await _guesses(attacker, [admin] * 32, "wrong")) == {401: 5, 429: 27}
        assert _statuses(await _guesses(attacker, [admin], PASSWORD)) == {429: 1}
    # The admin at B, never seen before, logs in at once: B's keys are untouched and one
    # address cannot bring the account key (30) near its threshold.
    async with serve("10.77.1.2") as office:
        assert _statuses(await _guesses(office, [admin], PASSWORD)) == {200: 1}
    # A distributed attack: seven more addresses, five guesses each, push the account key
    # past 30 — it now makes unvouched addresses wait, briefly (≤ 60 s, not 15 minutes).
    for n in range(7):
        async with serve(f"10.77.2.{n}") as bot:
            await _guesses(bot, [admin] * 5, "wrong")
    assert _one(database_url, "SELECT failures FROM auth_throttles WHERE key = %s",
                f"login:acct:{admin}") >= 30  # fmt: skip
    async with serve("10.77.1.3") as hotel:
        slowed = await _guesses(hotel, [admin], PASSWORD)
    assert _statuses(slowed) == {429: 1}
    assert 0 < int(slowed[0].headers["retry-after"]) <= 60
    # B logged in before: its success vouches for it, and the account key does not apply there.
    async with serve("10.77.1.2") as office:
        assert _statuses(await _guesses(office, [admin], PASSWORD)) == {200: 1}


def _unblock(database_url: str, key: str, failures: int | None = None) -> None:
    """As if the key's wait had run out (and, given ``failures``, that many had been charged)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE auth_throttles SET blocked_until = now(), "
            "failures = coalesce(%s, failures) WHERE key = %s",
            (failures, key),
        )


def _wait_set(database_url: str, key: str) -> float:
    """The wait the key's last charge set, in seconds (both times are that charge's now())."""
    return float(_one(database_url, "SELECT extract(epoch FROM blocked_until - updated_at) "
                      "FROM auth_throttles WHERE key = %s", key))  # fmt: skip


async def test_back_off_doubles_to_its_cap_and_retry_after_tells_the_truth(
    serve: Client, database_url: str
) -> None:
    """With a first wait of 60 s (the default is 1 s: 1, 2, 4 … s): 60, 120, 240, 480, then the
    15-minute cap. Time is moved on in the database rather than waited for."""
    phone = _account(database_url)
    addr = "10.77.3.1"
    pair = f"login:pair:{phone}@{addr}"
    wrong = {"grant_type": "password", "phone": phone, "password": "wrong"}
    waits, said = [], []
    async with serve(addr) as c:
        assert [(await c.post(TOKEN, json=wrong)).status_code for _ in range(5)] == [401] * 5
        for _ in range(6):
            waits.append(_wait_set(database_url, pair))
            refused = await c.post(TOKEN, json=wrong)
            assert refused.status_code == 429
            said.append(int(refused.headers["retry-after"]))
            _unblock(database_url, pair)
            assert (await c.post(TOKEN, json=wrong)).status_code == 401
        assert waits == [60, 120, 240, 480, 900, 900]
        # Retry-After is what is left of the wait, rounded up (a loaded machine: a few s less).
        assert all(w - 5 <= s <= w for w, s in zip(waits, said, strict=True)), (waits, said)
        # However many failures, the wait stays at the cap.
        _unblock(database_url, pair, failures=100)
        assert (await c.post(TOKEN, json=wrong)).status_code == 401
        assert _wait_set(database_url, pair) == 900
        # Retry-After is never early: wait what it says and the next guess is evaluated.
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE auth_throttles SET blocked_until = clock_timestamp() "
                         "+ interval '1.5 s' WHERE key = %s", (pair,))  # fmt: skip
        refused = await c.post(TOKEN, json=wrong)
        assert refused.status_code == 429 and refused.headers["retry-after"] in ("1", "2")
        await asyncio.sleep(int(refused.headers["retry-after"]))
        assert (await c.post(TOKEN, json=wrong)).status_code == 401
        # The right password once the wait is over: in, and the pair starts afresh.
        _unblock(database_url, pair)
        right = {"grant_type": "password", "phone": phone, "password": PASSWORD}
        assert (await c.post(TOKEN, json=right)).status_code == 200
    row = _one(database_url, "SELECT failures, blocked_until, succeeded_at IS NOT NULL "
               "FROM auth_throttles WHERE key = %s", pair)  # fmt: skip
    assert row == (0, None, True)
    # The success gave its charge back to the address and account keys: 13 failures, not 14.
    for key in (f"login:acct:{phone}", f"login:addr:{addr}"):
        assert _one(database_url, "SELECT failures FROM auth_throttles WHERE key = %s", key) == 13


async def test_the_default_first_wait_is_one_second(settings: Settings, database_url: str) -> None:
    phone = _account(database_url)
    async with _serving(settings) as serve, serve("10.77.3.2") as c:
        wrong = {"grant_type": "password", "phone": phone, "password": "wrong"}
        assert [(await c.post(TOKEN, json=wrong)).status_code for _ in range(5)] == [401] * 5
    assert _wait_set(database_url, f"login:pair:{phone}@10.77.3.2") == 1
    assert _one(database_url, "SELECT blocked_until FROM auth_throttles WHERE key = %s",
                f"login:acct:{phone}") is None  # fmt: skip


def _codes(caplog: pytest.LogCaptureFixture, phone: str) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "onemap.otp"]
    return [m.split(": ")[1][:6] for m in lines if f"****{phone[-4:]}:" in m]


async def test_otp_limits_hold_under_20_concurrent_requests(
    serve: Client, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    phone = unique_phone("1367")
    with caplog.at_level(logging.WARNING, logger="onemap.otp"):
        async with serve("10.77.4.1") as c:
            sent = await asyncio.gather(*(c.post(OTP, json={"phone": phone}) for _ in range(20)))
        # One address, twenty phones at once: its quota (8 in these settings) holds.
        phones = [unique_phone("1367") for _ in range(20)]
        async with serve("10.77.4.2") as c:
            spread = await asyncio.gather(*(c.post(OTP, json={"phone": p}) for p in phones))
    assert _statuses(list(sent)) == {202: 3, 429: 17}
    _refused_properly(list(sent), 900)
    assert _one(database_url, "SELECT count(*) FROM otp_codes WHERE phone = %s", phone) == 3
    assert _statuses(list(spread)) == {202: 8, 429: 12}
    assert _one(database_url, "SELECT count(*) FROM otp_codes WHERE client_addr = %s",
                "10.77.4.2") == 8  # fmt: skip

    # Twenty wrong codes at once: five are evaluated; then even the right code waits.
    real = _codes(caplog, phone)
    assert len(real) == 3
    wrong = [f"{n:06d}" for n in range(100) if f"{n:06d}" not in real][:20]
    async with serve("10.77.4.3") as c:
        tried = await asyncio.gather(*(
            c.post(TOKEN, json={"grant_type": "otp", "phone": phone, "code": w}) for w in wrong
        ))  # fmt: skip
        assert _statuses(list(tried)) == {401: 5, 429: 15}
        late = await c.post(TOKEN, json={"grant_type": "otp", "phone": phone, "code": real[-1]})
    assert late.status_code == 429 and 0 < int(late.headers["retry-after"]) <= 900
    assert _one(database_url, "SELECT count(*) FROM auth_failures WHERE phone = %s "
                "AND kind = 'otp'", phone) == 5  # fmt: skip


async def test_a_right_code_gives_its_charge_back(
    serve: Client, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    phone = unique_phone("1368")
    async with serve("10.77.5.1") as c:
        with caplog.at_level(logging.WARNING, logger="onemap.otp"):
            assert (await c.post(OTP, json={"phone": phone})).status_code == 202
        code = _codes(caplog, phone)[-1]
        other = "000000" if code != "000000" else "000001"
        attempt = {"grant_type": "otp", "phone": phone}
        assert (await c.post(TOKEN, json={**attempt, "code": other})).status_code == 401
        assert (await c.post(TOKEN, json={**attempt, "code": code})).status_code == 200
    key = f"otp-code:phone:{phone}"
    assert _one(database_url, "SELECT failures FROM auth_throttles WHERE key = %s", key) == 1


def test_addresses_are_counted_by_subscriber() -> None:
    """An IPv6 client is counted by its /64 — one subscriber could otherwise rotate through
    2^64 addresses — and an IPv4-mapped address as the IPv4 one."""
    assert throttles.address("2001:db8:1:2::1") == throttles.address("2001:db8:1:2:ffff::9")
    assert throttles.address("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert throttles.address("2001:db8:1:3::1") != throttles.address("2001:db8:1:2::1")
    assert throttles.address("::ffff:10.0.0.7") == "10.0.0.7"
    assert throttles.address("10.0.0.7") == "10.0.0.7"
    assert throttles.address(None) == "-"
    assert throttles.address("testclient") == "testclient"


def _densest(free: int, base: float, cap: float, span: float) -> int:
    """The most attempts one quiet-restart back-off key lets through within ``span`` seconds:
    its waits never shrink, so the densest stretch is the start of a run, and a run restarts
    only after a whole window of quiet."""
    at, n, wait = 0.0, 0, 0.0
    while at + wait <= span:
        at += wait
        n += 1
        wait = min(cap, base * 2 ** (n - free)) if n >= free else 0.0
    return n


def test_one_address_cannot_reach_the_account_threshold() -> None:
    """docs/identity.md's argument, with the defaults: one address gets at most 17 guesses at
    one account into any hour (the account key's window), fewer than its 30."""
    limits = Limits()
    most = _densest(limits.login_max_failures, limits.login_backoff_base_s,
                    limits.login_backoff_cap_s, limits.login_window_s)  # fmt: skip
    assert most == 17 < limits.login_account_max_failures
    # And a spray from one address: 20 free, then 1, 2, 4 … s — 32 guesses in an hour.
    assert _densest(limits.login_client_max_failures, limits.login_backoff_base_s,
                    limits.login_backoff_cap_s, limits.login_window_s) == 32  # fmt: skip
    # The account key: 30 free per hour, then waits capped at 60 s — at most slowed.
    assert limits.login_account_backoff_cap_s == 60


@pytest.fixture
def stale_keys(database_url: str) -> Iterator[list[str]]:
    keys = [f"login:test-purge:{unique_phone()}" for _ in range(3)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for key, age, trusted in zip(keys, ("2 hours", "2 hours", "1 minute"),
                                     (None, "1 day", None), strict=True):  # fmt: skip
            conn.execute(
                "INSERT INTO auth_throttles (key, failures, window_started, updated_at, "
                "succeeded_at) VALUES (%s, 3, now() - %s::interval, now() - %s::interval, "
                "now() - %s::interval)",
                (key, age, age, trusted),
            )
    yield keys
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM auth_throttles WHERE key = ANY(%s)", (keys,))


async def test_stale_keys_are_purged_but_vouching_ones_kept(
    pool: Any, stale_keys: list[str], database_url: str
) -> None:
    async with pool.connection() as conn:
        await throttles.purge(conn, "login", 3_600, 30 * 86_400)
    left = _one(database_url, "SELECT array_agg(key ORDER BY key) FROM auth_throttles "
                "WHERE key = ANY(%s)", stale_keys)  # fmt: skip
    assert left == sorted(stale_keys[1:])
