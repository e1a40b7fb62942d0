"""No secret in any log line or error body (DESIGN H), at DEBUG.

One full flow on the service's own engine (`build_engine`) with the app's
logging as a bare `uvicorn` gets it, LOG_LEVEL=DEBUG: sign-up, logins (a
wrong one too), a refresh, password changes, a token in a query string, a
production scrape with METRICS_TOKEN, a forced database error on the
statement that stores a password hash, a logout. Then every secret the
flow made or used is looked for in everything written: the app's log
stream, pytest's caplog at DEBUG, stdout and stderr, and the 500's body.
"""

import json
import logging
import re
from http import HTTPStatus

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from fast_zero.app import app
from fast_zero.database import build_engine, build_session_factory
from fast_zero.models import User, table_registry
from fast_zero.settings import settings
from tests.helpers import auth, login
from tests.test_observability import bare_logging, failing_statement

PASSWORDS = ['first-S3cret-pass', 'second-S3cret-pass', 'third-S3cret-pass']
METRICS_TOKEN = 'metrics-S3cret-token-0123456789abcdef'
EMAIL = 'secret-keeper@example.com'
TOKEN_KEY_SHAPE = re.compile(r'(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])')
# (method, path, status) of each request, as the access log records it.
FLOW = [
    ('POST', '/users/', HTTPStatus.CREATED),
    ('POST', '/auth/token', HTTPStatus.OK),
    ('GET', '/users/me', HTTPStatus.OK),
    ('GET', '/users/me', HTTPStatus.UNAUTHORIZED),
    ('POST', '/auth/refresh_token', HTTPStatus.OK),
    ('PUT', '/users/me/password', HTTPStatus.OK),
    ('POST', '/auth/token', HTTPStatus.UNAUTHORIZED),
    ('PUT', '/users/me/password', HTTPStatus.INTERNAL_SERVER_ERROR),
    ('GET', '/metrics', HTTPStatus.OK),
    ('POST', '/auth/logout', HTTPStatus.OK),
]


async def create_tables(engine):
    async with engine.begin() as conn:
        await conn.run_sync(table_registry.metadata.create_all)


async def stored_secrets(factory):
    async with factory() as session:
        row = (
            await session.execute(
                select(User.password, User.token_key).where(
                    User.email == EMAIL
                )
            )
        ).one()
    return list(row)


def run_flow(client, secrets, portal_call):
    """The flow; every token and stored secret it meets joins `secrets`."""
    response = client.post(
        '/users/',
        json={'username': 'keeper', 'email': EMAIL, 'password': PASSWORDS[0]},
    )
    secrets += portal_call()

    response = login(client, EMAIL, PASSWORDS[0])
    token = response.json()['access_token']
    secrets.append(token)
    client.get('/users/me', headers=auth(token))
    client.get(f'/users/me?token={token}')

    response = client.post('/auth/refresh_token', headers=auth(token))
    token = response.json()['access_token']
    secrets.append(token)

    response = client.put(
        '/users/me/password',
        headers=auth(token),
        json={'current_password': PASSWORDS[0], 'new_password': PASSWORDS[1]},
    )
    token = response.json()['access_token']
    secrets.append(token)
    secrets += portal_call()

    login(client, EMAIL, 'wrong-' + PASSWORDS[1])
    return token


def test_no_secret_in_any_log_line_or_error_body(
    fresh_database_url, monkeypatch, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(settings, 'LOG_LEVEL', 'DEBUG')
    monkeypatch.setattr(settings, 'LOG_FORMAT', 'json')
    engine = build_engine(fresh_database_url)
    factory = build_session_factory(engine)
    secrets = [*PASSWORDS, settings.SECRET_KEY, METRICS_TOKEN]
    bodies = []
    app.state.engine, app.state.session_factory = engine, factory
    try:
        # The lifespan sets logging up, on stderr.
        with bare_logging():
            with TestClient(app) as client:
                client.portal.call(create_tables, engine)

                def portal_call():
                    return client.portal.call(stored_secrets, factory)

                token = run_flow(client, secrets, portal_call)
                with failing_statement(engine, 'UPDATE users'):
                    response = client.put(
                        '/users/me/password',
                        headers=auth(token),
                        json={
                            'current_password': PASSWORDS[1],
                            'new_password': PASSWORDS[2],
                        },
                    )
                bodies.append(response.text)

                with monkeypatch.context() as production:
                    production.setattr(settings, 'ENVIRONMENT', 'production')
                    production.setattr(
                        settings, 'METRICS_TOKEN', SecretStr(METRICS_TOKEN)
                    )
                    client.get('/metrics', headers=auth(METRICS_TOKEN))

                client.post('/auth/logout', headers=auth(token))
                secrets += portal_call()
                client.portal.call(engine.dispose)
    finally:
        del app.state.engine, app.state.session_factory

    captured = capfd.readouterr()
    written = captured.err
    everything = '\n'.join([written, caplog.text, captured.out, *bodies])
    # The flow logged what it should: the forced error, the requests.
    assert 'Unhandled exception' in written
    assert 'FORCED SYNTAX ERROR' in written
    access = [
        (line['method'], line['path'], line['status'])
        for line in map(json.loads, written.splitlines())
        if line['logger'] == 'fast_zero.access'
    ]
    assert access == FLOW
    leaked = [secret for secret in secrets if secret in everything]
    assert leaked == []
    # Those the failed statement made and never stored (a hash of the
    # third password, a new token key) have these shapes.
    assert '$argon2' not in everything
    assert not TOKEN_KEY_SHAPE.search(everything)
