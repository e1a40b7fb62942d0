"""The hashing pool admits its threads plus a short queue, then answers 503.

Every route that hashes a password (sign-up, login, password change, PUT
of a user) goes through one bounded pool. These tests shrink it to one
thread, keep that thread busy with a job blocked on an event, and always
release the event in `finally`.
"""

import asyncio
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from unittest.mock import ANY

import pytest
from sqlalchemy import select

from fast_zero import hashing, security
from fast_zero.hashing import HashingBusy, HashingPool
from fast_zero.models import User
from fast_zero.settings import Settings, settings
from tests.helpers import session_tokens

BUSY = {'detail': 'Server busy, retry later'}
BLOCKED_JOB_TIMEOUT_SECONDS = 5
POLL_SECONDS = 0.005
MAX_POLLS = 1_000

ALICE = {
    'username': 'alice',
    'email': 'alice@example.com',
    'password': 'S3cret-passw0rd',
}
BOB = {
    'username': 'bob',
    'email': 'bob@example.com',
    'password': 'An0ther-passw0rd',
}


class Gate:
    """A job that blocks its thread until `release` is set."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def job(self, result='done'):
        self.entered.set()
        self.release.wait(BLOCKED_JOB_TIMEOUT_SECONDS)
        self.finished.set()
        return result


class BlockingHash:
    """Wraps the module's PasswordHash; hashing waits for `release`."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.gate = Gate()

    def hash(self, password):
        self.gate.job()
        return self.wrapped.hash(password)


async def wait_for(condition):
    """Poll `condition()` from the event loop, up to about five seconds."""
    for _ in range(MAX_POLLS):
        if condition():
            return True
        await asyncio.sleep(POLL_SECONDS)
    return condition()


async def run_once_free(pool, function):
    """Run `function` as soon as the pool admits it (its slot frees
    right after the job that held it returns)."""
    for _ in range(MAX_POLLS):
        try:
            return await pool.run(function)
        except HashingBusy:
            await asyncio.sleep(POLL_SECONDS)
    return await pool.run(function)


@pytest.fixture
def tiny_pool(monkeypatch):
    """Swap in a hashing pool of one thread and `queue_size` waiters."""
    pools = []

    def install(queue_size=0):
        pool = HashingPool(threads=1, queue_size=queue_size)
        pools.append(pool)
        monkeypatch.setattr(hashing, 'hashing_pool', pool)
        return pool

    yield install
    for pool in pools:
        pool.shutdown()


@asynccontextmanager
async def occupied(pool):
    """The pool's one thread busy with a blocked job until the block
    ends."""
    gate = Gate()
    task = asyncio.create_task(pool.run(gate.job))
    try:
        assert await wait_for(gate.entered.is_set)
        yield gate
    finally:
        gate.release.set()
        await task


async def stored_accounts(session):
    rows = await session.execute(
        select(
            User.id, User.username, User.email, User.password, User.token_key
        ).order_by(User.id)
    )
    return rows.all()


def assert_busy(response):
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == BUSY
    assert response.headers['Retry-After'] == str(
        settings.HASHING_BUSY_RETRY_AFTER_SECONDS
    )


# Over HTTP


@pytest.mark.asyncio
async def test_sign_up_while_another_is_hashing_returns_503_stores_nothing(
    async_client, session, monkeypatch, tiny_pool
):
    tiny_pool(queue_size=0)
    blocking = BlockingHash(security.password_hash)
    monkeypatch.setattr(security, 'password_hash', blocking)

    first = asyncio.create_task(async_client.post('/users/', json=ALICE))
    try:
        assert await wait_for(blocking.gate.entered.is_set)
        refused = await async_client.post('/users/', json=BOB)
    finally:
        blocking.gate.release.set()
        first_response = await first
    stored_after_refusal = [
        row.username for row in await stored_accounts(session)
    ]
    retried = await async_client.post('/users/', json=BOB)

    assert_busy(refused)
    assert first_response.status_code == HTTPStatus.CREATED
    assert first_response.json() == {
        'id': 1,
        'username': 'alice',
        'email': 'alice@example.com',
    }
    assert stored_after_refusal == ['alice']
    assert retried.status_code == HTTPStatus.CREATED
    assert retried.json() == {
        'id': 2,
        'username': 'bob',
        'email': 'bob@example.com',
    }


TOKEN_ANSWER = {
    'access_token': ANY,
    'token_type': 'bearer',
    'expires_in': settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
    'refresh_token': ANY,
}
PUBLIC_BOB = {'username': 'bob', 'email': 'bob@example.com'}


@dataclass
class HashingRequest:
    method: str
    path: str
    send: dict  # httpx keyword arguments: the JSON or the form
    success: HTTPStatus
    answer: dict


def sign_up(user):
    return HashingRequest(
        'POST',
        '/users/',
        {'json': BOB},
        HTTPStatus.CREATED,
        {'id': user.id + 1, **PUBLIC_BOB},
    )


def log_in(user):
    form = {'username': user.email, 'password': user.clean_password}
    return HashingRequest(
        'POST', '/auth/token', {'data': form}, HTTPStatus.OK, TOKEN_ANSWER
    )


def change_password(user):
    passwords = {
        'current_password': user.clean_password,
        'new_password': 'N3w-passw0rd',
    }
    return HashingRequest(
        'PUT',
        '/users/me/password',
        {'json': passwords},
        HTTPStatus.OK,
        TOKEN_ANSWER,
    )


def replace_user(user):
    return HashingRequest(
        'PUT',
        f'/users/{user.id}',
        {'json': BOB},
        HTTPStatus.OK,
        {'id': user.id, **PUBLIC_BOB},
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'hashing_request', [sign_up, log_in, change_password, replace_user]
)
async def test_hashing_route_with_the_pool_full_returns_503_changes_nothing(
    async_client, session, user, tiny_pool, hashing_request
):
    pool = tiny_pool(queue_size=0)
    token = (await session_tokens(session, user))['access_token']
    headers = {'Authorization': f'Bearer {token}'}
    sent = hashing_request(user)
    before = await stored_accounts(session)

    async with occupied(pool):
        refused = await async_client.request(
            sent.method, sent.path, headers=headers, **sent.send
        )
    after_refusal = await stored_accounts(session)
    retried = await async_client.request(
        sent.method, sent.path, headers=headers, **sent.send
    )

    assert_busy(refused)
    assert after_refusal == before
    assert retried.status_code == sent.success
    assert retried.json() == sent.answer


def test_hashing_routes_document_503(client):
    paths = client.get('/openapi.json').json()['paths']
    error_model = {'$ref': '#/components/schemas/ErrorMessage'}

    for path, method in [
        ('/users/', 'post'),
        ('/auth/token', 'post'),
        ('/users/me/password', 'put'),
        ('/users/{user_id}', 'put'),
    ]:
        busy = paths[path][method]['responses']['503']
        assert busy['content']['application/json']['schema'] == error_model


# The pool itself


@pytest.mark.asyncio
async def test_pool_admits_its_queue_then_refuses(tiny_pool):
    pool = tiny_pool(queue_size=1)

    async with occupied(pool) as gate:
        waiting = asyncio.create_task(pool.run(lambda: 'queued'))
        await asyncio.sleep(0)  # the task takes its place in the queue
        with pytest.raises(HashingBusy) as refused:
            await pool.run(lambda: 'refused')
        waiting_still_queued = not waiting.done()

    assert refused.value.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert refused.value.detail == BUSY['detail']
    assert waiting_still_queued
    assert gate.finished.is_set()
    assert await waiting == 'queued'


@pytest.mark.asyncio
async def test_a_failed_job_frees_its_slot(tiny_pool):
    pool = tiny_pool(queue_size=0)

    def broken_hash():
        raise ValueError('broken hash')

    with pytest.raises(ValueError, match='broken hash'):
        await pool.run(broken_hash)

    assert await pool.run(lambda: 'next') == 'next'


@pytest.mark.asyncio
async def test_a_cancelled_queued_job_frees_its_slot_and_never_runs(
    tiny_pool,
):
    pool = tiny_pool(queue_size=1)
    ran = threading.Event()

    async with occupied(pool):
        queued = asyncio.create_task(pool.run(ran.set))
        await asyncio.sleep(0)  # the task takes its place in the queue
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        admitted = asyncio.create_task(pool.run(lambda: 'admitted'))
        await asyncio.sleep(0)  # admitted (or refused) while still busy

    assert await admitted == 'admitted'
    assert not ran.is_set()


@pytest.mark.asyncio
async def test_a_cancelled_running_job_keeps_its_slot_until_it_ends(
    tiny_pool,
):
    pool = tiny_pool(queue_size=0)
    gate = Gate()
    running = asyncio.create_task(pool.run(gate.job))
    try:
        assert await wait_for(gate.entered.is_set)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        with pytest.raises(HashingBusy):
            await pool.run(lambda: 'too early')
    finally:
        gate.release.set()

    assert await run_once_free(pool, lambda: 'after') == 'after'
    assert gate.finished.is_set()


def test_hashing_queue_defaults_to_32_per_thread():
    assert Settings(HASHING_THREADS=3).hashing_queue_size == 3 * 32
    assert (
        Settings(HASHING_THREADS=3, HASHING_QUEUE_SIZE=0).hashing_queue_size
        == 0
    )
