"""The `fast-zero` launcher: one-line refusals, migrations, then serving."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from fast_zero import cli
from fast_zero.database import build_engine
from fast_zero.migration_state import alembic_config, known_revisions
from fast_zero.settings import DEVELOPMENT_SECRET_KEY, settings
from tests.live_server import (
    POLL_INTERVAL_SECONDS,
    REPO_ROOT,
    STARTUP_TIMEOUT_SECONDS,
    free_port,
    server_environment,
)

SECRET_KEY_REFUSAL = (
    'fast_zero: SECRET_KEY: the development default is refused with '
    'ENVIRONMENT=production; set a random one: '
    'python -c "import secrets; print(secrets.token_urlsafe(48))"'
)
LAUNCHER = Path(sys.executable).parent / 'fast-zero'
UNKNOWN_REVISION = 'f00dfeedbeef'


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def database_url(monkeypatch, fresh_database_url):
    """The launcher acts on a fresh database (DATABASE_URL)."""
    monkeypatch.setattr(settings, 'DATABASE_URL', fresh_database_url)
    return fresh_database_url


def stamp(url: str, revision: str) -> None:
    """Record a revision by hand: Alembic refuses one it does not know."""
    asyncio.run(
        execute(url, f"UPDATE alembic_version SET version_num = '{revision}'")
    )


def test_migrate_brings_a_fresh_database_to_the_head(runner, database_url):
    result = runner.invoke(cli.app, ['migrate'])

    assert result.exit_code == 0, result.output
    shown = make_url(database_url).render_as_string()
    assert f'fast_zero: database: {shown}' in result.stderr
    assert cli.read_revision(database_url) == known_revisions()[0]


def test_migrate_refuses_a_database_at_an_unknown_revision(
    runner, database_url
):
    cli.upgrade_to_head(database_url)
    stamp(database_url, UNKNOWN_REVISION)

    result = runner.invoke(cli.app, ['migrate'])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f'fast_zero: DATABASE_URL: the database is at revision '
        f'{UNKNOWN_REVISION}, which this code does not know (a newer release '
        'migrated it); migrate it with that release'
    )


def test_unreachable_database_is_one_line_and_exit_1(tmp_path):
    url = f'sqlite+aiosqlite:///{tmp_path / "missing" / "app.db"}'

    result = run_launcher(['migrate'], server_environment(url, {}))

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f'fast_zero: database: {url}',
        'fast_zero: DATABASE_URL: the database does not answer (unable to '
        'open database file); check DATABASE_URL and that the database is '
        'running',
    ]


def test_database_is_shown_with_its_password_hidden(runner, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setattr(
        settings,
        'DATABASE_URL',
        f'postgresql+psycopg://app:hunter2-secret@127.0.0.1:{port}/app',
    )

    result = runner.invoke(cli.app, ['migrate'])

    assert result.exit_code == 1
    assert 'hunter2-secret' not in result.output
    assert result.stderr.splitlines()[0] == (
        f'fast_zero: database: postgresql+psycopg://app:***@127.0.0.1:{port}/app'
    )
    assert result.stderr.splitlines()[1].startswith(
        'fast_zero: DATABASE_URL: the database does not answer ('
    )


def test_failed_migration_is_one_line_and_exit_1(runner, database_url):
    # The course's first revision, then its table dropped behind
    # Alembic's back: the next revision cannot alter it.
    command.upgrade(alembic_config(database_url), '74f39286e2f6')
    asyncio.run(execute(database_url, 'DROP TABLE users'))

    result = runner.invoke(cli.app, ['migrate'])

    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith('fast_zero: DATABASE_URL: the migrations failed (')
    assert last.endswith('; fix the database, then run alembic upgrade head')


async def execute(url: str, statement: str) -> None:
    engine = build_engine(url, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


def test_invalid_settings_are_one_line_each_and_exit_1(runner, monkeypatch):
    # Settings are read as fast_zero.settings is imported: import it anew.
    monkeypatch.delitem(sys.modules, 'fast_zero.settings')
    monkeypatch.setenv('ENVIRONMENT', 'production')
    monkeypatch.setenv('SECRET_KEY', DEVELOPMENT_SECRET_KEY)
    monkeypatch.setenv('ARGON2_TIME_COST', 'three')

    result = runner.invoke(cli.app, ['serve'])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        SECRET_KEY_REFUSAL,
        'fast_zero: ARGON2_TIME_COST: Input should be a valid integer, '
        'unable to parse string as an integer; set ARGON2_TIME_COST in the '
        'environment or in .env',
    ]
    assert 'three' not in result.stderr.replace('a valid', '')


def test_prepare_database_warns_about_an_unknown_revision_and_serves_on(
    database_url, capsys
):
    cli.upgrade_to_head(database_url)
    stamp(database_url, UNKNOWN_REVISION)
    capsys.readouterr()  # the migrations' log

    cli.prepare_database(database_url)

    assert capsys.readouterr().err.splitlines() == [
        f'fast_zero: WARNING: the database is at revision {UNKNOWN_REVISION}, '
        'which this code does not know (a newer release migrated it); '
        'serving anyway'
    ]
    assert cli.read_revision(database_url) == UNKNOWN_REVISION


def test_prepare_database_migrates_an_older_revision(database_url):
    command.upgrade(alembic_config(database_url), 'a6b139a38fe0')

    cli.prepare_database(database_url)

    assert cli.read_revision(database_url) == known_revisions()[0]


def run_launcher(args, environment, *, timeout=60):
    return subprocess.run(
        [str(LAUNCHER), *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_launcher_refuses_the_development_secret_in_production(tmp_path):
    environment = server_environment(
        f'sqlite+aiosqlite:///{tmp_path / "app.db"}',
        {'ENVIRONMENT': 'production'},
    )
    environment.pop('SECRET_KEY', None)

    result = run_launcher(['serve'], environment)

    assert result.returncode == 1
    assert result.stderr == SECRET_KEY_REFUSAL + '\n'
    assert not (tmp_path / 'app.db').exists()


def test_launcher_migrates_a_fresh_database_then_serves(tmp_path):
    database = tmp_path / 'app.db'
    port = free_port()
    environment = server_environment(f'sqlite+aiosqlite:///{database}', {})
    log_path = tmp_path / 'serve.log'
    with log_path.open('w') as log:
        server = subprocess.Popen(
            [str(LAUNCHER), 'serve', '--port', str(port)],
            cwd=REPO_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        health = wait_for_json(f'http://127.0.0.1:{port}/health', server)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert health == {'status': 'ok', 'database': 'ok', 'migrations': 'ok'}
    log = log_path.read_text()
    assert log.startswith(
        f'fast_zero: database: sqlite+aiosqlite:///{database}'
    )
    assert 'Running upgrade' in log


def wait_for_json(url: str, server: subprocess.Popen) -> dict:
    """The first answer of a starting server (it must not exit first)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, 'the launcher exited'
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(POLL_INTERVAL_SECONDS)
    raise AssertionError(f'no answer from {url}')
