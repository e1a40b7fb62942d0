"""Helpers the test modules share: requests, expected bodies, assertions."""

from functools import cache
from http import HTTPStatus

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from fast_zero.app import app
from fast_zero.crud import open_session, utc_now
from fast_zero.database import get_session
from fast_zero.migration_state import alembic_config
from fast_zero.models import User
from fast_zero.security import issue_session_tokens
from fast_zero.settings import settings

CREDENTIALS_ERROR = {'detail': 'Could not validate credentials'}
INVALID_GRANT = {
    'error': 'invalid_grant',
    'detail': 'Invalid or expired refresh token',
}
# secrets.token_urlsafe(32): 32 random bytes, 43 characters.
REFRESH_TOKEN_MIN_LENGTH = 43


def auth(token):
    return {'Authorization': f'Bearer {token}'}


def public(user):
    return {'id': user.id, 'username': user.username, 'email': user.email}


def login(client, email, password, **request):
    return client.post(
        '/auth/token',
        data={'username': email, 'password': password},
        **request,
    )


def login_token(client, user, **request):
    response = login(client, user.email, user.clean_password, **request)
    assert response.status_code == HTTPStatus.OK
    return response.json()['access_token']


def login_tokens(client, user, **request):
    """Log in: the answer's body (access and refresh tokens)."""
    response = login(client, user.email, user.clean_password, **request)
    assert response.status_code == HTTPStatus.OK
    return response.json()


def refresh_grant(client, refresh_token):
    return client.post(
        '/auth/token',
        data={'grant_type': 'refresh_token', 'refresh_token': refresh_token},
    )


def put_self(client, user, token, password):
    return client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': user.username,
            'email': user.email,
            'password': password,
        },
    )


def validation_error(*errors):
    return {'detail': list(errors)}


# Pydantic's errors as the API answers them (422 `detail` items, no
# `input`); `loc` is a tuple such as ('body', 'title').


def missing(loc):
    return {'type': 'missing', 'loc': list(loc), 'msg': 'Field required'}


def not_a_string(loc):
    return {
        'type': 'string_type',
        'loc': list(loc),
        'msg': 'Input should be a valid string',
    }


def too_short(loc, min_length):
    plural = 's' if min_length > 1 else ''
    return {
        'type': 'string_too_short',
        'loc': list(loc),
        'msg': f'String should have at least {min_length} character{plural}',
        'ctx': {'min_length': min_length},
    }


def too_long(loc, max_length):
    return {
        'type': 'string_too_long',
        'loc': list(loc),
        'msg': f'String should have at most {max_length} characters',
        'ctx': {'max_length': max_length},
    }


def invalid_email(reason):
    """email-validator's refusal of a body's `email`."""
    return {
        'type': 'value_error',
        'loc': ['body', 'email'],
        'msg': f'value is not a valid email address: {reason}',
        'ctx': {'reason': reason},
    }


def out_of_bounds(loc, bound, value):
    kind, word = {
        'ge': ('greater_than_equal', 'greater'),
        'le': ('less_than_equal', 'less'),
    }[bound]
    return {
        'type': kind,
        'loc': list(loc),
        'msg': f'Input should be {word} than or equal to {value}',
        'ctx': {bound: value},
    }


async def read_user_row(session, user_id):
    """The row as the database has it now, not as the session remembers."""
    session.expire_all()
    return await session.scalar(select(User).where(User.id == user_id))


def assert_access_token_answer(response, *, extra=()):
    """A 200 with a bearer access token and its lifetime (and the `extra`
    fields); the body."""
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body == {
        'access_token': body['access_token'],
        'token_type': 'bearer',
        'expires_in': body['expires_in'],
        **{field: body[field] for field in extra},
    }
    assert isinstance(body['access_token'], str)
    assert type(body['expires_in']) is int
    assert 0 < body['expires_in'] <= settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60
    return body


def assert_token_answer(response):
    """A 200 with an access token and a refresh token; the body."""
    body = assert_access_token_answer(response, extra=['refresh_token'])
    assert isinstance(body['refresh_token'], str)
    assert len(body['refresh_token']) >= REFRESH_TOKEN_MIN_LENGTH
    return body


def assert_credentials_rejected(response):
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    assert response.headers['WWW-Authenticate'] == 'Bearer'


def assert_accepted(response, user):
    assert response.status_code == HTTPStatus.OK
    assert response.json() == public(user)


def serve_sessions_from(engine: AsyncEngine) -> async_sessionmaker:
    """Give each request a session of its own on `engine`, as production
    does (the `session` fixture shares one); returns their factory."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def session_per_request():
        async with sessions() as session:
            yield session

    app.dependency_overrides[get_session] = session_per_request
    return sessions


def stamp_head(connection, revision='head') -> None:
    """Record `revision` in the database, as `alembic stamp --purge` does:
    tables made from the models are the head's (`alembic check` proves it).
    Whatever an earlier test recorded (an unknown revision) goes first."""
    connection.execute(text('DROP TABLE IF EXISTS alembic_version'))
    MigrationContext.configure(connection).stamp(migration_scripts(), revision)


@cache
def migration_scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def sync_url(url: str) -> str:
    """The same database through a sync driver, for inspection."""
    parsed = make_url(url)
    driver = 'sqlite' if parsed.get_backend_name() == 'sqlite' else None
    return parsed.set(
        drivername=driver or 'postgresql+psycopg'
    ).render_as_string(hide_password=False)


async def session_tokens(session, user) -> dict:
    """The tokens of a new session of `user`, opened straight in the
    database (as a login would, without its hashing)."""
    opened = await open_session(
        session=session,
        user_id=user.id,
        user_agent='tests',
        address=None,
        now=utc_now(),
    )
    await session.commit()
    return issue_session_tokens(user, opened)
