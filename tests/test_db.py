import re
from dataclasses import asdict
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool, StaticPool

from fast_zero.database import build_engine, release_connection
from fast_zero.fair_pool import FairAsyncQueuePool
from fast_zero.models import Todo, User
from fast_zero.settings import settings
from tests.conftest import TEST_DATABASE_URL
from tests.factories import TodoFactory, UserFactory
from tests.helpers import read_user_row


@pytest.mark.asyncio
async def test_create_user(session, mock_db_time):
    with mock_db_time(model=User) as time:
        new_user = User(
            username='alice', password='secret', email='teste@test'
        )
        session.add(new_user)
        await session.commit()

    user = await session.scalar(select(User).where(User.username == 'alice'))

    assert asdict(user) == {
        'id': 1,
        'username': 'alice',
        'password': 'secret',
        'email': 'teste@test',
        'token_key': user.token_key,
        'is_active': True,
        'is_superuser': False,
        'created_at': time,
        'updated_at': time,
        'todos': [],
    }
    assert re.fullmatch('[0-9a-f]{32}', user.token_key)


@pytest.mark.asyncio
async def test_create_user_sets_timestamps_on_the_server(session):
    user = UserFactory()
    session.add(user)
    await session.commit()

    # Read back with RETURNING (eager defaults): no refresh needed.
    assert isinstance(user.created_at, datetime)
    assert user.updated_at == user.created_at


@pytest.mark.asyncio
async def test_update_user_moves_updated_at_only(session, mock_db_time):
    with mock_db_time(model=User) as time:
        user = UserFactory()
        session.add(user)
        await session.commit()

    user.username = 'renamed'
    await session.commit()

    assert user.created_at == time
    assert user.updated_at > time


@pytest.mark.asyncio
@pytest.mark.parametrize('field', ['username', 'email'])
async def test_duplicate_field_violates_unique_constraint(session, field):
    first = UserFactory()
    session.add(first)
    await session.commit()

    session.add(UserFactory(**{field: getattr(first, field)}))
    with pytest.raises(IntegrityError):
        await session.commit()
    await session.rollback()


async def driver_connection_class(connection):
    raw = await connection.get_raw_connection()
    return type(raw.dbapi_connection)


@pytest.mark.asyncio
async def test_session_fixture_runs_on_the_services_driver(session):
    url = session.bind.url.render_as_string(hide_password=False)
    service_engine = build_engine(url, pooled=False)
    async with service_engine.connect() as conn:
        service_class = await driver_connection_class(conn)
    await service_engine.dispose()

    tested_class = await driver_connection_class(await session.connection())

    assert tested_class is service_class


@pytest.mark.skipif(
    TEST_DATABASE_URL is not None, reason='a SQLite setting (PRAGMA)'
)
@pytest.mark.asyncio
async def test_session_fixture_enforces_foreign_keys_on_sqlite(session):
    foreign_keys = await session.scalar(text('PRAGMA foreign_keys'))

    assert foreign_keys == 1


@pytest.mark.asyncio
async def test_a_todo_of_no_user_violates_its_foreign_key(session):
    session.add(TodoFactory(user_id=404))

    with pytest.raises(IntegrityError):
        await session.commit()
    await session.rollback()

    assert await session.scalar(select(func.count()).select_from(Todo)) == 0


@pytest.mark.asyncio
async def test_release_connection_ends_an_unchanged_sessions_transaction(
    session, user
):
    await session.scalar(select(User).where(User.id == user.id))

    await release_connection(session)

    assert not session.in_transaction()
    assert user.username == (await read_user_row(session, user.id)).username


@pytest.mark.asyncio
@pytest.mark.parametrize('change', ['new', 'dirty', 'deleted'])
async def test_release_connection_refuses_pending_changes(
    session, user, change
):
    user_id = user.id
    if change == 'new':
        session.add(UserFactory())
    elif change == 'dirty':
        user.username = 'renamed'
    else:
        await session.delete(user)

    with pytest.raises(RuntimeError, match='the session has changes'):
        await release_connection(session)
    await session.rollback()

    stored = await read_user_row(session, user_id)
    assert stored is not None
    assert stored.username != 'renamed'
    assert await session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.asyncio
async def test_sqlite_file_engine_sets_wal_busy_timeout_and_foreign_keys(
    tmp_path,
):
    engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "test.db"}')

    async with engine.connect() as conn:
        pragmas = [
            (await conn.execute(text(f'PRAGMA {name}'))).scalar()
            for name in ('journal_mode', 'busy_timeout', 'foreign_keys')
        ]
    await engine.dispose()

    assert pragmas == ['wal', settings.SQLITE_BUSY_TIMEOUT_MS, 1]


@pytest.mark.asyncio
async def test_sqlite_in_memory_engine_shares_one_connection():
    engine = build_engine('sqlite+aiosqlite:///:memory:')

    async with engine.begin() as conn:
        await conn.execute(text('CREATE TABLE t (x INTEGER)'))
    async with engine.connect() as conn:
        tables = (
            await conn.execute(text('SELECT name FROM sqlite_master'))
        ).scalars()
        names = list(tables)
    await engine.dispose()

    assert isinstance(engine.pool, StaticPool)
    assert names == ['t']


@pytest.mark.asyncio
async def test_sqlite_file_engine_without_pool_opens_a_connection_each_time(
    tmp_path,
):
    engine = build_engine(
        f'sqlite+aiosqlite:///{tmp_path / "test.db"}', pooled=False
    )
    await engine.dispose()

    assert isinstance(engine.pool, NullPool)


@pytest.mark.asyncio
async def test_server_engine_takes_pool_options_from_settings():
    url = 'postgresql+psycopg://app@db.example/app'

    engine = build_engine(url)  # connects only when first used
    unpooled = build_engine(url, pooled=False)

    assert isinstance(engine.pool, FairAsyncQueuePool)
    assert engine.pool.size() == settings.DATABASE_POOL_SIZE
    assert engine.pool._max_overflow == settings.DATABASE_MAX_OVERFLOW
    assert engine.pool._pre_ping is settings.DATABASE_POOL_PRE_PING
    assert engine.pool._recycle == settings.DATABASE_POOL_RECYCLE_SECONDS
    assert isinstance(unpooled.pool, NullPool)
    await engine.dispose()
    await unpooled.dispose()


@pytest.mark.asyncio
async def test_sqlite_file_engine_has_a_small_fair_pool(tmp_path):
    engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "app.db"}')

    assert isinstance(engine.pool, FairAsyncQueuePool)
    assert engine.pool.size() == settings.SQLITE_POOL_SIZE
    assert engine.pool._max_overflow == 0
    await engine.dispose()
