"""The lifespan: the app's engine, session factory and hashing pool."""

from http import HTTPStatus

import pytest
import pytest_asyncio
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import StaticPool
from starlette.requests import Request

from fast_zero import database, hashing
from fast_zero.app import app
from fast_zero.database import (
    build_engine,
    build_session_factory,
    get_session,
)
from fast_zero.models import table_registry
from fast_zero.settings import settings
from tests.helpers import auth, login

UNREACHABLE_DATABASE_URL = 'postgresql+psycopg://app@127.0.0.1:9/app'


def sign_up(client, username):
    return client.post(
        '/users/',
        json={
            'username': username,
            'email': f'{username}@example.com',
            'password': 'a-secret-of-theirs',
        },
    )


@pytest.fixture
def database_url(monkeypatch, tmp_path):
    """The app's DATABASE_URL: a new SQLite file, its tables created."""
    url = f'sqlite+aiosqlite:///{tmp_path / "app.db"}'
    monkeypatch.setattr(settings, 'DATABASE_URL', url)
    return url


@pytest_asyncio.fixture
async def database_with_tables(database_url):
    engine = build_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(table_registry.metadata.create_all)
    await engine.dispose()
    return database_url


def test_lifespan_serves_requests_from_an_engine_of_its_own(
    database_with_tables,
):
    with TestClient(app) as client:
        engine = app.state.engine
        pool = engine.pool
        response = sign_up(client, 'alice')

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        'id': 1,
        'username': 'alice',
        'email': 'alice@example.com',
    }
    assert engine.url.render_as_string() == database_with_tables
    assert engine.pool is not pool  # disposed: a new, empty pool
    assert not hasattr(app.state, 'engine')
    assert not hasattr(app.state, 'session_factory')


def test_lifespan_uses_an_engine_set_before_it_and_leaves_it_open(session):
    engine = session.bind
    factory = build_session_factory(engine)
    app.state.engine, app.state.session_factory = engine, factory
    try:
        with TestClient(app) as client:
            response = sign_up(client, 'alice')
            assert app.state.session_factory is factory
        pool_after = engine.pool
        assert app.state.engine is engine
    finally:
        del app.state.engine, app.state.session_factory

    assert response.status_code == HTTPStatus.CREATED
    assert pool_after is engine.pool  # not disposed


def test_lifespan_builds_a_session_factory_for_an_engine_set_before_it(
    session,
):
    app.state.engine = session.bind
    try:
        with TestClient(app) as client:
            response = sign_up(client, 'alice')
            bound_to = app.state.session_factory.kw['bind']
        factory_left = hasattr(app.state, 'session_factory')
    finally:
        del app.state.engine

    assert response.status_code == HTTPStatus.CREATED
    assert bound_to is session.bind
    assert factory_left is False


def test_lifespan_starts_without_a_reachable_database(monkeypatch):
    """It never queries the database: requests that need it say so."""
    monkeypatch.setattr(settings, 'DATABASE_URL', UNREACHABLE_DATABASE_URL)

    with TestClient(app) as client:
        root = client.get('/')
        health = client.get('/health')

    assert root.status_code == HTTPStatus.OK
    assert root.json() == {'message': 'Olá Mundo!'}
    assert health.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert health.json() == {'status': 'error', 'database': 'unreachable'}


@pytest.mark.asyncio
async def test_get_session_opens_a_session_of_the_apps_factory(session):
    app.state.session_factory = build_session_factory(session.bind)
    request = Request({'type': 'http', 'app': app})
    try:
        sessions = get_session(request)
        opened = await anext(sessions)
        await sessions.aclose()
    finally:
        del app.state.session_factory

    assert isinstance(opened, AsyncSession)
    assert opened is not session
    assert opened.bind is session.bind


def test_each_lifespan_hashes_in_a_fresh_pool_shut_down_at_its_end(
    database_with_tables,
):
    pools, answers = [], []
    for username in ('alice', 'bob'):
        with TestClient(app) as client:
            answers.append(sign_up(client, username))
            pools.append(hashing.hashing_pool)

    assert [answer.status_code for answer in answers] == [
        HTTPStatus.CREATED,
        HTTPStatus.CREATED,
    ]
    assert [answer.json()['username'] for answer in answers] == [
        'alice',
        'bob',
    ]
    first, second = pools
    assert first is not second
    assert first.closed
    assert second.closed
    assert hashing.hashing_pool is None


@pytest.mark.asyncio
async def test_hashing_outside_a_lifespan_starts_a_pool():
    hashed = await hashing.run_hashing(str.upper, 'secret')

    assert hashed == 'SECRET'
    assert hashing.hashing_pool is not None
    assert not hashing.hashing_pool.closed


@pytest.mark.asyncio
async def test_hashing_after_a_lifespan_ended_starts_a_new_pool():
    pool = hashing.start_hashing_pool()
    await hashing.stop_hashing_pool(pool)

    hashed = await hashing.run_hashing(str.upper, 'secret')

    assert hashed == 'SECRET'
    assert hashing.hashing_pool is not pool
    assert not hashing.hashing_pool.closed


@pytest.mark.asyncio
async def test_a_course_readers_conftest_still_works():
    """Their own engine per test (SQLAlchemy's stock driver, foreign keys
    off), the client entered before they override `get_session`."""
    engine = create_async_engine(
        'sqlite+aiosqlite:///:memory:', poolclass=StaticPool
    )
    async with engine.begin() as conn:
        await conn.run_sync(table_registry.metadata.create_all)

    async with AsyncSession(engine, expire_on_commit=False) as session:
        with TestClient(app) as client:
            app.dependency_overrides[get_session] = lambda: session
            try:
                created = sign_up(client, 'alice')
                token = login(
                    client, 'alice@example.com', 'a-secret-of-theirs'
                ).json()['access_token']
                client.post(
                    '/todos/',
                    headers=auth(token),
                    json={'title': 't', 'description': 'd', 'state': 'todo'},
                )
                deleted = client.delete('/users/me', headers=auth(token))
                # SQLite gives the next account the freed id.
                again = sign_up(client, 'bob')
                token = login(
                    client, 'bob@example.com', 'a-secret-of-theirs'
                ).json()['access_token']
                todos = client.get('/todos/', headers=auth(token))
            finally:
                app.dependency_overrides.clear()
    await engine.dispose()

    assert created.status_code == HTTPStatus.CREATED
    assert deleted.json() == {'message': 'User deleted'}
    assert again.json()['id'] == created.json()['id']
    assert todos.status_code == HTTPStatus.OK
    assert todos.json() == {'todos': []}


def test_database_engine_is_the_courses_name_for_an_engine(
    monkeypatch, database_url
):
    monkeypatch.delitem(vars(database), 'engine', raising=False)

    engine = database.engine

    assert engine.url.render_as_string() == database_url
    assert database.engine is engine
    with pytest.raises(AttributeError, match='no_such_name'):
        database.no_such_name  # noqa: B018 (the access is the test)


@pytest.mark.asyncio
async def test_lifespan_end_leaves_what_another_set_meanwhile(
    session, database_url
):
    """Lifespans may overlap (a schema loader keeps one running): one's end
    removes only what it built itself."""
    async with app.router.lifespan_context(app):
        own_engine = app.state.engine
        own_pool = own_engine.pool
        app.state.engine = session.bind
        app.state.session_factory = build_session_factory(session.bind)
    try:
        assert app.state.engine is session.bind
        assert app.state.session_factory.kw['bind'] is session.bind
    finally:
        del app.state.engine, app.state.session_factory

    assert own_engine.pool is not own_pool  # disposed
