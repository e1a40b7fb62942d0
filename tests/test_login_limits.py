"""Failed logins are limited per email and per client address (429).

Passwords here are hashed with a cheap Argon2 (and the unknown-email
dummy hash too), counted, so that a test can make dozens of failed logins
in milliseconds and tell whether a refused login spent a hash.
"""

import asyncio
import time
from contextlib import ExitStack
from http import HTTPStatus

import pytest
import pytest_asyncio
from fastapi.testclient import TestClient
from httpx2 import ASGITransport, AsyncClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from fast_zero import hashing, login_limits, security
from fast_zero.app import app
from fast_zero.database import build_engine, get_session
from fast_zero.hashing import HashingPool
from fast_zero.models import table_registry
from fast_zero.settings import settings
from tests.helpers import assert_token_answer, login, serve_sessions_from

TOO_MANY = {'detail': 'Too many login attempts'}
INCORRECT_LOGIN = {'detail': 'Incorrect email or password'}
WRONG_PASSWORD = 'wrong-password'
MINUTE_SECONDS = 60
CONCURRENT_GUESSES = 12


class CountingHash:
    """A cheap Argon2 PasswordHash that counts hashes and verifications."""

    def __init__(self):
        self.wrapped = PasswordHash((
            Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),
        ))
        self.calls = 0

    def hash(self, password):
        self.calls += 1
        return self.wrapped.hash(password)

    def verify(self, password, hashed):
        self.calls += 1
        return self.wrapped.verify(password, hashed)

    def verify_and_update(self, password, hashed):
        self.calls += 1
        return self.wrapped.verify_and_update(password, hashed)


@pytest.fixture(autouse=True)
def counting_hash(monkeypatch):
    counter = CountingHash()
    monkeypatch.setattr(security, 'password_hash', counter)
    monkeypatch.setattr(
        'fast_zero.routers.auth.DUMMY_PASSWORD_HASH',
        counter.wrapped.hash('dummy'),
    )
    return counter


@pytest.fixture
def set_login_limits(monkeypatch):
    """Change the limit settings and rebuild the limiter from them."""

    def set_limits(**limits):
        for name, value in limits.items():
            monkeypatch.setattr(settings, name, value)
        monkeypatch.setattr(
            login_limits, 'login_limiter', login_limits.build_login_limiter()
        )

    return set_limits


class ShiftedClock:
    """The wall clock, `shift` seconds ahead."""

    def __init__(self):
        self.shift = 0

    def time(self):
        return time.time() + self.shift


@pytest.fixture
def clock(monkeypatch):
    """Move the clock of the limits' memory storage (and of Retry-After)."""
    shifted = ShiftedClock()
    monkeypatch.setattr('limits.aio.storage.memory.time', shifted)
    monkeypatch.setattr('fast_zero.login_limits.time', shifted)
    return shifted


@pytest.fixture
def client_behind(session):
    """A client whose requests pass uvicorn's proxy-header handling, as
    `uvicorn --forwarded-allow-ips=<trusted>` does; its peer address is
    `testclient`."""
    with ExitStack() as clients:

        def make_client(trusted):
            proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
            return clients.enter_context(TestClient(proxied))

        app.dependency_overrides[get_session] = lambda: session
        yield make_client
    app.dependency_overrides.clear()


@pytest_asyncio.fixture
async def file_client(tmp_path):
    """The app on a SQLite file with a session per request, as in
    production, so that logins can run concurrently."""
    engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "database.db"}')
    async with engine.begin() as connection:
        await connection.run_sync(table_registry.metadata.create_all)
    serve_sessions_from(engine)
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url='http://test'
    ) as client:
        yield client
    app.dependency_overrides.clear()
    await engine.dispose()


def fail_logins(client, email, times, **request):
    """`times` logins with a wrong password; their status codes."""
    return [
        login(client, email, WRONG_PASSWORD, **request).status_code
        for _ in range(times)
    ]


def assert_too_many(response, *, within_seconds=MINUTE_SECONDS):
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response.json() == TOO_MANY
    retry_after = response.headers['Retry-After']
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= within_seconds


# Per email


def test_sixth_failed_login_for_an_email_returns_429_without_hashing(
    client, user, counting_hash
):
    failures = fail_logins(client, user.email, 5)
    hashes_before = counting_hash.calls

    refused = login(client, user.email, user.clean_password)

    assert failures == [HTTPStatus.UNAUTHORIZED] * 5
    assert_too_many(refused)
    assert counting_hash.calls == hashes_before


@pytest.mark.asyncio
async def test_concurrent_guesses_at_one_email_get_only_the_limit_through(
    file_client, monkeypatch
):
    """Each attempt counts when it starts, not when its hash fails."""
    roomy_pool = HashingPool(threads=1, queue_size=CONCURRENT_GUESSES)
    monkeypatch.setattr(hashing, 'hashing_pool', roomy_pool)
    try:
        responses = await asyncio.gather(*[
            login(file_client, 'alice@example.com', WRONG_PASSWORD)
            for _ in range(CONCURRENT_GUESSES)
        ])
    finally:
        roomy_pool.shutdown()

    assert sorted(response.status_code for response in responses) == [
        HTTPStatus.UNAUTHORIZED
    ] * 5 + [HTTPStatus.TOO_MANY_REQUESTS] * (CONCURRENT_GUESSES - 5)
    bodies = {
        HTTPStatus.UNAUTHORIZED: INCORRECT_LOGIN,
        HTTPStatus.TOO_MANY_REQUESTS: TOO_MANY,
    }
    for response in responses:
        assert response.json() == bodies[response.status_code]


def test_email_limit_counts_the_email_in_any_case(client, user):
    failures = [
        login(client, email, WRONG_PASSWORD).status_code
        for email in (
            user.email.upper(),
            user.email.title(),
            user.email,
            user.email.upper(),
            user.email.swapcase(),
        )
    ]

    refused = login(client, user.email.lower(), user.clean_password)

    assert failures == [HTTPStatus.UNAUTHORIZED] * 5
    assert_too_many(refused)


def test_email_limit_leaves_other_emails_alone(client, user, other_user):
    fail_logins(client, user.email, 5)

    other = login(client, other_user.email, other_user.clean_password)

    assert_token_answer(other)


def test_successful_login_resets_the_email_counter(client, user):
    before = fail_logins(client, user.email, 4)
    success = login(client, user.email, user.clean_password)
    after = fail_logins(client, user.email, 5)

    refused = login(client, user.email, user.clean_password)

    assert before == [HTTPStatus.UNAUTHORIZED] * 4
    assert_token_answer(success)
    assert after == [HTTPStatus.UNAUTHORIZED] * 5
    assert_too_many(refused)


def test_overlong_passwords_count_as_failed_logins(client, user):
    overlong = 'x' * (settings.PASSWORD_MAX_LENGTH + 1)
    failures = [
        login(client, user.email, overlong).status_code for _ in range(5)
    ]

    refused = login(client, user.email, user.clean_password)

    assert failures == [HTTPStatus.UNAUTHORIZED] * 5
    assert_too_many(refused)


def test_retry_after_counts_down_to_when_the_window_frees_a_slot(
    client, user, clock
):
    fail_logins(client, user.email, 5)
    clock.shift = 45

    refused = login(client, user.email, user.clean_password)

    assert_too_many(refused)
    assert refused.headers['Retry-After'] == str(MINUTE_SECONDS - 45)


def test_logins_work_again_once_the_window_has_passed(client, user, clock):
    fail_logins(client, user.email, 5)
    refused = login(client, user.email, user.clean_password)
    clock.shift = MINUTE_SECONDS + 1

    accepted = login(client, user.email, user.clean_password)

    assert_too_many(refused)
    assert_token_answer(accepted)


def test_empty_email_limit_disables_it(client, user, set_login_limits):
    set_login_limits(LOGIN_RATE_LIMIT_PER_EMAIL='')

    failures = fail_logins(client, user.email, 10)
    accepted = login(client, user.email, user.clean_password)

    assert failures == [HTTPStatus.UNAUTHORIZED] * 10
    assert_token_answer(accepted)


# Per client address


def test_failed_logins_from_one_address_across_emails_return_429(
    client, user, set_login_limits, counting_hash
):
    set_login_limits(LOGIN_RATE_LIMIT_PER_ADDRESS='3/minute')
    failures = [
        login(client, f'stranger{number}@example.com', WRONG_PASSWORD)
        for number in range(3)
    ]
    hashes_before = counting_hash.calls

    refused = login(client, user.email, user.clean_password)

    assert [response.json() for response in failures] == [INCORRECT_LOGIN] * 3
    assert_too_many(refused)
    assert counting_hash.calls == hashes_before


def test_successful_logins_do_not_count_against_the_address(
    client, user, set_login_limits
):
    set_login_limits(LOGIN_RATE_LIMIT_PER_ADDRESS='3/minute')

    responses = [
        login(client, user.email, user.clean_password) for _ in range(4)
    ]

    for response in responses:
        assert_token_answer(response)


def test_empty_address_limit_disables_it(client, user, set_login_limits):
    set_login_limits(LOGIN_RATE_LIMIT_PER_ADDRESS='')

    failures = [
        login(client, f'stranger{number}@example.com', WRONG_PASSWORD)
        for number in range(31)
    ]
    accepted = login(client, user.email, user.clean_password)

    assert [response.status_code for response in failures] == [
        HTTPStatus.UNAUTHORIZED
    ] * 31
    assert_token_answer(accepted)


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    client_behind, user, set_login_limits
):
    set_login_limits(LOGIN_RATE_LIMIT_PER_ADDRESS='3/minute')
    client = client_behind(trusted='10.0.0.1')
    failures = [
        login(
            client,
            f'stranger{number}@example.com',
            WRONG_PASSWORD,
            headers={'X-Forwarded-For': f'203.0.113.{number}'},
        ).status_code
        for number in range(3)
    ]

    refused = login(
        client,
        user.email,
        user.clean_password,
        headers={'X-Forwarded-For': '203.0.113.99'},
    )

    assert failures == [HTTPStatus.UNAUTHORIZED] * 3
    assert_too_many(refused)


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    client_behind, user, set_login_limits
):
    set_login_limits(LOGIN_RATE_LIMIT_PER_ADDRESS='3/minute')
    client = client_behind(trusted='testclient')
    attacker = {'X-Forwarded-For': '203.0.113.1'}
    neighbour = {'X-Forwarded-For': '203.0.113.2'}
    failures = [
        login(
            client,
            f'stranger{number}@example.com',
            WRONG_PASSWORD,
            headers=attacker,
        ).status_code
        for number in range(3)
    ]

    refused = login(client, user.email, user.clean_password, headers=attacker)
    accepted = login(
        client, user.email, user.clean_password, headers=neighbour
    )

    assert failures == [HTTPStatus.UNAUTHORIZED] * 3
    assert_too_many(refused)
    assert_token_answer(accepted)


@pytest.mark.asyncio
async def test_without_a_peer_address_only_the_email_limit_applies(
    session, user, set_login_limits
):
    """A unix socket has no peer address: no address limit to share."""
    set_login_limits(LOGIN_RATE_LIMIT_PER_ADDRESS='3/minute')
    app.dependency_overrides[get_session] = lambda: session
    try:
        async with AsyncClient(
            transport=ASGITransport(app=app, client=None),
            base_url='http://test',
        ) as client:
            strangers = [
                await login(
                    client, f'stranger{number}@example.com', WRONG_PASSWORD
                )
                for number in range(5)
            ]
            failures = [
                await login(client, user.email, WRONG_PASSWORD)
                for _ in range(5)
            ]
            refused = await login(client, user.email, user.clean_password)
    finally:
        app.dependency_overrides.clear()

    responses = strangers + failures
    assert [r.status_code for r in responses] == [HTTPStatus.UNAUTHORIZED] * 10
    assert_too_many(refused)


def test_login_documents_429(client):
    paths = client.get('/openapi.json').json()['paths']

    too_many = paths['/auth/token']['post']['responses']['429']

    assert too_many['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/ErrorMessage'
    }


# A deactivated account's right password: 403, counted as a failure


@pytest.mark.asyncio
async def test_inactive_users_logins_do_not_reset_the_email_counter(
    client, session, user
):
    user.is_active = False
    await session.commit()
    failures = fail_logins(client, user.email, 4)
    inactive = login(client, user.email, user.clean_password)

    refused = login(client, user.email, user.clean_password)

    assert failures == [HTTPStatus.UNAUTHORIZED] * 4
    assert inactive.status_code == HTTPStatus.FORBIDDEN
    assert inactive.json() == {'detail': 'Inactive user'}
    assert_too_many(refused)


@pytest.mark.asyncio
async def test_inactive_users_logins_count_against_the_address(
    client, session, user, other_user, set_login_limits
):
    set_login_limits(LOGIN_RATE_LIMIT_PER_ADDRESS='3/minute')
    user.is_active = False
    await session.commit()
    inactive = [
        login(client, user.email, user.clean_password).status_code
        for _ in range(3)
    ]

    refused = login(client, other_user.email, other_user.clean_password)

    assert inactive == [HTTPStatus.FORBIDDEN] * 3
    assert_too_many(refused)
