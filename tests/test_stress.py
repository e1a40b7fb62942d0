"""The real server under races, sustained writes and kill -9.

Each test migrates a fresh database (a SQLite file, or a new PostgreSQL
database when TEST_DATABASE_URL is set) with `alembic upgrade head`, starts
`uvicorn` on it and talks to it over TCP, many clients at once: no
dependency override, no shared connection serialising the requests. The
server's log must stay free of tracebacks and "database is locked".

The races run in `task test`; the sustained writers and the crash carry
the `slow` marker (`task stress`).
"""

import asyncio
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx2
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from tests.live_server import LiveServer, migrate

pytestmark = pytest.mark.asyncio

RACERS = 50
WRITERS = 8
WRITE_SECONDS = 10
SECONDS_BEFORE_KILL = 3
TODOS_PER_USER = 10
REQUEST_TIMEOUT_SECONDS = 30

PASSWORD = 'secret123'
SIGN_UP = {
    'username': 'alice',
    'email': 'alice@example.com',
    'password': PASSWORD,
}
USERNAME_TAKEN = {'detail': 'Username already exists'}
UPDATE_CONFLICT = {'detail': 'Username or Email already exists'}


def query(database_url: str, sql: str) -> list[tuple]:
    """Rows read straight from the database, not through the service."""
    url = make_url(database_url)
    if url.get_backend_name() == 'sqlite':
        with closing(sqlite3.connect(url.database)) as connection:
            return connection.execute(sql).fetchall()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def stored_users(database_url: str) -> dict[int, tuple]:
    rows = query(database_url, 'SELECT id, username, email FROM users')
    return {user_id: (username, email) for user_id, username, email in rows}


def stored_todos(database_url: str) -> dict[int, tuple]:
    rows = query(
        database_url,
        'SELECT id, user_id, title, description, state FROM todos',
    )
    return {todo_id: tuple(columns) for todo_id, *columns in rows}


@pytest.fixture
def server(fresh_database_url, tmp_path):
    """A migrated fresh database and uvicorn on it; stopped afterwards."""
    migrate(fresh_database_url)
    live_server = LiveServer(
        fresh_database_url,
        tmp_path / 'server.log',
        # Room in the hashing queue for every request in flight: these
        # tests are about the database, and each request must reach it.
        # A full pool's 503 is tested in-process, with a tiny pool.
        settings={
            'HASHING_QUEUE_SIZE': str(RACERS),
            # The longest allowed: the racing refreshes that lose must
            # all arrive within it, however loaded the machine.
            'REFRESH_REUSE_GRACE_SECONDS': '10',
        },
    )
    try:
        live_server.start()
        yield live_server
    finally:
        live_server.stop()
    alarm = live_server.first_alarm()
    assert not alarm, f'the server logged:\n{alarm}'


def connect(server: LiveServer) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=server.base_url,
        timeout=REQUEST_TIMEOUT_SECONDS,
        limits=httpx2.Limits(
            max_connections=RACERS, max_keepalive_connections=RACERS
        ),
    )


@pytest_asyncio.fixture
async def client(server):
    """A client with RACERS connections open already, so that racing
    requests leave at once instead of one TCP handshake after another."""
    async with connect(server) as client:
        await asyncio.gather(*(client.get('/') for _ in range(RACERS)))
        yield client


@pytest.fixture
def report(request, capsys):
    """Write a line to the terminal, past output capture: the counts a
    stress run exists to show."""
    terminal = request.config.pluginmanager.get_plugin('terminalreporter')

    def write_line(line: str) -> None:
        with capsys.disabled():
            terminal.write_line(f'{request.node.name}: {line}')

    return write_line


async def sign_up(client, username: str) -> dict:
    response = await client.post(
        '/users/',
        json={
            'username': username,
            'email': f'{username}@example.com',
            'password': PASSWORD,
        },
    )
    assert response.status_code == HTTPStatus.CREATED, response.text
    return response.json()


async def log_in(client, user: dict) -> dict:
    response = await client.post(
        '/auth/token', data={'username': user['email'], 'password': PASSWORD}
    )
    assert response.status_code == HTTPStatus.OK, response.text
    return {'Authorization': f'Bearer {response.json()["access_token"]}'}


async def test_fifty_identical_sign_ups_get_one_201_and_49_409(server, client):
    responses = await asyncio.gather(
        *(client.post('/users/', json=SIGN_UP) for _ in range(RACERS))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {HTTPStatus.CREATED: 1, HTTPStatus.CONFLICT: RACERS - 1}
    [created] = [
        response.json()
        for response in responses
        if response.status_code == HTTPStatus.CREATED
    ]
    assert created == {
        'id': created['id'],
        'username': 'alice',
        'email': 'alice@example.com',
    }
    assert [
        response.json()
        for response in responses
        if response.status_code == HTTPStatus.CONFLICT
    ] == [USERNAME_TAKEN] * (RACERS - 1)
    assert stored_users(server.database_url) == {
        created['id']: ('alice', 'alice@example.com')
    }


CONCURRENT_REFRESHES = 20
INVALID_GRANT = {
    'error': 'invalid_grant',
    'detail': 'Invalid or expired refresh token',
}


def refresh_with(client, refresh_token: str):
    return client.post(
        '/auth/token',
        data={'grant_type': 'refresh_token', 'refresh_token': refresh_token},
    )


async def test_concurrent_refreshes_with_one_token_rotate_it_once(
    server, client
):
    """A client refreshing from several tabs at once: one wins, the others
    are refused within the grace window without ending the session."""
    user = await sign_up(client, 'dora')
    login = await client.post(
        '/auth/token', data={'username': user['email'], 'password': PASSWORD}
    )
    assert login.status_code == HTTPStatus.OK, login.text
    refresh_token = login.json()['refresh_token']

    responses = await asyncio.gather(
        *(
            refresh_with(client, refresh_token)
            for _ in range(CONCURRENT_REFRESHES)
        )
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {
        HTTPStatus.OK: 1,
        HTTPStatus.BAD_REQUEST: CONCURRENT_REFRESHES - 1,
    }
    [winner] = [r.json() for r in responses if r.status_code == HTTPStatus.OK]
    assert [
        r.json() for r in responses if r.status_code == HTTPStatus.BAD_REQUEST
    ] == [INVALID_GRANT] * (CONCURRENT_REFRESHES - 1)
    # The session lives on: the winner's tokens work, exactly one refresh
    # token is usable afterwards (the new one), the old one is spent.
    me = await client.get(
        '/users/me',
        headers={'Authorization': f'Bearer {winner["access_token"]}'},
    )
    assert me.status_code == HTTPStatus.OK
    assert me.json() == user
    unspent = 'SELECT count(*) FROM refresh_tokens WHERE spent_at IS NULL'
    assert query(server.database_url, unspent) == [(1,)]
    next_refresh = await refresh_with(client, winner['refresh_token'])
    assert next_refresh.status_code == HTTPStatus.OK
    assert query(
        server.database_url, 'SELECT count(*) FROM user_sessions'
    ) == [(1,)]
    assert query(
        server.database_url,
        'SELECT count(*) FROM user_sessions WHERE revoked_at IS NULL',
    ) == [(1,)]


def rename_to_winner(client, method: str, user: dict, headers: dict):
    if method == 'PUT':
        return client.put(
            f'/users/{user["id"]}',
            headers=headers,
            json={
                'username': 'winner',
                'email': user['email'],
                'password': PASSWORD,  # unchanged: the token stays valid
            },
        )
    return client.patch(
        '/users/me', headers=headers, json={'username': 'winner'}
    )


@pytest.mark.parametrize('method', ['PUT', 'PATCH'])
async def test_two_users_racing_for_one_username_only_one_ever_gets_it(
    server, client, method
):
    users = [await sign_up(client, 'bob'), await sign_up(client, 'carol')]
    headers = [await log_in(client, user) for user in users]
    racers = [(users[n % 2], headers[n % 2]) for n in range(RACERS)]

    responses = await asyncio.gather(
        *(
            rename_to_winner(client, method, user, user_headers)
            for user, user_headers in racers
        )
    )

    # The first commit takes the name; the same user's other requests
    # rename it to what it holds (200), the other user's all meet it (409).
    [winner] = [
        user
        for user in users
        if stored_users(server.database_url)[user['id']][0] == 'winner'
    ]
    [loser] = [user for user in users if user is not winner]
    outcomes = Counter(
        (user['id'], response.status_code)
        for (user, _), response in zip(racers, responses, strict=True)
    )
    assert outcomes == {
        (winner['id'], HTTPStatus.OK): RACERS // 2,
        (loser['id'], HTTPStatus.CONFLICT): RACERS // 2,
    }
    for response in responses:
        assert response.json() == (
            {
                'id': winner['id'],
                'username': 'winner',
                'email': winner['email'],
            }
            if response.status_code == HTTPStatus.OK
            else UPDATE_CONFLICT
        )
    assert stored_users(server.database_url) == {
        winner['id']: ('winner', winner['email']),
        loser['id']: (loser['username'], loser['email']),
    }


@dataclass
class Ledger:
    """The rows the server acknowledged with a 201, by id."""

    users: dict[int, tuple] = field(default_factory=dict)
    todos: dict[int, tuple] = field(default_factory=dict)
    interrupted: int = 0  # requests cut short by a deliberate kill


async def write_until(stop: asyncio.Event, server, writer: int, ledger):
    """Sign up users, log each in and create todos, until `stop`.

    Any answer but the expected one fails the test at once. A dropped
    connection ends the writer quietly only once `stop` is set: the
    server was killed on purpose.
    """
    async with connect(server) as client:
        try:
            await write_rows(client, stop, writer, ledger)
        except httpx2.TransportError:
            if not stop.is_set():
                raise
            ledger.interrupted += 1


async def write_rows(client, stop: asyncio.Event, writer: int, ledger):
    round_number = 0
    while not stop.is_set():
        username = f'writer{writer}-{round_number}'
        user = await sign_up(client, username)
        ledger.users[user['id']] = (username, user['email'])
        headers = await log_in(client, user)
        for todo_number in range(TODOS_PER_USER):
            if stop.is_set():
                return
            title = f'{username}-{todo_number}'
            await create_todo(client, headers, user, title, ledger)
        round_number += 1


async def create_todo(client, headers, user, title, ledger) -> None:
    todo = {
        'title': title,
        'description': f'by {user["username"]}',
        'state': 'todo',
    }
    response = await client.post('/todos/', headers=headers, json=todo)
    assert response.status_code == HTTPStatus.CREATED, response.text
    created = response.json()
    assert created == {'id': created['id'], **todo}
    ledger.todos[created['id']] = (
        user['id'],
        todo['title'],
        todo['description'],
        todo['state'],
    )


async def run_writers(server, ledger, *, seconds: float, then=None):
    """WRITERS clients writing at once for `seconds`; `then` runs as they
    are stopped, their requests still in flight."""
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as writers:
        for writer in range(WRITERS):
            writers.create_task(write_until(stop, server, writer, ledger))
        await asyncio.sleep(seconds)
        stop.set()
        if then is not None:
            then()


def unstored(acknowledged: dict, stored: dict) -> dict:
    """The acknowledged rows the database does not hold as acknowledged."""
    return {
        row_id: row
        for row_id, row in acknowledged.items()
        if stored.get(row_id) != row
    }


@pytest.mark.slow
async def test_eight_writers_for_ten_seconds_lose_no_acknowledged_row(
    server, report
):
    ledger = Ledger()

    await run_writers(server, ledger, seconds=WRITE_SECONDS)

    assert ledger.users
    assert ledger.todos
    assert unstored(ledger.users, stored_users(server.database_url)) == {}
    assert unstored(ledger.todos, stored_todos(server.database_url)) == {}
    report(
        f'{WRITERS} writers for {WRITE_SECONDS} s: {len(ledger.users)} '
        f'users and {len(ledger.todos)} todos acknowledged, all stored'
    )


@pytest.mark.slow
async def test_rows_acknowledged_before_kill_9_are_there_after_restart(
    server, report
):
    ledger = Ledger()

    await run_writers(
        server, ledger, seconds=SECONDS_BEFORE_KILL, then=server.kill
    )
    migrate(server.database_url)  # again, on the crashed database
    server.start()

    assert ledger.interrupted > 0, 'the kill found no request in flight'
    users = stored_users(server.database_url)
    todos = stored_todos(server.database_url)
    assert unstored(ledger.users, users) == {}
    assert unstored(ledger.todos, todos) == {}
    if make_url(server.database_url).get_backend_name() == 'sqlite':
        integrity = query(server.database_url, 'PRAGMA integrity_check')
        assert integrity == [('ok',)]
    # The restarted service lets the newest todo's owner in, lists every
    # todo acknowledged to them and takes a new one.
    owner_id = ledger.todos[max(ledger.todos)][0]
    owners_todos = {
        todo_id: todo
        for todo_id, todo in ledger.todos.items()
        if todo[0] == owner_id
    }
    todo_after_restart = {
        'title': 'after',
        'description': 'restart',
        'state': 'done',
    }
    async with connect(server) as client:
        headers = await log_in(client, {'email': ledger.users[owner_id][1]})
        listed = await client.get('/todos/', headers=headers)
        created = await client.post(
            '/todos/', headers=headers, json=todo_after_restart
        )
    assert listed.status_code == HTTPStatus.OK
    listed_todos = {
        todo['id']: (
            owner_id,
            todo['title'],
            todo['description'],
            todo['state'],
        )
        for todo in listed.json()['todos']
    }
    assert unstored(owners_todos, listed_todos) == {}
    assert created.status_code == HTTPStatus.CREATED
    assert created.json() == {'id': created.json()['id'], **todo_after_restart}
    report(
        f'kill -9 after {SECONDS_BEFORE_KILL} s, {ledger.interrupted} '
        f'requests in flight: {len(ledger.users)} users and '
        f'{len(ledger.todos)} todos acknowledged, all present after restart '
        f'({len(users)} users and {len(todos)} todos stored)'
    )
