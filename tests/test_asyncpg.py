"""Serving through asyncpg, the faster PostgreSQL driver (see README).

The suite itself talks to PostgreSQL through psycopg: the sync TestClient
runs the app on another event loop than the test's, which asyncpg refuses.
A real uvicorn server has one loop, so asyncpg serves it. Only meaningful
on PostgreSQL: collected when TEST_DATABASE_URL is set (CI's second run).
"""

import os
from http import HTTPStatus

import httpx2
from sqlalchemy.engine import make_url

from tests.helpers import login
from tests.live_server import LiveServer, migrate

TEST_DATABASE_URL = os.environ.get('TEST_DATABASE_URL')


def with_asyncpg(url: str) -> str:
    return (
        make_url(url)
        .set(drivername='postgresql+asyncpg')
        .render_as_string(hide_password=False)
    )


if TEST_DATABASE_URL:

    def test_server_on_asyncpg_signs_up_logs_in_and_keeps_todos(
        fresh_database_url, tmp_path
    ):
        migrate(fresh_database_url)
        server = LiveServer(
            with_asyncpg(fresh_database_url),
            tmp_path / 'server.log',
            settings={},
        )
        server.start()
        try:
            with httpx2.Client(base_url=server.base_url) as client:
                created = client.post(
                    '/users/',
                    json={
                        'username': 'alice',
                        'email': 'alice@example.com',
                        'password': 'secret123',
                    },
                )
                token = login(client, 'alice@example.com', 'secret123').json()[
                    'access_token'
                ]
                headers = {'Authorization': f'Bearer {token}'}
                todo = client.post(
                    '/todos/',
                    headers=headers,
                    json={'title': 'Go', 'description': '', 'state': 'todo'},
                )
                listed = client.get('/todos/', headers=headers)
                health = client.get('/health')
        finally:
            server.stop()

        assert created.status_code == HTTPStatus.CREATED
        assert todo.status_code == HTTPStatus.CREATED
        assert listed.json() == {'todos': [todo.json()]}
        assert health.json() == {
            'status': 'ok',
            'database': 'ok',
            'migrations': 'ok',
        }
        assert 'Traceback' not in server.log()

    def test_server_on_asyncpg_keeps_sessions_and_rotates_refresh_tokens(
        fresh_database_url, tmp_path
    ):
        migrate(fresh_database_url)
        server = LiveServer(
            with_asyncpg(fresh_database_url),
            tmp_path / 'server.log',
            settings={'REFRESH_REUSE_GRACE_SECONDS': '0'},
        )
        server.start()
        try:
            with httpx2.Client(base_url=server.base_url) as client:
                client.post(
                    '/users/',
                    json={
                        'username': 'alice',
                        'email': 'alice@example.com',
                        'password': 'secret123',
                    },
                )
                phone = login(client, 'alice@example.com', 'secret123').json()
                laptop = login(client, 'alice@example.com', 'secret123')
                laptop = laptop.json()
                rotated = refresh(client, phone['refresh_token'])
                listed = client.get(
                    '/users/me/sessions', headers=bearer(laptop)
                )
                reused = refresh(client, phone['refresh_token'])
                phone_after_reuse = client.get(
                    '/users/me', headers=bearer(rotated.json())
                )
                logged_out = client.post(
                    '/auth/logout', headers=bearer(laptop)
                )
                laptop_after_logout = client.get(
                    '/users/me', headers=bearer(laptop)
                )
        finally:
            server.stop()

        assert rotated.status_code == HTTPStatus.OK
        assert set(rotated.json()) == {
            'access_token',
            'token_type',
            'expires_in',
            'refresh_token',
        }
        assert [s['current'] for s in listed.json()['sessions']] == [
            True,
            False,
        ]
        assert reused.status_code == HTTPStatus.BAD_REQUEST
        assert phone_after_reuse.status_code == HTTPStatus.UNAUTHORIZED
        assert logged_out.json() == {'message': 'Logged out'}
        assert laptop_after_logout.status_code == HTTPStatus.UNAUTHORIZED
        assert 'Traceback' not in server.log()


def bearer(tokens: dict) -> dict:
    return {'Authorization': f'Bearer {tokens["access_token"]}'}


def refresh(client, refresh_token: str):
    return client.post(
        '/auth/token',
        data={'grant_type': 'refresh_token', 'refresh_token': refresh_token},
    )
