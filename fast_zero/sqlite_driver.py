"""aiosqlite, with one thread hop per statement instead of four.

aiosqlite runs each sqlite3 call in the connection's own thread, and every
call is a round trip between that thread and the event loop. SQLAlchemy's
adapter makes four per statement (cursor, execute, fetchall, close) and one
more to end a read-only transaction: most of the time of a simple request.
This adapter runs the whole statement in one call, and skips the commit or
rollback when SQLite has no transaction open (reads do not open one).
Passed to the engine as its DBAPI module (`module=`).

It subclasses SQLAlchemy's aiosqlite adapter classes and leans on private
attributes of them and of aiosqlite's Connection (`_execute`, `_conn`,
`_connection`), as SQLAlchemy's own adapter does. `missing_internals`
names what it relies on: `build_engine` falls back to SQLAlchemy's adapter
when any of it is gone, and a test fails on a release that changed it.
"""

import collections
import inspect
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


def run_statement(
    connection: sqlite3.Connection, operation: str, parameters: Any
) -> tuple[Any, Sequence[Any], int, int | None]:
    """Execute and fetch in the connection's thread: one hop in all."""
    cursor = connection.cursor()
    try:
        cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else ()
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def run_many(
    connection: sqlite3.Connection,
    operation: str,
    seq_of_parameters: Iterable[Any],
) -> tuple[int, int | None]:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ('_description', '_rowcount', '_lastrowid')

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No aiosqlite cursor (creating one would cost a hop of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description = None
        self._rowcount = -1
        self._lastrowid = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    # sqlite3's may be None, whatever the base class declares.
    @property
    def lastrowid(self) -> int | None:  # type: ignore[override]
        return self._lastrowid

    # Read-only: every row is fetched in the one hop, nothing to size.
    @property  # type: ignore[misc]
    def arraysize(self) -> int:
        return 1

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        async with self._adapt_connection._execute_mutex:
            result = await self._connection._execute(
                run_statement,
                self._connection._conn,
                operation,
                () if parameters is None else parameters,
            )
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows)

    async def _executemany_async(
        self, operation: Any, seq_of_parameters: Any
    ) -> None:
        async with self._adapt_connection._execute_mutex:
            self._rowcount, self._lastrowid = await self._connection._execute(
                run_many,
                self._connection._conn,
                operation,
                seq_of_parameters,
            )
        self._description = None

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor is closed already."""

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor

    def in_transaction(self) -> bool:
        # Reading the flag from this thread needs check_same_thread=False;
        # safe, as the connection is idle here: its thread waits for work.
        connection = self._connection._connection
        return connection is not None and connection.in_transaction

    def rollback(self) -> None:
        # A read opened no transaction: nothing to end, no hop spent.
        if self.in_transaction():
            super().rollback()

    def commit(self) -> None:
        if self.in_transaction():
            super().commit()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kwargs: Any) -> OneHopConnection:
        kwargs['check_same_thread'] = False
        adapted = super().connect(*args, **kwargs)
        return OneHopConnection(self, adapted._connection)


def dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)


def slots(cls: type) -> set[str]:
    """Every `__slots__` name of a class and its bases."""
    return {
        name
        for klass in cls.__mro__
        for name in getattr(klass, '__slots__', ())
    }


def parameters(owner: object, name: str) -> list[str]:
    """The parameter names of `owner.name`; [] if it is gone."""
    function = getattr(owner, name, None)
    return list(inspect.signature(function).parameters) if function else []


def names_used(owner: object, name: str) -> set[str]:
    """Global and attribute names the code of `owner.name` refers to."""
    code = getattr(getattr(owner, name, None), '__code__', None)
    return set(code.co_names) if code else set()


def missing_internals() -> list[str]:
    """What of SQLAlchemy's adapter and aiosqlite this module needs and does
    not find: empty when the one-hop driver works as designed."""
    cursor = AsyncAdapt_aiosqlite_cursor
    connection = AsyncAdapt_aiosqlite_connection
    checks = [
        (
            parameters(cursor, '_execute_async')
            == ['self', 'operation', 'parameters'],
            'AsyncAdapt_aiosqlite_cursor._execute_async(self, operation, '
            'parameters)',
        ),
        (
            parameters(cursor, '_executemany_async')
            == ['self', 'operation', 'seq_of_parameters'],
            'AsyncAdapt_aiosqlite_cursor._executemany_async(self, '
            'operation, seq_of_parameters)',
        ),
        (
            '_execute_async' in names_used(cursor, 'execute')
            and '_executemany_async' in names_used(cursor, 'executemany'),
            'AsyncAdapt_aiosqlite_cursor.execute/executemany awaiting '
            '_execute_async/_executemany_async',
        ),
        (
            callable(getattr(cursor, '_async_soft_close', None)),
            'AsyncAdapt_aiosqlite_cursor._async_soft_close',
        ),
        (
            {
                '_adapt_connection',
                '_connection',
                '_cursor',
                '_rows',
                '_soft_closed_memoized',
            }
            <= slots(cursor),
            'the slots _adapt_connection, _connection, _cursor, _rows and '
            '_soft_closed_memoized of AsyncAdapt_aiosqlite_cursor',
        ),
        (
            '_execute_mutex' in slots(connection)
            and '_cursor_cls' in names_used(connection, 'cursor'),
            'AsyncAdapt_aiosqlite_connection._execute_mutex, and cursor() '
            'building _cursor_cls',
        ),
        (
            inspect.iscoroutinefunction(
                getattr(aiosqlite.Connection, '_execute', None)
            )
            and parameters(aiosqlite.Connection, '_execute')
            == ['self', 'fn', 'args', 'kwargs'],
            'async aiosqlite.Connection._execute(self, fn, *args, **kwargs)',
        ),
        (
            isinstance(
                inspect.getattr_static(aiosqlite.Connection, '_conn', None),
                property,
            )
            and '_connection' in names_used(aiosqlite.Connection, '__init__'),
            'aiosqlite.Connection._conn and ._connection',
        ),
    ]
    return [what for present, what in checks if not present]
