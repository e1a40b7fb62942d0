"""Migrations on whichever backend the suite runs on.

A fresh empty database per test: a SQLite file, or a new PostgreSQL
database when TEST_DATABASE_URL is set (see `fresh_database_url`).
The SQLite-specific upgrade paths are in test_migrations.py.
"""

from http import HTTPStatus
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from fast_zero.app import app
from fast_zero.database import build_engine
from fast_zero.models import table_registry
from tests.helpers import login, serve_sessions_from, sync_url

ALEMBIC_INI = Path(__file__).resolve().parent.parent / 'alembic.ini'
SIGN_UP = {
    'username': 'alice',
    'email': 'Alice@Example.com',
    'password': 'secret123',
}


def app_tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {'alembic_version'}
    finally:
        engine.dispose()


@pytest.fixture
def alembic_config(fresh_database_url):
    config = Config(str(ALEMBIC_INI))
    config.set_main_option(
        'sqlalchemy.url', fresh_database_url.replace('%', '%%')
    )
    config.attributes['configure_logger'] = False
    return config


def test_upgrade_head_then_check_finds_no_drift(alembic_config):
    command.upgrade(alembic_config, 'head')

    command.check(alembic_config)  # raises on any difference


def test_downgrade_base_removes_every_table_and_upgrade_rebuilds(
    alembic_config, fresh_database_url
):
    command.upgrade(alembic_config, 'head')
    command.downgrade(alembic_config, 'base')

    assert app_tables(fresh_database_url) == set()

    command.upgrade(alembic_config, 'head')
    command.upgrade(alembic_config, 'head')  # a second time: no-op

    assert app_tables(fresh_database_url) == set(
        table_registry.metadata.tables
    )
    command.check(alembic_config)


def test_app_works_on_a_freshly_migrated_database(
    alembic_config, fresh_database_url
):
    command.upgrade(alembic_config, 'head')
    engine = build_engine(fresh_database_url)
    serve_sessions_from(engine)
    try:
        with TestClient(app) as client:
            created = client.post('/users/', json=SIGN_UP)
            token = login(client, 'alice@example.com', 'secret123').json()[
                'access_token'
            ]
            todo = client.post(
                '/todos/',
                headers={'Authorization': f'Bearer {token}'},
                json={'title': 'Migrate', 'description': '', 'state': 'todo'},
            )
            listed = client.get('/users/')
            client.portal.call(engine.dispose)
    finally:
        app.dependency_overrides.clear()

    assert created.status_code == HTTPStatus.CREATED
    assert created.json() == {
        'id': 1,
        'username': 'alice',
        'email': 'alice@example.com',
    }
    assert todo.status_code == HTTPStatus.CREATED
    assert listed.json() == {'users': [created.json()]}


ACCOUNT_FLAGS_REVISION = '9d4e7a1c3b52'  # users: is_active, is_superuser


def test_upgrade_makes_existing_users_active_and_none_superuser(
    alembic_config, fresh_database_url
):
    before = (
        ScriptDirectory
        .from_config(alembic_config)
        .get_revision(ACCOUNT_FLAGS_REVISION)
        .down_revision
    )
    command.upgrade(alembic_config, before)
    engine = create_engine(sync_url(fresh_database_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    'INSERT INTO users (username, password, email, token_key)'
                    " VALUES ('alice', 'hash', 'alice@example.com', 'key')"
                )
            )

        command.upgrade(alembic_config, 'head')

        with engine.connect() as connection:
            flags = connection.execute(
                text('SELECT is_active, is_superuser FROM users')
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in flags] == [(True, False)]
