"""Token lifetime: the course's refresh route, the session limit, logout
and revocation. (The refresh grant and sessions: test_sessions.py.)"""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import jwt
import pytest
from freezegun import freeze_time
from sqlalchemy import select

from fast_zero.models import User
from fast_zero.security import create_access_token
from fast_zero.settings import settings
from tests.helpers import (
    assert_accepted,
    assert_access_token_answer,
    assert_credentials_rejected,
    assert_token_answer,
    auth,
    login,
    login_token,
    put_self,
)

LOGIN_AT = datetime(2025, 1, 1, 12, tzinfo=UTC)
REFRESH_EVERY = timedelta(minutes=25)


def timestamp(moment):
    return int(moment.timestamp())


def claims_of(token):
    """The claims of a token we signed, expired or not."""
    return jwt.decode(
        token,
        settings.SECRET_KEY,
        algorithms=[settings.ALGORITHM],
        options={'verify_exp': False},
    )


def refresh(client, token):
    return client.post('/auth/refresh_token', headers=auth(token))


def logout(client, token):
    return client.post('/auth/logout', headers=auth(token))


def read_me(client, token):
    return client.get('/users/me', headers=auth(token))


# POST /auth/refresh_token


def test_refresh_returns_a_token_expiring_later_with_the_login_time(
    client, user
):
    with freeze_time(LOGIN_AT):
        old_token = login_token(client, user)

    with freeze_time(LOGIN_AT + timedelta(minutes=20)):
        response = refresh(client, old_token)

    assert_access_token_answer(response)
    assert claims_of(old_token)['exp'] == timestamp(
        LOGIN_AT + timedelta(minutes=30)
    )
    assert claims_of(response.json()['access_token']) == {
        'sub': str(user.id),
        'key': user.token_key,
        'sid': claims_of(old_token)['sid'],
        'iat': timestamp(LOGIN_AT + timedelta(minutes=20)),
        'exp': timestamp(LOGIN_AT + timedelta(minutes=50)),
    }
    assert response.json()['expires_in'] == 30 * 60


def test_refreshed_token_outlives_the_old_one_until_its_own_expiry(
    client, user
):
    with freeze_time(LOGIN_AT):
        old_token = login_token(client, user)
    with freeze_time(LOGIN_AT + timedelta(minutes=20)):
        new_token = refresh(client, old_token).json()['access_token']

    with freeze_time(LOGIN_AT + timedelta(minutes=49)):
        old_at_49 = read_me(client, old_token)
        new_at_49 = read_me(client, new_token)
    with freeze_time(LOGIN_AT + timedelta(minutes=51)):
        new_at_51 = read_me(client, new_token)

    assert_credentials_rejected(old_at_49)
    assert_accepted(new_at_49, user)
    assert_credentials_rejected(new_at_51)


def test_refresh_with_expired_token_returns_401(client, user):
    with freeze_time(LOGIN_AT):
        token = login_token(client, user)

    with freeze_time(LOGIN_AT + timedelta(minutes=31)):
        response = refresh(client, token)

    assert_credentials_rejected(response)


def test_refresh_without_token_returns_401(client, user):
    response = client.post('/auth/refresh_token')

    assert_credentials_rejected(response)


@pytest.mark.parametrize(
    'revoke',
    [
        lambda client, user, token: logout(client, token),
        lambda client, user, token: client.put(
            '/users/me/password',
            headers=auth(token),
            json={
                'current_password': user.clean_password,
                'new_password': 'a-new-password',
            },
        ),
        lambda client, user, token: client.delete(
            '/users/me', headers=auth(token)
        ),
    ],
    ids=['logout', 'password-change', 'account-deletion'],
)
def test_refresh_with_revoked_token_returns_401(client, user, token, revoke):
    revoked = revoke(client, user, token)
    assert revoked.status_code == HTTPStatus.OK

    response = refresh(client, token)

    assert_credentials_rejected(response)


def test_refresh_chain_never_outlives_the_session_max_age(client, user):
    session_end = LOGIN_AT + settings.SESSION_MAX_AGE
    successful_refreshes = 0
    with freeze_time(LOGIN_AT) as clock:
        token = login_token(client, user)
        while True:
            clock.tick(REFRESH_EVERY)
            response = refresh(client, token)
            if datetime.now(tz=UTC) >= session_end:
                break
            assert_access_token_answer(response)
            token = response.json()['access_token']
            claims = claims_of(token)
            assert claims['exp'] <= timestamp(session_end)
            successful_refreshes += 1

    assert_credentials_rejected(response)
    assert successful_refreshes == settings.SESSION_MAX_AGE // REFRESH_EVERY
    # The last refresh was capped at the session end, not 30 minutes away.
    assert claims_of(token)['exp'] == timestamp(session_end)


def session_token(login_token_value, user):
    """A fresh token of the login's session, signed now."""
    return create_access_token({
        'sub': str(user.id),
        'key': user.token_key,
        'sid': claims_of(login_token_value)['sid'],
    })


def test_refresh_just_before_the_session_end_is_capped_at_it(client, user):
    session_end = LOGIN_AT + settings.SESSION_MAX_AGE
    with freeze_time(LOGIN_AT):
        first = login_token(client, user)
    with freeze_time(session_end - timedelta(minutes=1)):
        response = refresh(client, session_token(first, user))

    body = assert_access_token_answer(response)
    assert claims_of(body['access_token'])['exp'] == timestamp(session_end)
    assert body['expires_in'] == timedelta(minutes=1).total_seconds()


@pytest.mark.parametrize(
    'after_session_end',
    [timedelta(0), timedelta(hours=1)],
    ids=['at-the-end', 'an-hour-after'],
)
def test_refresh_after_the_session_max_age_returns_401(
    client, user, after_session_end
):
    """Even with a token that has not expired: the session has."""
    with freeze_time(LOGIN_AT):
        first = login_token(client, user)
    now = LOGIN_AT + settings.SESSION_MAX_AGE + after_session_end
    with freeze_time(now):
        token = session_token(first, user)
        response = refresh(client, token)
        read = read_me(client, token)

    assert_credentials_rejected(response)
    assert_credentials_rejected(read)


def test_refresh_follows_the_session_max_age_setting(
    client, user, monkeypatch
):
    monkeypatch.setattr(settings, 'SESSION_MAX_AGE', timedelta(minutes=40))
    with freeze_time(LOGIN_AT):
        token = login_token(client, user)

    with freeze_time(LOGIN_AT + timedelta(minutes=20)):
        response = refresh(client, token)

    assert_access_token_answer(response)
    assert claims_of(response.json()['access_token'])['exp'] == timestamp(
        LOGIN_AT + timedelta(minutes=40)
    )


def test_openapi_refresh_url_is_the_token_route(client):
    schema = client.get('/openapi.json').json()

    assert schema['components']['securitySchemes'] == {
        'OAuth2PasswordBearer': {
            'type': 'oauth2',
            'description': 'Log in with your email in the `username` field.',
            'flows': {
                'password': {
                    'scopes': {},
                    'tokenUrl': 'auth/token',
                    'refreshUrl': 'auth/token',
                }
            },
        }
    }
    assert 'post' in schema['paths']['/auth/refresh_token']


# POST /auth/logout


def test_logout_returns_200_and_message(client, user, token):
    response = logout(client, token)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'Logged out'}


def test_logout_ends_only_the_current_session(client, user):
    with freeze_time(LOGIN_AT):
        first = login_token(client, user)
    with freeze_time(LOGIN_AT + timedelta(minutes=1)):
        second = login_token(client, user)
        refreshed_second = refresh(client, second).json()['access_token']

    with freeze_time(LOGIN_AT + timedelta(minutes=2)):
        logged_out = logout(client, second)
        first_after = read_me(client, first)
        second_after = read_me(client, second)
        refreshed_after = read_me(client, refreshed_second)

    assert logged_out.status_code == HTTPStatus.OK
    assert first != second
    assert_accepted(first_after, user)
    assert_credentials_rejected(second_after)
    assert_credentials_rejected(refreshed_after)


def test_login_after_logout_returns_a_working_token(client, user, token):
    logout(client, token)

    response = login(client, user.email, user.clean_password)

    assert_token_answer(response)
    assert_accepted(read_me(client, response.json()['access_token']), user)


def test_logout_keeps_other_users_tokens_working(
    client, user, other_user, token
):
    other_token = login_token(client, other_user)

    logout(client, token)

    assert_accepted(read_me(client, other_token), other_user)


def test_logout_without_token_returns_401(client, user):
    assert_credentials_rejected(client.post('/auth/logout'))


def test_logout_with_revoked_token_returns_401(client, user, token):
    logout(client, token)

    assert_credentials_rejected(logout(client, token))


# Revocation by PUT /users/{user_id}


def test_update_user_with_new_password_revokes_earlier_tokens(
    client, user, token
):
    response = put_self(client, user, token, 'a-new-password')

    assert_accepted(response, user)
    assert_credentials_rejected(read_me(client, token))


def test_update_user_with_same_password_keeps_the_token(client, user, token):
    response = put_self(client, user, token, user.clean_password)

    assert_accepted(response, user)
    assert_accepted(read_me(client, token), user)


def test_rejected_update_user_with_new_password_keeps_the_token(
    client, user, other_user, token
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': other_user.username,
            'email': user.email,
            'password': 'a-new-password',
        },
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username or Email already exists'}
    assert_accepted(read_me(client, token), user)


# Revocation by deletion


@pytest.mark.asyncio
async def test_token_of_deleted_user_cannot_act_as_a_later_user_with_its_id(
    client, session, user, token
):
    """Same id, username, email and password: still not the same account."""
    freed_id = user.id
    deleted = client.delete('/users/me', headers=auth(token))
    assert deleted.status_code == HTTPStatus.OK
    successor = User(
        username=user.username, email=user.email, password=user.password
    )
    successor.id = freed_id
    session.add(successor)
    await session.commit()
    session.expire_all()
    assert await session.scalar(select(User.id)) == freed_id

    old_token_response = read_me(client, token)
    successor_response = read_me(client, login_token(client, user))

    assert_credentials_rejected(old_token_response)
    assert successor_response.status_code == HTTPStatus.OK
    assert successor_response.json() == {
        'id': freed_id,
        'username': user.username,
        'email': user.email,
    }
