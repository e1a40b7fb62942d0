import socket
import threading
import time
from contextlib import closing
from http import HTTPStatus

import pytest
from sqlalchemy import text

from fast_zero.database import build_engine
from fast_zero.settings import settings
from tests.helpers import serve_sessions_from

COURSE_REVISION = 'a6b139a38fe0'  # the last of the course's own revisions

HEALTHY = {'status': 'ok', 'database': 'ok', 'migrations': 'ok'}
UNREACHABLE = {'status': 'error', 'database': 'unreachable'}


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_on_database(client):
    """Point the app's sessions at another database URL."""
    engines = []
    threads_before = set(threading.enumerate())

    def point_at(url):
        engine = build_engine(url, pooled=False)
        engines.append(engine)
        serve_sessions_from(engine)

    yield point_at
    for engine in engines:
        client.portal.call(engine.dispose)
    # aiosqlite stops the thread of a connection that failed to open on its
    # own, answering to the app's loop: let it finish while that loop runs.
    for thread in set(threading.enumerate()) - threads_before:
        if '_connection_worker_thread' in thread.name:
            thread.join(timeout=5)


def test_health_answers_ok_after_a_round_trip_to_the_database(client):
    response = client.get('/health')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == HEALTHY


@pytest.mark.parametrize('driver', ['psycopg', 'asyncpg'])
def test_health_answers_503_when_postgresql_is_not_listening(
    client, app_on_database, driver
):
    app_on_database(f'postgresql+{driver}://app@127.0.0.1:{free_port()}/app')

    response = client.get('/health')

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == UNREACHABLE


def test_health_answers_503_when_sqlite_cannot_open_the_file(
    client, app_on_database, tmp_path
):
    app_on_database(f'sqlite+aiosqlite:///{tmp_path / "missing" / "app.db"}')

    response = client.get('/health')

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == UNREACHABLE


def test_health_gives_up_after_its_timeout_on_a_silent_server(
    client, app_on_database, monkeypatch
):
    # A server that accepts connections and never answers: without the
    # health check's own timeout the probe would wait for the driver's.
    monkeypatch.setattr(settings, 'DATABASE_CONNECT_TIMEOUT_SECONDS', 60)
    monkeypatch.setattr(settings, 'HEALTH_CHECK_TIMEOUT_SECONDS', 0.2)
    with closing(socket.socket()) as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen()
        port = silent.getsockname()[1]
        app_on_database(f'postgresql+psycopg://app@127.0.0.1:{port}/app')

        started = time.monotonic()
        response = client.get('/health')
        waited = time.monotonic() - started

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == UNREACHABLE
    assert waited < settings.DATABASE_CONNECT_TIMEOUT_SECONDS / 2


def test_health_answers_503_migrations_pending_on_a_database_never_migrated(
    client, app_on_database, fresh_database_url
):
    app_on_database(fresh_database_url)

    response = client.get('/health')

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {
        'status': 'error',
        'database': 'ok',
        'migrations': 'pending',
    }


def test_health_answers_503_migrations_pending_at_an_older_revision(
    client, session
):
    client.portal.call(stamp_revision, session, COURSE_REVISION)

    response = client.get('/health')

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()['migrations'] == 'pending'


def test_health_answers_200_ahead_at_a_revision_this_code_does_not_know(
    client, session
):
    # A newer release migrated the database: not pending, still serving.
    client.portal.call(stamp_revision, session, 'f00dfeedbeef')

    response = client.get('/health')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {**HEALTHY, 'migrations': 'ahead'}


async def stamp_revision(session, revision):
    await session.execute(
        text('UPDATE alembic_version SET version_num = :revision'),
        {'revision': revision},
    )
    await session.commit()
