from http import HTTPStatus

import jwt
import pytest

from fast_zero import security
from fast_zero.settings import settings
from tests.helpers import (
    assert_token_answer,
    auth,
    login,
    missing,
    validation_error,
)

INCORRECT_LOGIN = {'detail': 'Incorrect email or password'}


def decode(token):
    return jwt.decode(
        token, settings.SECRET_KEY, algorithms=[settings.ALGORITHM]
    )


@pytest.fixture
def verified_hashes(monkeypatch):
    """The hashes the login verified passwords against, in order."""
    hashes = []
    verify = security.verify_password_and_update_async

    async def recording_verify(plain_password, hashed_password):
        hashes.append(hashed_password)
        return await verify(plain_password, hashed_password)

    monkeypatch.setattr(
        'fast_zero.routers.auth.verify_password_and_update_async',
        recording_verify,
    )
    return hashes


def test_login_returns_a_bearer_token(client, user):
    response = login(client, user.email, user.clean_password)

    assert_token_answer(response)


def test_login_token_names_the_user_id_as_a_string(client, user):
    response = login(client, user.email, user.clean_password)

    payload = decode(response.json()['access_token'])
    assert payload['sub'] == str(user.id)


def test_login_token_authorizes_the_user(client, user):
    response = login(client, user.email, user.clean_password)
    token = response.json()['access_token']

    deleted = client.delete(f'/users/{user.id}', headers=auth(token))

    assert deleted.status_code == HTTPStatus.OK
    assert deleted.json() == {'message': 'User deleted'}


def test_login_with_email_in_another_case_returns_token(client, user):
    response = login(client, user.email.upper(), user.clean_password)

    assert response.status_code == HTTPStatus.OK
    assert decode(response.json()['access_token'])['sub'] == str(user.id)


def test_login_after_sign_up_with_upper_case_email(client):
    client.post(
        '/users/',
        json={
            'username': 'alice',
            'email': 'ALICE@EXAMPLE.COM',
            'password': 'S3cret-passw0rd',
        },
    )

    lower = login(client, 'alice@example.com', 'S3cret-passw0rd')
    upper = login(client, 'ALICE@EXAMPLE.COM', 'S3cret-passw0rd')
    mixed = login(client, 'Alice@Example.com', 'S3cret-passw0rd')

    for response in (lower, upper, mixed):
        assert response.status_code == HTTPStatus.OK
        assert decode(response.json()['access_token'])['sub'] == '1'


def test_login_with_wrong_password_returns_401(client, user):
    response = login(client, user.email, 'wrong-password')

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN


def test_login_with_unknown_email_returns_401(client, user):
    response = login(client, 'nobody@example.com', user.clean_password)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN


def test_login_with_password_in_another_case_returns_401(client, user):
    response = login(client, user.email, user.clean_password.upper())

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN


def test_login_with_unknown_email_still_verifies_a_hash(
    client, user, verified_hashes
):
    """Unknown emails cost a hash too: no user enumeration by timing."""
    response = login(client, 'nobody@example.com', user.clean_password)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN
    assert verified_hashes == [security.DUMMY_PASSWORD_HASH]


def test_login_with_password_longer_than_the_maximum_returns_401(
    client, user, verified_hashes
):
    too_long = 'p' * (settings.PASSWORD_MAX_LENGTH + 1)

    response = login(client, user.email, too_long)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN
    assert verified_hashes == []  # no hash spent on it


@pytest.mark.asyncio
async def test_login_with_password_of_the_maximum_length_returns_token(
    client, session, user
):
    longest = 'p' * settings.PASSWORD_MAX_LENGTH
    user.password = security.get_password_hash(longest)
    await session.commit()

    response = login(client, user.email, longest)

    assert response.status_code == HTTPStatus.OK
    assert decode(response.json()['access_token'])['sub'] == str(user.id)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'stored_hash',
    [
        'not-a-hash',
        '',
        '$argon2id$v=19$m=1024,t=1,p=1$bm90LWEtc2FsdA$bm90LWEtaGFzaA',
        '$argon2id$v=19$m=1024,t=1,p=1$!!!$!!!',
        '$2b$12$abcdefghijklmnopqrstuuM2OAlB8W6cMHAeIAbzHGvPUk5tjnZ2',
    ],
    ids=[
        'not-a-hash',
        'empty',
        'argon2-of-nothing',
        'argon2-bad-base64',
        'bcrypt',
    ],
)
async def test_login_against_a_hash_pwdlib_cannot_use_returns_401(
    client, session, user, stored_hash
):
    user.password = stored_hash
    await session.commit()

    response = login(client, user.email, user.clean_password)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN


@pytest.mark.parametrize(
    ('data', 'missing_field'),
    [
        ({'username': 'alice@example.com'}, 'password'),
        ({'password': 'S3cret-passw0rd'}, 'username'),
    ],
)
def test_login_with_missing_field_returns_422_without_echo(
    client, data, missing_field
):
    response = client.post('/auth/token', data=data)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(
        missing(('body', missing_field))
    )
    assert 'S3cret-passw0rd' not in response.text


def test_login_with_wrong_grant_type_returns_422_without_echo(client, user):
    response = client.post(
        '/auth/token',
        data={
            'username': user.email,
            'password': user.clean_password,
            'grant_type': 'client_credentials',
        },
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [
            {
                'type': 'string_pattern_mismatch',
                'loc': ['body', 'grant_type'],
                'msg': "String should match pattern '^password$'",
                'ctx': {'pattern': '^password$'},
            }
        ]
    }
    assert user.clean_password not in response.text
