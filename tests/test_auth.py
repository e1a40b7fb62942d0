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
                'type': 'literal_error',
                'loc': ['body', 'grant_type'],
                'msg': "Input should be 'password' or 'refresh_token'",
                'ctx': {'expected': "'password' or 'refresh_token'"},
            }
        ]
    }
    assert user.clean_password not in response.text


def test_login_with_password_grant_type_returns_token(client, user):
    response = client.post(
        '/auth/token',
        data={
            'grant_type': 'password',
            'username': user.email,
            'password': user.clean_password,
        },
    )

    body = assert_token_answer(response)
    assert decode(body['access_token'])['sub'] == str(user.id)


def test_password_grant_without_its_fields_returns_422_for_both(client):
    response = client.post('/auth/token', data={'grant_type': 'password'})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(
        missing(('body', 'username')), missing(('body', 'password'))
    )


@pytest.mark.parametrize(
    'data',
    [
        {'grant_type': 'refresh_token'},
        {'grant_type': 'refresh_token', 'refresh_token': ''},
        # A password grant's fields do not make a refresh grant.
        {
            'grant_type': 'refresh_token',
            'username': 'alice@example.com',
            'password': 'S3cret-passw0rd',
        },
    ],
    ids=['nothing', 'empty', 'password-fields'],
)
def test_refresh_grant_without_refresh_token_returns_422(client, data):
    response = client.post('/auth/token', data=data)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(
        missing(('body', 'refresh_token'))
    )
    assert 'S3cret-passw0rd' not in response.text


def test_token_answers_are_not_to_be_cached(client, user):
    """RFC 6749, 5.1: a token answer carries `Cache-Control: no-store`."""
    response = login(client, user.email, user.clean_password)
    refused = client.post(
        '/auth/token',
        data={'grant_type': 'refresh_token', 'refresh_token': 'unknown'},
    )

    assert_token_answer(response)
    assert response.headers['Cache-Control'] == 'no-store'
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.headers['Cache-Control'] == 'no-store'


def test_login_answer_expires_in_is_the_seconds_until_exp(client, user):
    response = login(client, user.email, user.clean_password)

    body = assert_token_answer(response)
    claims = decode(body['access_token'])
    assert body['expires_in'] == claims['exp'] - claims['iat']
    assert body['expires_in'] == settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60
