"""Administrator actions racing each other, and a login's password hash.

On whichever backend the suite runs (a SQLite file, or PostgreSQL with
TEST_DATABASE_URL), with a session per request as in production: a shared
connection would serialise the requests and nothing would race.
"""

import asyncio
import threading
from collections import Counter
from http import HTTPStatus

import pytest
import pytest_asyncio
from httpx2 import ASGITransport, AsyncClient
from sqlalchemy import func, select

from fast_zero import security
from fast_zero.app import app
from fast_zero.database import build_engine
from fast_zero.models import User, table_registry
from fast_zero.routers import admin as admin_router
from fast_zero.routers import users as users_router
from fast_zero.security import get_password_hash
from tests.helpers import serve_sessions_from, session_tokens

LAST_SUPERUSER = {'detail': 'At least one active superuser must remain'}
PASSWORD = 'secret123'
# Only a bound on a broken test: no test waits this long when it works.
STUCK_SECONDS = 30


@pytest_asyncio.fixture
async def database(fresh_database_url):
    """A session factory on a fresh database, which the app serves."""
    engine = build_engine(fresh_database_url)
    async with engine.begin() as connection:
        await connection.run_sync(table_registry.metadata.create_all)
    yield serve_sessions_from(engine)
    app.dependency_overrides.clear()
    await engine.dispose()


@pytest_asyncio.fixture
async def client(database):
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url='http://test'
    ) as client:
        yield client


async def add_user(database, name: str, *, superuser: bool) -> User:
    async with database() as session:
        user = User(
            username=name,
            email=f'{name}@example.com',
            password=get_password_hash(PASSWORD),
        )
        user.is_superuser = superuser
        session.add(user)
        await session.commit()
        return user


async def headers_of(database, user: User) -> dict:
    """The Authorization header of a new session of the user."""
    async with database() as session:
        token = (await session_tokens(session, user))['access_token']
    return {'Authorization': f'Bearer {token}'}


async def active_superuser_ids(database) -> list[int]:
    async with database() as session:
        ids = await session.scalars(
            select(User.id)
            .where(User.is_active, User.is_superuser)
            .order_by(User.id)
        )
        return ids.all()


def meet_before(monkeypatch, module, name: str, parties: int) -> None:
    """Hold each call of `module.name` until `parties` calls have come:
    every racer has passed its permission check before any acts."""
    barrier = asyncio.Barrier(parties)
    act = getattr(module, name)

    async def act_together(**arguments):
        await barrier.wait()
        return await act(**arguments)

    monkeypatch.setattr(module, name, act_together)


ACTIONS = {
    'demote': (
        admin_router,
        'change_account_flags',
        lambda client, headers, target: client.patch(
            f'/admin/users/{target.id}',
            headers=headers,
            json={'is_superuser': False},
        ),
    ),
    'deactivate': (
        admin_router,
        'change_account_flags',
        lambda client, headers, target: client.patch(
            f'/admin/users/{target.id}',
            headers=headers,
            json={'is_active': False},
        ),
    ),
    'delete': (
        admin_router,
        'delete_account',
        lambda client, headers, target: client.delete(
            f'/admin/users/{target.id}', headers=headers
        ),
    ),
    'delete-through-users': (
        users_router,
        'delete_account',
        lambda client, headers, target: client.delete(
            f'/users/{target.id}', headers=headers
        ),
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize('action', ACTIONS)
async def test_two_admins_acting_on_each_other_at_once_leave_one_superuser(
    client, database, monkeypatch, action
):
    alice = await add_user(database, 'alice', superuser=True)
    bob = await add_user(database, 'bob', superuser=True)
    module, name, act = ACTIONS[action]
    alice_headers = await headers_of(database, alice)
    bob_headers = await headers_of(database, bob)
    meet_before(monkeypatch, module, name, parties=2)

    async with asyncio.timeout(STUCK_SECONDS):
        responses = await asyncio.gather(
            act(client, alice_headers, bob),
            act(client, bob_headers, alice),
        )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {HTTPStatus.OK: 1, HTTPStatus.CONFLICT: 1}
    [refused] = [r for r in responses if r.status_code == HTTPStatus.CONFLICT]
    assert refused.json() == LAST_SUPERUSER
    # The winner acted on the loser, who is no longer an active superuser.
    [winner] = [
        user
        for user, response in zip((alice, bob), responses, strict=True)
        if response.status_code == HTTPStatus.OK
    ]
    assert await active_superuser_ids(database) == [winner.id]


@pytest.mark.asyncio
async def test_two_last_admins_deleting_themselves_at_once_leave_one(
    client, database, monkeypatch
):
    alice = await add_user(database, 'alice', superuser=True)
    bob = await add_user(database, 'bob', superuser=True)
    alice_headers = await headers_of(database, alice)
    bob_headers = await headers_of(database, bob)
    meet_before(monkeypatch, users_router, 'delete_account', parties=2)

    async with asyncio.timeout(STUCK_SECONDS):
        responses = await asyncio.gather(
            client.delete('/users/me', headers=alice_headers),
            client.delete('/users/me', headers=bob_headers),
        )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [HTTPStatus.OK, HTTPStatus.CONFLICT]
    async with database() as session:
        remaining = await session.scalar(select(func.count(User.id)))
    assert remaining == 1
    assert len(await active_superuser_ids(database)) == 1


class HeldHash:
    """Password verifications that wait, in their hashing thread, until
    released; `started` is set once one is running."""

    def __init__(self, monkeypatch):
        self.started, self.released = threading.Event(), threading.Event()
        verify = security.verify_password_and_update

        def verify_when_released(password, hashed):
            self.started.set()
            self.released.wait(STUCK_SECONDS)
            return verify(password, hashed)

        monkeypatch.setattr(
            security, 'verify_password_and_update', verify_when_released
        )

    async def wait_until_started(self) -> None:
        await asyncio.to_thread(self.started.wait, STUCK_SECONDS)


def start_login(client, user: User) -> asyncio.Task:
    return asyncio.create_task(
        client.post(
            '/auth/token', data={'username': user.email, 'password': PASSWORD}
        )
    )


@pytest.mark.asyncio
async def test_deactivation_while_the_login_hashes_refuses_the_login(
    client, database, monkeypatch
):
    """The login looked the user up while active; the deactivation lands
    during its hash; the statement after the hash re-checks: 403."""
    admin = await add_user(database, 'admin', superuser=True)
    user = await add_user(database, 'carol', superuser=False)
    admin_headers = await headers_of(database, admin)
    held_hash = HeldHash(monkeypatch)

    async with asyncio.timeout(STUCK_SECONDS):
        login = start_login(client, user)
        await held_hash.wait_until_started()
        deactivated = await client.patch(
            f'/admin/users/{user.id}',
            headers=admin_headers,
            json={'is_active': False},
        )
        held_hash.released.set()
        response = await login

    assert deactivated.status_code == HTTPStatus.OK
    assert deactivated.json()['is_active'] is False
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {'detail': 'Inactive user'}


@pytest.mark.asyncio
async def test_login_hashing_while_nobody_deactivates_succeeds(
    client, database, monkeypatch
):
    """The control of the test above: the held hash alone changes nothing."""
    user = await add_user(database, 'carol', superuser=False)
    held_hash = HeldHash(monkeypatch)

    async with asyncio.timeout(STUCK_SECONDS):
        login = start_login(client, user)
        await held_hash.wait_until_started()
        held_hash.released.set()
        response = await login

    assert response.status_code == HTTPStatus.OK
    token = response.json()['access_token']
    me = await client.get(
        '/users/me', headers={'Authorization': f'Bearer {token}'}
    )
    assert me.json() == {
        'id': user.id,
        'username': 'carol',
        'email': 'carol@example.com',
    }
