"""Engines for the service and the `get_session` dependency.

The app's engine and session factory live on `app.state` (`engine`,
`session_factory`), set by its lifespan (fast_zero/app.py) unless a
caller, such as a test fixture, set them first. Code that opens a
session outside a request takes it from there.
"""

import importlib
import logging
import os
from collections.abc import AsyncGenerator
from types import ModuleType
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    ConnectionPoolEntry,
    NullPool,
    StaticPool,
)

from fast_zero import metrics
from fast_zero.settings import settings

logger = logging.getLogger(__name__)

# Switches for measuring the project's SQLite driver and connection pool
# against SQLAlchemy's own (bench/README.md); read only by build_engine.
STOCK_SQLITE_DRIVER = 'FAST_ZERO_STOCK_SQLITE_DRIVER'
STOCK_POOL = 'FAST_ZERO_STOCK_POOL'


# Statement parameters stay out of error messages (and so out of logs and
# tracebacks): they hold password hashes and token keys.
SECRET_SAFE = {'hide_parameters': True}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == 'sqlite'


def configure_sqlite(
    engine: AsyncEngine, busy_timeout_ms: int, *, foreign_keys: bool = True
) -> None:
    """Make every new SQLite connection safe for concurrent writers.

    WAL lets readers run beside a writer; `busy_timeout` makes a second
    writer wait for the lock instead of failing with "database is locked";
    SQLite enforces foreign keys only when asked to (migrations ask it not
    to: batch mode drops and re-creates referenced tables).
    """

    @event.listens_for(engine.sync_engine, 'connect')
    def set_sqlite_pragmas(
        dbapi_connection: DBAPIConnection,
        _connection_record: ConnectionPoolEntry,
    ) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA journal_mode=WAL')
        cursor.execute(f'PRAGMA busy_timeout={int(busy_timeout_ms)}')
        cursor.execute(
            f'PRAGMA foreign_keys={"ON" if foreign_keys else "OFF"}'
        )
        cursor.close()


def project_component(name: str, switch: str) -> ModuleType | None:
    """The module fast_zero.`name` (the one-hop SQLite driver, the fair
    pool), or None for SQLAlchemy's own: when `switch` is set to 1, or,
    with one WARNING, when the private internals it relies on are gone."""
    if os.environ.get(switch) == '1':
        return None
    try:
        module = importlib.import_module(f'fast_zero.{name}')
    except (ImportError, AttributeError) as error:  # a base class is gone
        missing = [str(error)]
    else:
        missing = module.missing_internals()
    if missing:
        logger.warning(
            "fast_zero/%s.py is off, SQLAlchemy's own is used instead: "
            'the installed SQLAlchemy or aiosqlite changed %s',
            name,
            '; '.join(missing),
        )
        return None
    return module


def pool_class() -> type:
    fair_pool = project_component('fair_pool', STOCK_POOL)
    return fair_pool.FairAsyncQueuePool if fair_pool else AsyncAdaptedQueuePool


def sqlite_driver_options() -> dict:
    sqlite_driver = project_component('sqlite_driver', STOCK_SQLITE_DRIVER)
    return {'module': sqlite_driver.dbapi()} if sqlite_driver else {}


def build_engine(url: str, *, pooled: bool = True) -> AsyncEngine:
    """An engine for `url`, with the options its backend needs, its pool
    watched for /metrics.

    `pooled=False` opens a connection per checkout (NullPool): for tools and
    tests that use an engine from more than one event loop.
    """
    engine = build_backend_engine(url, pooled=pooled)
    if settings.METRICS_ENABLED:
        metrics.watch_connection_pool(engine)
    return engine


def build_backend_engine(url: str, *, pooled: bool) -> AsyncEngine:
    if is_sqlite(url):
        return build_sqlite_engine(url, pooled=pooled)
    # psycopg (libpq) and asyncpg name the connect timeout differently.
    timeout_arg = (
        'timeout'
        if make_url(url).get_driver_name() == 'asyncpg'
        else 'connect_timeout'
    )
    connect_args = {timeout_arg: settings.DATABASE_CONNECT_TIMEOUT_SECONDS}
    if not pooled:
        return create_async_engine(
            url, poolclass=NullPool, connect_args=connect_args, **SECRET_SAFE
        )
    return create_async_engine(
        url,
        poolclass=pool_class(),
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
        pool_pre_ping=settings.DATABASE_POOL_PRE_PING,
        pool_recycle=settings.DATABASE_POOL_RECYCLE_SECONDS,
        connect_args=connect_args,
        **SECRET_SAFE,
    )


def build_sqlite_engine(url: str, *, pooled: bool) -> AsyncEngine:
    # Few connections: SQLite answers from one core, and each connection is
    # a thread of its own; more of them only compete for it (measured with
    # `task bench`: 2 beat 4, 8 and SQLAlchemy's default 5 + 10 overflow).
    if make_url(url).database in {None, '', ':memory:'}:
        # One shared connection, or every checkout sees another empty DB.
        options: dict[str, Any] = {'poolclass': StaticPool}
    elif not pooled:
        options = {'poolclass': NullPool}
    else:
        options = {
            'poolclass': pool_class(),
            'pool_size': settings.SQLITE_POOL_SIZE,
            'max_overflow': 0,
        }
    engine = create_async_engine(
        url, **sqlite_driver_options(), **options, **SECRET_SAFE
    )
    configure_sqlite(engine, settings.SQLITE_BUSY_TIMEOUT_MS)
    return engine


def build_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    # Objects stay readable after a commit, without a lazy load (which an
    # async session cannot do implicitly).
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncGenerator[AsyncSession, None]:
    """A session of the app's engine for the request, closed after it."""
    async with request.app.state.session_factory() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


async def release_connection(session: AsyncSession) -> None:
    """Give the session's connection back to the pool, keeping its objects.

    For a request about to wait on something slow that needs no database
    (password hashing): the few pooled connections serve others meanwhile.
    It ends the transaction, so it refuses a session with pending changes
    rather than commit them unasked.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError('release_connection: the session has changes')
    await session.commit()


def __getattr__(name: str) -> AsyncEngine:
    """`engine`: the course's module-level name, built on first use.

    For code written against the course's `database.py` (e.g. a script
    running its own queries); the app does not use it, but
    `app.state.engine`. Whoever uses it disposes of it.
    """
    if name != 'engine':
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    engine = build_engine(settings.DATABASE_URL)
    globals()['engine'] = engine
    return engine
