import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import jwt
import pytest
from fastapi import HTTPException
from freezegun import freeze_time

from fast_zero import security
from fast_zero.hashing import build_password_hash
from fast_zero.models import User
from fast_zero.security import (
    MAX_ID,
    create_access_token,
    decode_token,
    get_caller,
    get_current_user,
    get_password_hash,
    get_password_hash_async,
    verify_password,
    verify_password_async,
)
from fast_zero.settings import settings
from tests.helpers import (
    assert_accepted,
    assert_credentials_rejected,
    login,
    login_token,
    put_self,
)

ISSUED_AT = datetime(2025, 1, 1, 12, tzinfo=UTC)
OMITTED = object()
OTHER_KEY = 'another-secret-key-of-a-decent-length-0123456789'


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def forge_token(
    payload: dict,
    *,
    alg: str = 'HS256',
    key: str | None = None,
) -> str:
    """A JWT built by hand, so nothing in PyJWT refuses to make it."""
    header = b64url(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())
    body = b64url(json.dumps(payload).encode())
    signing_input = f'{header}.{body}'
    if alg == 'none':
        return f'{signing_input}.'
    digestmod = {'HS256': hashlib.sha256, 'HS512': hashlib.sha512}[alg]
    signature = hmac.new(
        (key or settings.SECRET_KEY).encode(),
        signing_input.encode(),
        digestmod,
    ).digest()
    return f'{signing_input}.{b64url(signature)}'


def in_an_hour() -> int:
    return int((datetime.now(tz=UTC) + timedelta(hours=1)).timestamp())


def now() -> int:
    return int(datetime.now(tz=UTC).timestamp())


def valid_claims(user, session_id) -> dict:
    """What a login puts in a token, valid for an hour."""
    return {
        'sub': str(user.id),
        'key': user.token_key,
        'sid': session_id,
        'iat': now(),
        'exp': in_an_hour(),
    }


def live_session_id(client, user) -> int:
    """The id of a new session of the user (a login)."""
    return jwt.decode(
        login_token(client, user),
        settings.SECRET_KEY,
        algorithms=[settings.ALGORITHM],
    )['sid']


def update_self(client, user, token):
    """A protected request that succeeds (200) only with a valid token."""
    return put_self(client, user, token, user.clean_password)


# create_access_token


def test_create_access_token_does_not_mutate_its_input():
    data = {'sub': '1'}

    create_access_token(data)

    assert data == {'sub': '1'}


def test_create_access_token_adds_iat_and_exp_30_minutes_later():
    with freeze_time(ISSUED_AT):
        token = create_access_token({'sub': '1', 'scope': 'x'})
        payload = jwt.decode(
            token, settings.SECRET_KEY, algorithms=[settings.ALGORITHM]
        )

    assert payload == {
        'sub': '1',
        'scope': 'x',
        'iat': int(ISSUED_AT.timestamp()),
        'exp': int((ISSUED_AT + timedelta(minutes=30)).timestamp()),
    }


def test_create_access_token_follows_the_expiry_setting(monkeypatch):
    monkeypatch.setattr(settings, 'ACCESS_TOKEN_EXPIRE_MINUTES', 5)

    with freeze_time(ISSUED_AT):
        token = create_access_token({'sub': '1'})
        payload = jwt.decode(
            token, settings.SECRET_KEY, algorithms=[settings.ALGORITHM]
        )

    assert (
        payload['exp'] - payload['iat'] == timedelta(minutes=5).total_seconds()
    )


def test_create_access_token_signs_with_the_settings_algorithm():
    token = create_access_token({'sub': '1'})

    assert jwt.get_unverified_header(token) == {
        'alg': settings.ALGORITHM,
        'typ': 'JWT',
    }


# decode_token: the claims a token carries, checked before any query


@pytest.mark.parametrize('user_id', [1, 42, MAX_ID])
def test_decode_token_returns_the_id_key_and_session(user_id):
    token = create_access_token({
        'sub': str(user_id),
        'key': 'k' * 32,
        'sid': MAX_ID,
    })

    claims = decode_token(token)

    assert claims.user_id == user_id
    assert claims.token_key == 'k' * 32
    assert claims.session_id == MAX_ID


@pytest.mark.parametrize(
    'claims',
    [
        {'sub': str(MAX_ID + 1), 'key': 'k', 'sid': 1},
        {'sub': '9999999999', 'key': 'k', 'sid': 1},
        {'sub': '0', 'key': 'k', 'sid': 1},
        {'sub': '1', 'sid': 1},
        {'sub': '1', 'key': 123, 'sid': 1},
        {'sub': '1', 'key': 'k'},
        {'sub': '1', 'key': 'k', 'sid': '1'},
        {'sub': '1', 'key': 'k', 'sid': 0},
        {'sub': '1', 'key': 'k', 'sid': MAX_ID + 1},
    ],
    ids=[
        'above-max-id',
        'ten-digits',
        'zero',
        'without-key',
        'integer-key',
        'without-session-id',
        'session-id-not-a-number',
        'session-id-zero',
        'session-id-above-max-id',
    ],
)
def test_decode_token_refuses_bad_claims(claims):
    token = create_access_token(claims)

    with pytest.raises(HTTPException) as error:
        decode_token(token)

    assert error.value.status_code == HTTPStatus.UNAUTHORIZED
    assert error.value.detail == 'Could not validate credentials'


def test_decode_token_checks_expiry_of_a_token_it_accepted_before():
    """Accepted claims are remembered; the clock is read on every call."""
    with freeze_time('2025-01-01 12:00:00'):
        token = create_access_token({'sub': '1', 'key': 'k', 'sid': 1})

    with freeze_time('2025-01-01 12:29:59'):
        assert decode_token(token).user_id == 1

    with (
        freeze_time('2025-01-01 12:30:00'),
        pytest.raises(HTTPException) as error,
    ):
        decode_token(token)

    assert error.value.status_code == HTTPStatus.UNAUTHORIZED


def test_decode_token_refuses_a_token_issued_in_the_future():
    with freeze_time('2025-01-01 12:00:00'):
        token = create_access_token({'sub': '1', 'key': 'k', 'sid': 1})
        assert decode_token(token).user_id == 1

    with (
        freeze_time('2025-01-01 11:59:59'),
        pytest.raises(HTTPException) as error,
    ):
        decode_token(token)

    assert error.value.status_code == HTTPStatus.UNAUTHORIZED


def test_decode_token_refuses_a_token_it_accepted_once_the_key_changes(
    monkeypatch,
):
    token = create_access_token({'sub': '1', 'key': 'k', 'sid': 1})
    assert decode_token(token).user_id == 1

    monkeypatch.setattr(settings, 'SECRET_KEY', OTHER_KEY)

    with pytest.raises(HTTPException) as error:
        decode_token(token)

    assert error.value.status_code == HTTPStatus.UNAUTHORIZED


# get_current_user and get_caller, called as functions (as course tests do)


@pytest.mark.asyncio
async def test_get_current_user_gives_the_tokens_user(session, user, token):
    current_user = await get_current_user(session=session, token=token)

    assert isinstance(current_user, User)
    assert current_user.id == user.id


@pytest.mark.asyncio
async def test_get_caller_gives_the_tokens_user_as_a_row(session, user, token):
    caller = await get_caller(session=session, token=token)

    assert (caller.id, caller.username, caller.email) == (
        user.id,
        user.username,
        user.email,
    )


@pytest.mark.parametrize('dependency', [get_current_user, get_caller])
@pytest.mark.parametrize('bad_token', [None, '', 'token-invalido'])
@pytest.mark.asyncio
async def test_user_dependencies_refuse_a_bad_token(
    session, user, dependency, bad_token
):
    with pytest.raises(HTTPException) as error:
        await dependency(session=session, token=bad_token)

    assert error.value.status_code == HTTPStatus.UNAUTHORIZED
    assert error.value.detail == 'Could not validate credentials'


@pytest.mark.parametrize('no_token', [None, ''])
def test_decode_token_without_token_raises_401(no_token):
    with pytest.raises(HTTPException) as error:
        decode_token(no_token)

    assert error.value.status_code == HTTPStatus.UNAUTHORIZED
    assert error.value.headers == {'WWW-Authenticate': 'Bearer'}


# Which tokens the protected routes accept


def test_forged_token_with_the_right_key_is_accepted(client, user):
    """The control for the rejections below: the forging itself works."""
    token = forge_token(valid_claims(user, live_session_id(client, user)))

    response = update_self(client, user, token)

    assert_accepted(response, user)


def test_token_before_expiry_is_accepted(client, user):
    with freeze_time('2025-01-01 12:00:00'):
        token = login_token(client, user)

    with freeze_time('2025-01-01 12:29:00'):
        response = update_self(client, user, token)

    assert_accepted(response, user)


def test_expired_token_returns_401(client, user):
    with freeze_time('2025-01-01 12:00:00'):
        token = login_token(client, user)

    with freeze_time('2025-01-01 12:31:00'):
        response = update_self(client, user, token)

    assert_credentials_rejected(response)


@pytest.mark.parametrize(
    ('claims', 'options'),
    [
        ({}, {'key': OTHER_KEY}),
        ({}, {'alg': 'none'}),
        ({}, {'alg': 'HS512'}),
        ({'sub': OMITTED}, {}),
        ({'exp': OMITTED}, {}),
        ({'sub': 1}, {}),
        ({'sub': 'abc'}, {}),
        ({'sub': ''}, {}),
        ({'sub': '0'}, {}),
        ({'sub': '-1'}, {}),
        ({'sub': '01'}, {}),
        ({'sub': '+1'}, {}),
        ({'sub': ' 1'}, {}),
        ({'sub': '1_0'}, {}),
        ({'sub': '\uff11'}, {}),  # FULLWIDTH DIGIT ONE: int() takes it
        ({'sub': str(2**31)}, {}),
        ({'sub': '9999999999'}, {}),
        ({'sub': '99999999999'}, {}),
        ({'sub': '999'}, {}),  # a user that never existed
        ({'exp': 946684800}, {}),  # 2000-01-01
        ({'nbf': 4102444800}, {}),  # 2100-01-01
        ({'iat': OMITTED}, {}),
        ({'iat': 4102444800}, {}),  # 2100-01-01
        ({'iat': 'today'}, {}),
        ({'exp': str(4102444800)}, {}),
        ({'exp': 4102444800.5}, {}),
        ({'key': OMITTED}, {}),
        ({'key': 'a-key-that-is-not-the-users'}, {}),
        ({'key': 12345}, {}),
        ({'sid': OMITTED}, {}),
        ({'sid': '1'}, {}),
        ({'sid': 0}, {}),
        ({'sid': 2**31}, {}),
        ({'sid': 999}, {}),
        ({'sid': True}, {}),
    ],
    ids=[
        'signed-with-another-key',
        'alg-none',
        'alg-hs512',
        'without-sub',
        'without-exp',
        'integer-sub',
        'sub-not-a-number',
        'sub-empty',
        'sub-zero',
        'sub-negative',
        'sub-leading-zero',
        'sub-plus-sign',
        'sub-leading-space',
        'sub-underscore',
        'sub-fullwidth-digit',
        'sub-above-max-id',
        'sub-ten-digits-above-max-id',
        'sub-eleven-digits',
        'sub-of-unknown-user',
        'expired',
        'not-yet-valid',
        'without-iat',
        'issued-in-the-future',
        'iat-not-a-number',
        'exp-a-string',
        'exp-a-float',
        'without-token-key',
        'revoked-token-key',
        'integer-token-key',
        'without-session-id',
        'session-id-a-string',
        'session-id-zero',
        'session-id-above-max-id',
        'session-of-nobody',
        'session-id-a-boolean',
    ],
)
def test_bad_token_returns_401(client, user, claims, options):
    claims = {**valid_claims(user, live_session_id(client, user)), **claims}
    payload = {
        name: value for name, value in claims.items() if value is not OMITTED
    }

    response = update_self(client, user, forge_token(payload, **options))

    assert_credentials_rejected(response)


def test_token_with_tampered_payload_returns_401(client, user, other_user):
    token = forge_token(
        valid_claims(other_user, live_session_id(client, other_user))
    )
    header, _payload, signature = token.split('.')
    tampered_payload = b64url(
        json.dumps(valid_claims(user, live_session_id(client, user))).encode()
    )

    response = update_self(
        client, user, f'{header}.{tampered_payload}.{signature}'
    )

    assert_credentials_rejected(response)


@pytest.mark.parametrize(
    'malformed',
    ['garbage', 'a.b.c', 'e30.e30.e30', '...'],
)
def test_malformed_token_returns_401(client, user, malformed):
    response = update_self(client, user, malformed)

    assert_credentials_rejected(response)


@pytest.mark.parametrize(
    'authorization',
    ['Bearer ', 'Bearer', 'Basic xyz', 'Token abc', ''],
    ids=['bearer-empty', 'bearer-alone', 'basic', 'other-scheme', 'empty'],
)
def test_authorization_without_bearer_token_returns_401(
    client, user, authorization
):
    response = client.delete(
        f'/users/{user.id}', headers={'Authorization': authorization}
    )

    assert_credentials_rejected(response)


def test_no_authorization_header_returns_401(client, user):
    response = client.delete(f'/users/{user.id}')

    assert_credentials_rejected(response)


# Password hashing


def test_get_password_hash_round_trip():
    hashed = get_password_hash('secret')

    assert hashed != 'secret'
    assert verify_password('secret', hashed) is True


def test_get_password_hash_salts_every_hash():
    assert get_password_hash('secret') != get_password_hash('secret')


def test_verify_password_with_wrong_password_returns_false():
    hashed = get_password_hash('secret')

    assert verify_password('Secret', hashed) is False


@pytest.mark.parametrize(
    'hashed', ['not-a-hash', '', '$2b$12$' + 'a' * 53, '$argon2id$broken']
)
def test_verify_password_with_unknown_hash_format_returns_false(hashed):
    assert verify_password('secret', hashed) is False


def test_get_password_hash_uses_argon2id_with_the_settings_costs():
    hashed = get_password_hash('secret')

    assert hashed.startswith(
        f'$argon2id$v=19$m={settings.ARGON2_MEMORY_COST},'
        f't={settings.ARGON2_TIME_COST},p={settings.ARGON2_PARALLELISM}$'
    )


def test_build_password_hash_follows_the_settings(monkeypatch):
    monkeypatch.setattr(settings, 'ARGON2_TIME_COST', 2)
    monkeypatch.setattr(settings, 'ARGON2_MEMORY_COST', 2048)
    monkeypatch.setattr(settings, 'ARGON2_PARALLELISM', 2)

    hashed = build_password_hash().hash('secret')

    assert hashed.startswith('$argon2id$v=19$m=2048,t=2,p=2$')


class ThreadRecordingHash:
    """Wraps the module's PasswordHash, noting which thread calls it."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.threads = []

    def hash(self, password):
        self.threads.append(threading.current_thread())
        return self.wrapped.hash(password)

    def verify(self, password, hashed):
        self.threads.append(threading.current_thread())
        return self.wrapped.verify(password, hashed)

    def verify_and_update(self, password, hashed):
        self.threads.append(threading.current_thread())
        return self.wrapped.verify_and_update(password, hashed)


@pytest.fixture
def recording_hash(monkeypatch):
    recorder = ThreadRecordingHash(security.password_hash)
    monkeypatch.setattr(security, 'password_hash', recorder)
    return recorder


@pytest.mark.asyncio
async def test_async_hashing_runs_off_the_event_loop_thread(recording_hash):
    loop_thread = threading.current_thread()

    hashed = await get_password_hash_async('secret')
    verified = await verify_password_async('secret', hashed)

    assert verified is True
    assert len(recording_hash.threads) == len(['hash', 'verify'])
    for thread in recording_hash.threads:
        assert thread.ident != loop_thread.ident
        assert thread.name.startswith('password-hashing')


@pytest.mark.asyncio
async def test_verify_password_async_with_wrong_password_returns_false():
    hashed = await get_password_hash_async('secret')

    assert await verify_password_async('Secret', hashed) is False


@pytest.mark.asyncio
async def test_verify_password_async_with_unknown_hash_returns_false():
    assert await verify_password_async('secret', 'not-a-hash') is False


def test_sign_up_hashes_off_the_event_loop_thread(client, recording_hash):
    response = client.post(
        '/users/',
        json={
            'username': 'alice',
            'email': 'alice@example.com',
            'password': 'S3cret-passw0rd',
        },
    )

    assert response.status_code == HTTPStatus.CREATED
    (thread,) = recording_hash.threads
    assert thread.name.startswith('password-hashing')


def test_login_verifies_off_the_event_loop_thread(
    client, user, recording_hash
):
    response = login(client, user.email, user.clean_password)

    assert response.status_code == HTTPStatus.OK
    (thread,) = recording_hash.threads
    assert thread.name.startswith('password-hashing')
