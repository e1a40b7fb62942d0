"""Failures that explain themselves: a schema not at the Alembic head, an
unexpected error, a login sent as JSON, HEAD on GET routes."""

import logging
from http import HTTPStatus

import pytest
from alembic import command
from fastapi.testclient import TestClient

from fast_zero.app import app
from fast_zero.database import build_engine, get_session
from fast_zero.errors import SchemaNotAtHeadLog
from fast_zero.migration_state import NOT_AT_HEAD, alembic_config
from tests.helpers import auth, missing, serve_sessions_from

SIGN_UP = {
    'username': 'alice',
    'email': 'alice@example.com',
    'password': 'secret-password',
}
SCHEMA_NOT_AT_HEAD = {'detail': NOT_AT_HEAD}
INTERNAL_SERVER_ERROR = {'detail': 'Internal Server Error'}
# The revision before users.token_key: every user query needs that column.
BEFORE_TOKEN_KEY = 'e7d4b2a91c05'
FORM_EXPECTED = {
    'type': 'form_expected',
    'loc': ['body'],
    'msg': 'The login is a form (application/x-www-form-urlencoded): '
    'username=<email>&password=...',
}


@pytest.fixture
def app_on(client):
    """Point the app's sessions at a database URL (a real engine)."""
    engines = []

    def point_at(url):
        engine = build_engine(url, pooled=False)
        engines.append(engine)
        serve_sessions_from(engine)

    yield point_at
    for engine in engines:
        client.portal.call(engine.dispose)


@pytest.fixture
def schema_log(monkeypatch, caplog):
    """The errors' log, with the once-per-process line not yet written."""
    monkeypatch.setattr(SchemaNotAtHeadLog, 'logged', False)
    caplog.set_level(logging.ERROR, logger='fast_zero.errors')
    return caplog


def test_request_on_a_database_never_migrated_answers_503_and_logs_once(
    client, app_on, fresh_database_url, schema_log
):
    app_on(fresh_database_url)

    first = client.post('/users/', json=SIGN_UP)
    second = client.get('/users/1')

    assert (first.status_code, first.json()) == (
        HTTPStatus.SERVICE_UNAVAILABLE,
        SCHEMA_NOT_AT_HEAD,
    )
    assert (second.status_code, second.json()) == (
        HTTPStatus.SERVICE_UNAVAILABLE,
        SCHEMA_NOT_AT_HEAD,
    )
    assert [record.getMessage() for record in schema_log.records] == [
        NOT_AT_HEAD
    ]


def test_request_meeting_a_missing_column_answers_503(
    client, app_on, fresh_database_url, schema_log
):
    command.upgrade(alembic_config(fresh_database_url), BEFORE_TOKEN_KEY)
    app_on(fresh_database_url)

    response = client.post('/users/', json=SIGN_UP)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == SCHEMA_NOT_AT_HEAD


def test_other_database_errors_answer_json_500(app_on, client, tmp_path):
    # A file SQLite cannot open: an error, but not a missing table.
    app_on(f'sqlite+aiosqlite:///{tmp_path / "missing" / "app.db"}')
    with TestClient(app, raise_server_exceptions=False) as quiet_client:
        response = quiet_client.post('/users/', json=SIGN_UP)

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json() == {
        **INTERNAL_SERVER_ERROR,
        'request_id': response.headers['X-Request-ID'],
    }


def test_unexpected_error_answers_json_500(monkeypatch):
    async def broken_session():
        raise RuntimeError('the session factory broke')
        yield  # an async generator dependency, as get_session

    monkeypatch.setitem(app.dependency_overrides, get_session, broken_session)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post('/users/', json=SIGN_UP)

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.headers['content-type'] == 'application/json'
    assert response.json() == {
        **INTERNAL_SERVER_ERROR,
        'request_id': response.headers['X-Request-ID'],
    }


def test_login_sent_as_json_answers_422_saying_it_is_a_form(client, user):
    response = client.post(
        '/auth/token',
        json={'username': user.email, 'password': user.clean_password},
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [
            FORM_EXPECTED,
            missing(('body', 'username')),
            missing(('body', 'password')),
        ]
    }


def test_login_form_missing_a_field_gets_only_fastapis_errors(client, user):
    response = client.post('/auth/token', data={'username': user.email})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {'detail': [missing(('body', 'password'))]}


def test_json_body_with_errors_elsewhere_gets_no_form_item(client):
    response = client.post('/users/', json={})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert FORM_EXPECTED not in response.json()['detail']


@pytest.mark.parametrize('path', ['/', '/health', '/docs', '/openapi.json'])
def test_head_answers_as_get_without_the_body(client, path):
    get = client.get(path)

    head = client.head(path)

    assert head.status_code == get.status_code == HTTPStatus.OK
    assert head.content == b''
    assert head.headers['content-type'] == get.headers['content-type']
    assert head.headers['content-length'] == str(len(get.content))


def test_head_of_an_authenticated_get_checks_the_token(client, token):
    refused = client.head('/users/me')
    accepted = client.head('/users/me', headers=auth(token))

    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert refused.headers['WWW-Authenticate'] == 'Bearer'
    assert accepted.status_code == HTTPStatus.OK
    assert accepted.content == b''


def test_head_where_there_is_no_get_answers_405(client):
    response = client.head('/auth/token')

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.headers['Allow'] == 'POST'
    assert response.content == b''


def test_allow_lists_head_beside_get(client):
    response = client.delete('/health')

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {'detail': 'Method Not Allowed'}
    assert response.headers['Allow'] == 'GET, HEAD'


def test_head_is_not_in_the_openapi_schema(client):
    paths = client.get('/openapi.json').json()['paths']

    assert not [
        (path, method)
        for path, operations in paths.items()
        for method in operations
        if method == 'head'
    ]
    assert 'get' in paths['/health']
