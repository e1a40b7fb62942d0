"""The one-hop SQLite driver: the private internals it relies on, and the
stock adapter it steps aside for when they change."""

import logging
import sqlite3
import sys

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.sqlite import aiosqlite as sqlalchemy_aiosqlite

from fast_zero import sqlite_driver
from fast_zero.database import STOCK_SQLITE_DRIVER, build_engine


def test_sqlalchemy_and_aiosqlite_keep_what_the_driver_relies_on():
    missing = sqlite_driver.missing_internals()

    assert not missing, (
        'fast_zero/sqlite_driver.py relies on private internals that the '
        'installed SQLAlchemy or aiosqlite changed: ' + '; '.join(missing)
    )


async def one_row_and_connection(engine):
    """SELECT 1 through the engine; the value and the DBAPI connection."""
    async with engine.connect() as connection:
        value = await connection.scalar(text('SELECT 1'))
        raw = await connection.get_raw_connection()
        adapted = raw.dbapi_connection
        driver_connection = adapted._connection._conn
    await engine.dispose()
    assert isinstance(driver_connection, sqlite3.Connection)
    return value, adapted


@pytest.mark.asyncio
async def test_engine_runs_statements_through_the_one_hop_driver(tmp_path):
    engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "app.db"}')

    value, adapted = await one_row_and_connection(engine)

    assert value == 1
    assert isinstance(adapted, sqlite_driver.OneHopConnection)


def bump_execute_signature(monkeypatch):
    async def _execute(self, function, *args):
        """A release that renamed the parameters."""

    monkeypatch.setattr(aiosqlite.Connection, '_execute', _execute)


def drop_cursor_hook(monkeypatch):
    monkeypatch.delattr(
        sqlalchemy_aiosqlite.AsyncAdapt_aiosqlite_cursor.__mro__[1],
        '_execute_async',
    )


@pytest.mark.parametrize(
    ('change', 'named'),
    [
        (bump_execute_signature, 'aiosqlite.Connection._execute'),
        (drop_cursor_hook, '_execute_async'),
    ],
)
@pytest.mark.asyncio
async def test_changed_internals_fall_back_to_the_stock_adapter_with_a_warning(
    change, named, monkeypatch, caplog, tmp_path
):
    change(monkeypatch)

    with caplog.at_level(logging.WARNING, logger='fast_zero.database'):
        engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "app.db"}')
    monkeypatch.undo()  # the stock adapter needs the real internals
    value, adapted = await one_row_and_connection(engine)

    assert value == 1
    assert not isinstance(adapted, sqlite_driver.OneHopConnection)
    assert [record.levelname for record in caplog.records] == ['WARNING']
    assert 'sqlite_driver.py is off' in caplog.text
    assert named in caplog.text


@pytest.mark.asyncio
async def test_adapter_classes_gone_fall_back_with_a_warning(
    monkeypatch, caplog, tmp_path
):
    monkeypatch.delattr(sqlalchemy_aiosqlite, 'AsyncAdapt_aiosqlite_cursor')
    monkeypatch.delitem(sys.modules, 'fast_zero.sqlite_driver')

    with caplog.at_level(logging.WARNING, logger='fast_zero.database'):
        engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "app.db"}')
    monkeypatch.undo()
    value, adapted = await one_row_and_connection(engine)

    assert value == 1
    assert not isinstance(adapted, sqlite_driver.OneHopConnection)
    assert [record.levelname for record in caplog.records] == ['WARNING']
    assert 'AsyncAdapt_aiosqlite_cursor' in caplog.text


@pytest.mark.asyncio
async def test_switch_selects_the_stock_adapter_without_a_warning(
    monkeypatch, caplog, tmp_path
):
    monkeypatch.setenv(STOCK_SQLITE_DRIVER, '1')

    with caplog.at_level(logging.WARNING, logger='fast_zero.database'):
        engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "app.db"}')
    value, adapted = await one_row_and_connection(engine)

    assert value == 1
    assert not isinstance(adapted, sqlite_driver.OneHopConnection)
    assert caplog.records == []


@pytest.mark.asyncio
async def test_one_hop_driver_runs_executemany_and_fetchmany(tmp_path):
    engine = build_engine(f'sqlite+aiosqlite:///{tmp_path / "app.db"}')

    async with engine.begin() as connection:
        await connection.execute(text('CREATE TABLE t (n INTEGER)'))
        inserted = await connection.execute(
            text('INSERT INTO t (n) VALUES (:n)'), [{'n': 1}, {'n': 2}]
        )
        result = await connection.execute(text('SELECT n FROM t ORDER BY n'))
        first = result.fetchmany()
        rest = result.fetchall()
    await engine.dispose()

    assert inserted.rowcount == len([1, 2])
    assert first == [(1,)]
    assert rest == [(2,)]
