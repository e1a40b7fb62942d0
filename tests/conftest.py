import os
from contextlib import contextmanager
from datetime import datetime
from uuid import uuid4

import pytest
import pytest_asyncio
from fastapi.testclient import TestClient
from httpx2 import ASGITransport, AsyncClient
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from fast_zero import login_limits
from fast_zero.app import app
from fast_zero.database import (
    build_engine,
    build_session_factory,
    get_session,
)
from fast_zero.models import table_registry
from fast_zero.security import get_password_hash
from tests.factories import UserFactory
from tests.helpers import stamp_head

FULL_RUN_MIN_BRANCH_COVERAGE = 95
# A course reader's suite, run by test_course_suite.py in a process of its
# own: not part of ours.
collect_ignore = ['course_suite']
TEST_DATABASE_URL = os.environ.get('TEST_DATABASE_URL')
IN_MEMORY_DATABASE_URL = 'sqlite+aiosqlite:///:memory:'
TABLES = ', '.join(t.name for t in table_registry.metadata.sorted_tables)


def pytest_configure(config):
    """Warnings are errors in this suite; the coverage floor applies to
    the full run only.

    Warnings are errors here, not in pyproject.toml: there they would be
    imposed on tests we did not write (a course reader's engines, never
    disposed, warn when collected in some later test).

    `task test -k name` (or a single file) measures a subset, which cannot
    reach the floor; the full run (and CI) must.
    """
    config.addinivalue_line('filterwarnings', 'error')
    coverage = config.pluginmanager.getplugin('_cov')
    full_run = (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not config.option.keyword
        and not getattr(config.option, 'lf', False)
        and not config.option.deselect
    )
    if coverage is not None and coverage.options.cov_source and full_run:
        coverage.options.cov_fail_under = FULL_RUN_MIN_BRANCH_COVERAGE


@pytest.fixture(autouse=True)
def fresh_login_limiter(monkeypatch):
    """Every test starts with no failed logins counted."""
    monkeypatch.setattr(
        login_limits, 'login_limiter', login_limits.build_login_limiter()
    )


@pytest_asyncio.fixture
async def session():
    """A fresh, empty database per test, on an engine from `build_engine`
    (the service's driver and connection set-up, foreign keys enforced).

    In-memory SQLite by default; with TEST_DATABASE_URL set (PostgreSQL),
    that database's tables emptied and their identities reset, since other
    processes (servers, migrations) commit to it for real.
    """
    if TEST_DATABASE_URL:
        engine = build_engine(TEST_DATABASE_URL, pooled=False)
        async with engine.begin() as conn:
            await conn.run_sync(table_registry.metadata.create_all)
            await conn.execute(
                text(f'TRUNCATE {TABLES} RESTART IDENTITY CASCADE')
            )
            await conn.run_sync(stamp_head)
    else:
        engine = build_engine(IN_MEMORY_DATABASE_URL)
        async with engine.begin() as conn:
            await conn.run_sync(table_registry.metadata.create_all)
            await conn.run_sync(stamp_head)

    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session

    await engine.dispose()


@pytest_asyncio.fixture
async def fresh_database_url(tmp_path):
    """The URL of a new, empty database (no tables), dropped afterwards.

    A SQLite file by default; a new database on the TEST_DATABASE_URL
    server when it is set.
    """
    if not TEST_DATABASE_URL:
        yield f'sqlite+aiosqlite:///{tmp_path / "fresh.db"}'
        return
    name = f'fast_zero_{uuid4().hex}'
    admin = create_async_engine(
        TEST_DATABASE_URL, isolation_level='AUTOCOMMIT', poolclass=NullPool
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE {name}'))
    yield (
        make_url(TEST_DATABASE_URL)
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE {name} WITH (FORCE)'))
    await admin.dispose()


@contextmanager
def app_on_engine_of(session):
    """The app on the test's engine: what its lifespan would have built
    (`app.state`), and every request served the test's own `session`."""
    app.state.engine = session.bind
    app.state.session_factory = build_session_factory(session.bind)
    app.dependency_overrides[get_session] = lambda: session
    try:
        yield
    finally:
        app.dependency_overrides.clear()
        del app.state.engine, app.state.session_factory


@pytest.fixture
def client(session):
    with app_on_engine_of(session), TestClient(app) as client:
        yield client


@pytest_asyncio.fixture
async def async_client(session):
    """An httpx client on the app's own loop, for concurrent requests."""
    with app_on_engine_of(session):
        async with app.router.lifespan_context(app):
            transport = ASGITransport(app=app)
            async with AsyncClient(
                transport=transport, base_url='http://test'
            ) as client:
                yield client


async def create_user(session, **fields):
    password = fields.pop('password', 'testtest')
    user = UserFactory(password=get_password_hash(password), **fields)
    session.add(user)
    await session.commit()
    await session.refresh(user)
    user.clean_password = password
    return user


@pytest_asyncio.fixture
async def user(session):
    return await create_user(session)


@pytest_asyncio.fixture
async def other_user(session):
    return await create_user(session)


@pytest.fixture
def token(client, user):
    response = client.post(
        '/auth/token',
        data={'username': user.email, 'password': user.clean_password},
    )
    return response.json()['access_token']


async def create_superuser(session, **fields):
    user = await create_user(session, **fields)
    user.is_superuser = True
    await session.commit()
    return user


@pytest_asyncio.fixture
async def superuser(session):
    """An active superuser (the only one)."""
    return await create_superuser(session)


@pytest.fixture
def superuser_token(client, superuser):
    response = client.post(
        '/auth/token',
        data={
            'username': superuser.email,
            'password': superuser.clean_password,
        },
    )
    return response.json()['access_token']


@contextmanager
def _mock_db_time(*, model, time=datetime(2024, 1, 1)):
    def fake_time_hook(mapper, connection, target):
        if hasattr(target, 'created_at'):
            target.created_at = time
        if hasattr(target, 'updated_at'):
            target.updated_at = time

    event.listen(model, 'before_insert', fake_time_hook)

    yield time

    event.remove(model, 'before_insert', fake_time_hook)


@pytest.fixture
def mock_db_time():
    return _mock_db_time
