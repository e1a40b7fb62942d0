"""The operator's account commands: create-user, set-active, set-superuser.

In-process through Typer's CliRunner for every branch, on a migrated
database of the suite's backend (a SQLite file, or PostgreSQL with
TEST_DATABASE_URL); then smoke tests of the installed `fast-zero` command
in a process of its own.
"""

import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from fast_zero import cli
from fast_zero.app import app
from fast_zero.database import build_engine
from fast_zero.settings import settings
from tests.helpers import login, serve_sessions_from, sync_url

ALEMBIC_INI = Path(__file__).resolve().parent.parent / 'alembic.ini'
PASSWORD = 'operator-secret'
LAST_SUPERUSER = 'fast_zero: At least one active superuser must remain\n'
USAGE_ERROR = 2


@pytest.fixture
def database_url(fresh_database_url, monkeypatch):
    """A migrated, empty database; the settings' DATABASE_URL."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option(
        'sqlalchemy.url', fresh_database_url.replace('%', '%%')
    )
    config.attributes['configure_logger'] = False
    command.upgrade(config, 'head')
    monkeypatch.setattr(settings, 'DATABASE_URL', fresh_database_url)
    return fresh_database_url


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli.app, list(args), input=stdin)


def database_line(url: str) -> str:
    shown = make_url(url).render_as_string(hide_password=True)
    return f'fast_zero: database: {shown}\n'


def stored_users(url: str) -> list[tuple]:
    """(id, username, email, is_active, is_superuser) of every user."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    'SELECT id, username, email, is_active, is_superuser'
                    ' FROM users ORDER BY id'
                )
            )
            return [
                (id_, name, email, bool(active), bool(superuser))
                for id_, name, email, active, superuser in rows
            ]
    finally:
        engine.dispose()


def token_key_of(url: str, user_id: int) -> str:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return connection.execute(
                text('SELECT token_key FROM users WHERE id = :id'),
                {'id': user_id},
            ).scalar_one()
    finally:
        engine.dispose()


def create(email: str, username: str, *options: str):
    return run(
        'create-user',
        '--email',
        email,
        '--username',
        username,
        '--password-stdin',
        *options,
        stdin=f'{PASSWORD}\n',
    )


# create-user


def test_create_user_from_stdin_creates_an_active_user(database_url):
    result = create('Alice@Example.com', 'alice')

    assert result.exit_code == 0
    assert result.stderr == (
        database_line(database_url) + 'fast_zero: created user 1\n'
    )
    assert stored_users(database_url) == [
        (1, 'alice', 'alice@example.com', True, False)
    ]


def test_create_user_superuser_flag_makes_a_superuser(database_url):
    result = create('root@example.com', 'root', '--superuser')

    assert result.exit_code == 0
    assert result.stderr.endswith('fast_zero: created superuser 1\n')
    assert stored_users(database_url) == [
        (1, 'root', 'root@example.com', True, True)
    ]


def test_created_user_logs_in_with_the_password(database_url):
    create('alice@example.com', 'alice', '--superuser')
    engine = build_engine(database_url)
    serve_sessions_from(engine)
    try:
        with TestClient(app) as client:
            response = login(client, 'alice@example.com', PASSWORD)
            token = response.json()['access_token']
            listed = client.get(
                '/admin/users', headers={'Authorization': f'Bearer {token}'}
            )
            client.portal.call(engine.dispose)
    finally:
        app.dependency_overrides.clear()

    assert response.status_code == HTTPStatus.OK
    assert listed.status_code == HTTPStatus.OK
    assert listed.json()['total'] == 1


def test_create_user_hashes_with_the_configured_argon2_cost(database_url):
    create('alice@example.com', 'alice')

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            hashed = connection.execute(
                text('SELECT password FROM users')
            ).scalar_one()
    finally:
        engine.dispose()
    assert hashed.startswith(
        f'$argon2id$v=19$m={settings.ARGON2_MEMORY_COST},'
        f't={settings.ARGON2_TIME_COST},p={settings.ARGON2_PARALLELISM}$'
    )
    assert PASSWORD not in hashed


def test_create_user_reads_stdin_only_to_the_first_newline(database_url):
    result = run(
        'create-user',
        '--email',
        'alice@example.com',
        '--username',
        'alice',
        '--password-stdin',
        stdin=f'{PASSWORD}\nsomething-else\n',
    )

    assert result.exit_code == 0
    engine = build_engine(database_url)
    serve_sessions_from(engine)
    try:
        with TestClient(app) as client:
            response = login(client, 'alice@example.com', PASSWORD)
            client.portal.call(engine.dispose)
    finally:
        app.dependency_overrides.clear()
    assert response.status_code == HTTPStatus.OK


def test_create_user_asks_for_the_password_twice_without_echo(database_url):
    result = run(
        'create-user',
        '--email',
        'alice@example.com',
        '--username',
        'alice',
        stdin=f'{PASSWORD}\n{PASSWORD}\n',
    )

    assert result.exit_code == 0
    assert result.stdout == 'Password: \nRepeat for confirmation: \n'
    assert PASSWORD not in result.output
    assert len(stored_users(database_url)) == 1


@pytest.mark.parametrize(
    ('email', 'username', 'password', 'reason'),
    [
        (
            'not-an-email',
            'alice',
            PASSWORD,
            'email: value is not a valid email address: An email address '
            'must have an @-sign.',
        ),
        (
            'alice@example.com',
            '',
            PASSWORD,
            'username: String should have at least 1 character',
        ),
        (
            'alice@example.com',
            'alice',
            'short',
            'password: String should have at least 6 characters',
        ),
    ],
    ids=['email', 'username', 'password'],
)
def test_create_user_with_an_invalid_field_exits_1_writing_nothing(
    database_url, email, username, password, reason
):
    result = run(
        'create-user',
        '--email',
        email,
        '--username',
        username,
        '--password-stdin',
        stdin=f'{password}\n',
    )

    assert result.exit_code == 1
    assert result.stderr == (
        database_line(database_url) + f'fast_zero: invalid user: {reason}\n'
    )
    assert password not in result.output
    assert stored_users(database_url) == []


@pytest.mark.parametrize(
    ('email', 'username', 'detail'),
    [
        ('other@example.com', 'alice', 'Username already exists'),
        ('ALICE@example.com', 'other', 'Email already exists'),
    ],
)
def test_create_user_with_a_taken_field_exits_1(
    database_url, email, username, detail
):
    create('alice@example.com', 'alice')

    result = create(email, username)

    assert result.exit_code == 1
    assert result.stderr.endswith(f'fast_zero: {detail}\n')
    assert len(stored_users(database_url)) == 1


def test_create_user_taken_after_the_check_exits_1(database_url, monkeypatch):
    create('alice@example.com', 'alice')

    async def nothing_taken(**_fields):
        return None

    monkeypatch.setattr('fast_zero.crud.find_taken_field', nothing_taken)

    result = create('alice@example.com', 'alice')

    assert result.exit_code == 1
    assert result.stderr.endswith(
        'fast_zero: Username or Email already exists\n'
    )
    assert len(stored_users(database_url)) == 1


def test_create_user_on_a_database_not_migrated_exits_1(
    fresh_database_url, monkeypatch
):
    monkeypatch.setattr(settings, 'DATABASE_URL', fresh_database_url)

    result = create('alice@example.com', 'alice')

    assert result.exit_code == 1
    [announced, refusal] = result.stderr.splitlines()
    assert announced == database_line(fresh_database_url).strip()
    assert refusal.startswith('fast_zero: the database refused: ')
    assert 'users' in refusal


@pytest.mark.parametrize(
    'args',
    [
        ('create-user', '--username', 'alice', '--password-stdin'),
        ('create-user', '--email', 'alice@example.com'),
        ('set-active', 'alice@example.com', 'maybe'),
        ('set-superuser', 'alice@example.com'),
        ('set-active',),
    ],
)
def test_usage_errors_exit_2_changing_nothing(database_url, args):
    result = run(*args, stdin=f'{PASSWORD}\n')

    assert result.exit_code == USAGE_ERROR
    assert 'Usage:' in result.stderr
    assert stored_users(database_url) == []


@pytest.mark.parametrize(
    ('name', 'summary'),
    [
        ('create-user', 'Create a user, validated as sign-up validates it.'),
        ('set-active', 'Activate or deactivate a user.'),
        ('set-superuser', 'Promote a user to superuser, or demote one.'),
    ],
)
def test_every_account_command_has_help(name, summary):
    result = run(name, '--help')

    assert result.exit_code == 0
    assert summary in result.stdout


# set-active and set-superuser


@pytest.fixture
def two_users(database_url):
    """A superuser (id 1) and a user (id 2)."""
    create('root@example.com', 'root', '--superuser')
    create('alice@example.com', 'alice')
    return database_url


def test_set_active_false_deactivates_and_ends_every_session(two_users):
    key_before = token_key_of(two_users, 2)

    result = run('set-active', 'Alice@Example.com', 'false')

    assert result.exit_code == 0
    assert result.stderr == (
        database_line(two_users) + 'fast_zero: user 2: is_active=false\n'
    )
    assert stored_users(two_users)[1] == (
        2,
        'alice',
        'alice@example.com',
        False,
        False,
    )
    assert token_key_of(two_users, 2) != key_before


def test_set_active_true_reactivates(two_users):
    run('set-active', 'alice@example.com', 'false')

    result = run('set-active', 'alice@example.com', 'true')

    assert result.exit_code == 0
    assert stored_users(two_users)[1][3:] == (True, False)


def test_set_superuser_true_then_false(two_users):
    promoted = run('set-superuser', 'alice@example.com', 'true')
    flags_promoted = stored_users(two_users)[1][3:]
    demoted = run('set-superuser', 'alice@example.com', 'false')

    assert (promoted.exit_code, demoted.exit_code) == (0, 0)
    assert promoted.stderr.endswith('fast_zero: user 2: is_superuser=true\n')
    assert flags_promoted == (True, True)
    assert stored_users(two_users)[1][3:] == (True, False)


@pytest.mark.parametrize(
    'args',
    [
        ('set-active', 'root@example.com', 'false'),
        ('set-superuser', 'root@example.com', 'false'),
    ],
)
def test_last_active_superuser_cannot_be_deactivated_or_demoted(
    two_users, args
):
    result = run(*args)

    assert result.exit_code == 1
    assert result.stderr == database_line(two_users) + LAST_SUPERUSER
    assert stored_users(two_users)[0][3:] == (True, True)


@pytest.mark.parametrize('name', ['set-active', 'set-superuser'])
def test_set_flag_of_an_unknown_email_exits_1(two_users, name):
    before = stored_users(two_users)

    result = run(name, 'nobody@example.com', 'true')

    assert result.exit_code == 1
    assert result.stderr.endswith('fast_zero: no user has that email\n')
    assert stored_users(two_users) == before


def test_database_url_is_shown_with_its_password_hidden(monkeypatch):
    monkeypatch.setattr(
        settings,
        'DATABASE_URL',
        'postgresql+psycopg://fast_zero:hunter22@127.0.0.1:1/nowhere',
    )

    result = run('set-active', 'alice@example.com', 'true')

    assert result.exit_code == 1
    assert result.stderr.startswith(
        'fast_zero: database: '
        'postgresql+psycopg://fast_zero:***@127.0.0.1:1/nowhere\n'
        'fast_zero: the database refused: '
    )
    assert 'hunter22' not in result.output


# The installed command, in a process of its own


def fast_zero_command(*args: str, url: str, stdin: str = ''):
    executable = Path(sys.executable).with_name('fast-zero')
    return subprocess.run(
        [str(executable), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, 'DATABASE_URL': url},
        check=False,
    )


def test_installed_command_creates_and_deactivates_a_user(database_url):
    created = fast_zero_command(
        'create-user',
        '--email',
        'root@example.com',
        '--username',
        'root',
        '--superuser',
        '--password-stdin',
        url=database_url,
        stdin=f'{PASSWORD}\n',
    )
    refused = fast_zero_command(
        'set-active', 'root@example.com', 'false', url=database_url
    )
    usage = fast_zero_command('set-superuser', url=database_url)

    assert (created.returncode, created.stderr) == (
        0,
        database_line(database_url) + 'fast_zero: created superuser 1\n',
    )
    assert (refused.returncode, refused.stderr) == (
        1,
        database_line(database_url) + LAST_SUPERUSER,
    )
    assert usage.returncode == USAGE_ERROR
    assert stored_users(database_url) == [
        (1, 'root', 'root@example.com', True, True)
    ]
