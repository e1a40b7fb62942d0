"""Requests racing for the same username: 409 for the losers, never 500.

The pre-insert check cannot stop two requests that both pass it before
either commits; the unique constraint does, and the routers turn its
IntegrityError into a 409. These tests run against a SQLite file with a
session per request, as in production (a shared in-memory connection
would serialise the requests and never race).
"""

import asyncio
from collections import Counter
from http import HTTPStatus

import pytest
import pytest_asyncio
from httpx2 import ASGITransport, AsyncClient
from sqlalchemy import select

from fast_zero import hashing
from fast_zero.app import app
from fast_zero.database import build_engine
from fast_zero.models import User, table_registry
from fast_zero.routers import users as users_router
from fast_zero.settings import settings
from tests.helpers import serve_sessions_from

RACERS = 20
# Racers held together each keep a pooled connection open while they wait,
# so there must be fewer of them than the pool's 5 + 10 overflow.
HELD_RACERS = 10
RACE_TIMEOUT_SECONDS = 30

SIGN_UP = {
    'username': 'alice',
    'email': 'alice@example.com',
    'password': 'secret123',
}
USERNAME_TAKEN = {'detail': 'Username already exists'}
EMAIL_TAKEN = {'detail': 'Email already exists'}
UPDATE_CONFLICT = {'detail': 'Username or Email already exists'}


@pytest_asyncio.fixture
async def session_factory(tmp_path, monkeypatch):
    # Held racers each keep their connection while they wait for the
    # others: the pool must have one for every racer.
    monkeypatch.setattr(settings, 'SQLITE_POOL_SIZE', HELD_RACERS)
    # Room in the hashing queue for every racer: these tests are about the
    # database, not about shedding load (tests/test_hashing_capacity.py).
    hashing_pool = hashing.HashingPool(
        threads=settings.HASHING_THREADS, queue_size=RACERS
    )
    monkeypatch.setattr(hashing, 'hashing_pool', hashing_pool)
    engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "database.db"}')
    async with engine.begin() as connection:
        await connection.run_sync(table_registry.metadata.create_all)
    # A session per request, as in production: requests really race.
    yield serve_sessions_from(engine)
    app.dependency_overrides.clear()
    await engine.dispose()
    hashing_pool.shutdown()


@pytest_asyncio.fixture
async def file_client(session_factory):
    """The app on the database file, with a session per request."""
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url='http://test'
    ) as client:
        yield client


async def stored_users(session_factory) -> list[tuple]:
    async with session_factory() as session:
        users = await session.scalars(select(User).order_by(User.id))
        return [
            (user.id, user.username, user.email, user.password)
            for user in users
        ]


async def sign_up(client, username: str, email: str) -> dict:
    response = await client.post(
        '/users/',
        json={'username': username, 'email': email, 'password': 'secret123'},
    )
    assert response.status_code == HTTPStatus.CREATED
    return response.json()


async def log_in(client, email: str) -> dict:
    response = await client.post(
        '/auth/token', data={'username': email, 'password': 'secret123'}
    )
    return {'Authorization': f'Bearer {response.json()["access_token"]}'}


def count_taken_checks(monkeypatch, *, miss_first: bool = False) -> list:
    """Record each call of the routers' taken-check.

    With `miss_first`, the first check answers "nothing taken", as it would
    had another request committed just after it: the insert or update then
    meets the unique constraint.
    """
    calls = []
    find_taken_field = users_router.find_taken_field

    async def recorded_check(**fields):
        calls.append(fields)
        if miss_first and len(calls) == 1:
            return None
        return await find_taken_field(**fields)

    monkeypatch.setattr(users_router, 'find_taken_field', recorded_check)
    return calls


def hold_checks_until_all_racers_checked(monkeypatch, racers: int) -> list:
    """Let no racer past its taken-check until every racer has made it.

    All of them then find nothing taken, and all but one must lose at the
    unique constraint: the IntegrityError path, every time.
    """
    calls = []
    find_taken_field = users_router.find_taken_field
    barrier = asyncio.Barrier(racers)

    async def check_together(**fields):
        calls.append(fields)
        call_number = len(calls)
        taken = await find_taken_field(**fields)
        if call_number <= racers:
            await barrier.wait()
        return taken

    monkeypatch.setattr(users_router, 'find_taken_field', check_together)
    return calls


@pytest.mark.asyncio
async def test_identical_sign_ups_racing_get_one_201_and_409_for_the_rest(
    file_client, session_factory
):
    async with asyncio.timeout(RACE_TIMEOUT_SECONDS):
        responses = await asyncio.gather(
            *(file_client.post('/users/', json=SIGN_UP) for _ in range(RACERS))
        )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {HTTPStatus.CREATED: 1, HTTPStatus.CONFLICT: RACERS - 1}
    [created] = [r for r in responses if r.status_code == HTTPStatus.CREATED]
    for response in responses:
        if response.status_code == HTTPStatus.CONFLICT:
            assert response.json() == USERNAME_TAKEN
    [(user_id, username, email, _)] = await stored_users(session_factory)
    assert created.json() == {
        'id': user_id,
        'username': username,
        'email': email,
    }
    assert (username, email) == ('alice', 'alice@example.com')


@pytest.mark.asyncio
async def test_sign_ups_racing_past_the_check_lose_at_the_unique_constraint(
    file_client, session_factory, monkeypatch
):
    calls = hold_checks_until_all_racers_checked(monkeypatch, HELD_RACERS)

    async with asyncio.timeout(RACE_TIMEOUT_SECONDS):
        responses = await asyncio.gather(
            *(
                file_client.post('/users/', json=SIGN_UP)
                for _ in range(HELD_RACERS)
            )
        )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {
        HTTPStatus.CREATED: 1,
        HTTPStatus.CONFLICT: HELD_RACERS - 1,
    }
    for response in responses:
        if response.status_code == HTTPStatus.CONFLICT:
            assert response.json() == USERNAME_TAKEN
    # Each loser met the IntegrityError and checked again to name the field.
    assert len(calls) == 2 * HELD_RACERS - 1
    assert len(await stored_users(session_factory)) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ('taken', 'detail'),
    [
        ({'username': 'alice', 'email': 'other@example.com'}, USERNAME_TAKEN),
        ({'username': 'other', 'email': 'alice@example.com'}, EMAIL_TAKEN),
    ],
)
async def test_sign_up_missed_by_the_check_gets_409_from_the_constraint(
    file_client, session_factory, monkeypatch, taken, detail
):
    await sign_up(file_client, 'alice', 'alice@example.com')
    before = await stored_users(session_factory)
    calls = count_taken_checks(monkeypatch, miss_first=True)

    response = await file_client.post(
        '/users/', json={**taken, 'password': 'secret123'}
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == detail
    # The check missed; after the rollback the re-check named the field.
    check, recheck = calls
    assert recheck == check
    assert await stored_users(session_factory) == before


@pytest.mark.asyncio
async def test_sign_up_conflict_gone_by_the_recheck_still_gets_409(
    file_client, session_factory, monkeypatch
):
    await sign_up(file_client, 'alice', 'alice@example.com')
    before = await stored_users(session_factory)

    async def nothing_taken(**_fields):
        return None

    monkeypatch.setattr(users_router, 'find_taken_field', nothing_taken)

    response = await file_client.post('/users/', json=SIGN_UP)

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == UPDATE_CONFLICT
    assert await stored_users(session_factory) == before


@pytest.mark.asyncio
async def test_update_missed_by_the_check_gets_409_and_leaves_row_unchanged(
    file_client, session_factory, monkeypatch
):
    await sign_up(file_client, 'alice', 'alice@example.com')
    bob = await sign_up(file_client, 'bob', 'bob@example.com')
    headers = await log_in(file_client, 'bob@example.com')
    before = await stored_users(session_factory)
    calls = count_taken_checks(monkeypatch, miss_first=True)

    response = await file_client.put(
        f'/users/{bob["id"]}',
        headers=headers,
        json={
            'username': 'alice',
            'email': 'bob@example.com',
            'password': 'new-secret',
        },
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == UPDATE_CONFLICT
    assert len(calls) == 1
    assert await stored_users(session_factory) == before


@pytest.mark.asyncio
async def test_updates_racing_for_one_username_get_one_200_and_409_for_rest(
    file_client, session_factory, monkeypatch
):
    racers = [
        await sign_up(file_client, f'racer{n}', f'racer{n}@example.com')
        for n in range(HELD_RACERS)
    ]
    headers = [await log_in(file_client, racer['email']) for racer in racers]
    calls = hold_checks_until_all_racers_checked(monkeypatch, HELD_RACERS)

    async with asyncio.timeout(RACE_TIMEOUT_SECONDS):
        responses = await asyncio.gather(
            *(
                file_client.put(
                    f'/users/{racer["id"]}',
                    headers=racer_headers,
                    json={
                        'username': 'winner',
                        'email': racer['email'],
                        'password': 'new-secret',
                    },
                )
                for racer, racer_headers in zip(racers, headers, strict=True)
            )
        )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {HTTPStatus.OK: 1, HTTPStatus.CONFLICT: HELD_RACERS - 1}
    [winner] = [r.json() for r in responses if r.status_code == HTTPStatus.OK]
    for response in responses:
        if response.status_code == HTTPStatus.CONFLICT:
            assert response.json() == UPDATE_CONFLICT
    assert len(calls) == HELD_RACERS
    usernames = {
        user_id: username
        for user_id, username, _, _ in await stored_users(session_factory)
    }
    assert usernames == {
        racer['id']: 'winner'
        if racer['id'] == winner['id']
        else racer['username']
        for racer in racers
    }
