"""Sessions per device and the refresh grant: listing, ending, rotating,
reuse detection, pruning and the touch of `last_used_at`."""

from datetime import UTC, datetime, timedelta
from hashlib import sha256
from http import HTTPStatus

import jwt
import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from fast_zero.crud import open_session, utc_now
from fast_zero.models import RefreshToken, UserSession
from fast_zero.security import create_access_token
from fast_zero.settings import settings
from tests.helpers import (
    INVALID_GRANT,
    assert_accepted,
    assert_credentials_rejected,
    assert_token_answer,
    auth,
    login,
    login_tokens,
    out_of_bounds,
    refresh_grant,
    validation_error,
)
from tests.test_todos import statements_run

LOGIN_AT = datetime(2025, 1, 1, 12, tzinfo=UTC)
PHONE = {'User-Agent': 'Phone/1.0'}
LAPTOP = {'User-Agent': 'Laptop/2.0'}
SESSION_NOT_FOUND = {'detail': 'Session not found'}
SHA256_HEX_LENGTH = 64
FAILED_LOGINS_ALLOWED = 5  # LOGIN_RATE_LIMIT_PER_EMAIL's default, 5/minute


def change_password(client, token, current_password, new_password):
    return client.put(
        '/users/me/password',
        headers=auth(token),
        json={
            'current_password': current_password,
            'new_password': new_password,
        },
    )


def iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def session_id_of(tokens):
    return jwt.decode(
        tokens['access_token'],
        settings.SECRET_KEY,
        algorithms=[settings.ALGORITHM],
        options={'verify_exp': False},
    )['sid']


def read_me(client, tokens):
    return client.get('/users/me', headers=auth(tokens['access_token']))


def list_sessions(client, tokens):
    return client.get(
        '/users/me/sessions', headers=auth(tokens['access_token'])
    )


def end_session(client, tokens, session_id):
    return client.delete(
        f'/users/me/sessions/{session_id}',
        headers=auth(tokens['access_token']),
    )


def logout(client, tokens):
    return client.post('/auth/logout', headers=auth(tokens['access_token']))


def logout_everywhere(client, tokens):
    return client.delete(
        '/users/me/sessions', headers=auth(tokens['access_token'])
    )


def assert_refresh_refused(response):
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == INVALID_GRANT


def assert_session_dead(client, tokens):
    assert_credentials_rejected(read_me(client, tokens))
    assert_refresh_refused(refresh_grant(client, tokens['refresh_token']))


async def stored_sessions(session, user_id):
    """The user's sessions as the database has them now."""
    rows = await session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id)
        .order_by(UserSession.id)
        .execution_options(populate_existing=True)
    )
    return rows.all()


async def count_rows(session, model):
    return await session.scalar(select(func.count()).select_from(model))


# Two devices


def test_list_shows_both_devices_with_current_right(client, user):
    with freeze_time(LOGIN_AT):
        phone = login_tokens(client, user, headers=PHONE)
    with freeze_time(LOGIN_AT + timedelta(minutes=1)):
        laptop = login_tokens(client, user, headers=LAPTOP)
        from_phone = list_sessions(client, phone)
        from_laptop = list_sessions(client, laptop)

    expires = LOGIN_AT + settings.SESSION_MAX_AGE
    laptop_row = {
        'id': session_id_of(laptop),
        'created_at': iso(LOGIN_AT + timedelta(minutes=1)),
        'last_used_at': iso(LOGIN_AT + timedelta(minutes=1)),
        'expires_at': iso(expires + timedelta(minutes=1)),
        'user_agent': 'Laptop/2.0',
        'address': 'testclient',
    }
    phone_row = {
        'id': session_id_of(phone),
        'created_at': iso(LOGIN_AT),
        'last_used_at': iso(LOGIN_AT),
        'expires_at': iso(expires),
        'user_agent': 'Phone/1.0',
        'address': 'testclient',
    }
    assert from_phone.status_code == HTTPStatus.OK
    assert from_phone.json() == {
        'sessions': [
            {**laptop_row, 'current': False},
            {**phone_row, 'current': True},
        ]
    }
    assert from_laptop.status_code == HTTPStatus.OK
    assert from_laptop.json() == {
        'sessions': [
            {**laptop_row, 'current': True},
            {**phone_row, 'current': False},
        ]
    }


def test_logout_on_one_device_leaves_the_other_working(client, user):
    phone = login_tokens(client, user, headers=PHONE)
    laptop = login_tokens(client, user, headers=LAPTOP)

    response = logout(client, phone)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'Logged out'}
    assert_session_dead(client, phone)
    assert_accepted(read_me(client, laptop), user)
    assert_token_answer(refresh_grant(client, laptop['refresh_token']))
    assert [
        row['id'] for row in list_sessions(client, laptop).json()['sessions']
    ] == [session_id_of(laptop)]


def test_ending_a_session_by_id_from_the_other_device(client, user):
    phone = login_tokens(client, user, headers=PHONE)
    laptop = login_tokens(client, user, headers=LAPTOP)

    response = end_session(client, laptop, session_id_of(phone))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'Session ended'}
    assert_session_dead(client, phone)
    assert_accepted(read_me(client, laptop), user)


def test_ending_the_current_session_by_id_logs_it_out(client, user):
    tokens = login_tokens(client, user)

    response = end_session(client, tokens, session_id_of(tokens))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'Session ended'}
    assert_session_dead(client, tokens)


@pytest.mark.asyncio
async def test_logout_everywhere_ends_every_session(client, session, user):
    phone = login_tokens(client, user, headers=PHONE)
    laptop = login_tokens(client, user, headers=LAPTOP)
    key_before = user.token_key

    response = logout_everywhere(client, laptop)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'Logged out everywhere'}
    assert_session_dead(client, phone)
    assert_session_dead(client, laptop)
    stored = await stored_sessions(session, user.id)
    assert all(row.revoked_at is not None for row in stored)
    assert len(stored) == len([phone, laptop])
    await session.refresh(user)
    assert user.token_key != key_before
    assert_token_answer(
        client.post(
            '/auth/token',
            data={'username': user.email, 'password': user.clean_password},
        )
    )


def test_ended_session_id_returns_404(client, user):
    phone = login_tokens(client, user, headers=PHONE)
    laptop = login_tokens(client, user, headers=LAPTOP)
    assert end_session(client, laptop, session_id_of(phone)).is_success

    response = end_session(client, laptop, session_id_of(phone))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND


def test_expired_session_id_returns_404(client, user):
    with freeze_time(LOGIN_AT):
        old = login_tokens(client, user)
    later = LOGIN_AT + settings.SESSION_MAX_AGE + timedelta(minutes=1)
    with freeze_time(later):
        current = login_tokens(client, user)
        response = end_session(client, current, session_id_of(old))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND


def test_another_users_session_id_returns_404_and_ends_nothing(
    client, user, other_user
):
    mine = login_tokens(client, user)
    theirs = login_tokens(client, other_user)

    response = end_session(client, mine, session_id_of(theirs))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND
    assert_accepted(read_me(client, theirs), other_user)


def test_unknown_session_id_returns_404(client, user):
    tokens = login_tokens(client, user)

    response = end_session(client, tokens, session_id_of(tokens) + 1000)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == SESSION_NOT_FOUND


def test_non_integer_session_id_returns_422(client, user):
    tokens = login_tokens(client, user)

    not_a_number = end_session(client, tokens, 'mine')
    zero = end_session(client, tokens, 0)

    assert not_a_number.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert not_a_number.json() == validation_error({
        'type': 'int_parsing',
        'loc': ['path', 'session_id'],
        'msg': 'Input should be a valid integer, unable to parse string '
        'as an integer',
    })
    assert zero.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert zero.json() == validation_error(
        out_of_bounds(('path', 'session_id'), 'ge', 1)
    )


@pytest.mark.parametrize(
    ('method', 'path'),
    [
        ('GET', '/users/me/sessions'),
        ('DELETE', '/users/me/sessions'),
        ('DELETE', '/users/me/sessions/1'),
    ],
)
def test_session_routes_without_token_return_401(client, method, path):
    assert_credentials_rejected(client.request(method, path))


def test_session_list_leaves_out_ended_sessions(client, user):
    phone = login_tokens(client, user, headers=PHONE)
    laptop = login_tokens(client, user, headers=LAPTOP)
    logout(client, phone)

    response = list_sessions(client, laptop)

    assert response.status_code == HTTPStatus.OK
    assert [row['id'] for row in response.json()['sessions']] == [
        session_id_of(laptop)
    ]


@pytest.mark.asyncio
async def test_user_agent_is_stored_without_control_characters_and_cut(
    client, session, user
):
    agent = 'Agent\t/\x7f1.0' + 'x' * 300

    tokens = login_tokens(client, user, headers={'User-Agent': agent})

    [row] = list_sessions(client, tokens).json()['sessions']
    assert row['user_agent'] == ('Agent/1.0' + 'x' * 300)[:200]
    [stored] = await stored_sessions(session, user.id)
    assert stored.user_agent == row['user_agent']


def test_login_without_user_agent_stores_an_empty_one(client, user):
    tokens = login_tokens(client, user, headers={'User-Agent': ''})

    [row] = list_sessions(client, tokens).json()['sessions']
    assert not row['user_agent']


# Tokens of a session


def test_token_without_session_id_returns_401(client, user):
    """Tokens issued before sessions existed: log in again."""
    old_style = create_access_token({
        'sub': str(user.id),
        'key': user.token_key,
    })

    assert_credentials_rejected(
        client.get('/users/me', headers=auth(old_style))
    )


def test_session_ids_are_never_reused(client, user):
    """A pruned session's id never comes back: its old tokens stay dead."""
    first = login_tokens(client, user)
    logout(client, first)

    second = login_tokens(client, user)  # prunes the ended one

    assert session_id_of(second) > session_id_of(first)
    assert_credentials_rejected(read_me(client, first))
    assert_accepted(read_me(client, second), user)


# The refresh grant


def test_rotation_chain_of_five(client, user):
    tokens = login_tokens(client, user)
    spent = []

    for _ in range(5):
        response = refresh_grant(client, tokens['refresh_token'])
        new_tokens = assert_token_answer(response)
        assert new_tokens['refresh_token'] != tokens['refresh_token']
        assert session_id_of(new_tokens) == session_id_of(tokens)
        assert_accepted(read_me(client, new_tokens), user)
        spent.append(tokens['refresh_token'])
        tokens = new_tokens

    assert len(set(spent)) == len(spent)
    [row] = list_sessions(client, tokens).json()['sessions']
    assert row['id'] == session_id_of(tokens)


@pytest.mark.asyncio
async def test_refresh_tokens_are_stored_only_as_their_sha256(
    client, session, user
):
    tokens = login_tokens(client, user)

    stored = await session.scalars(select(RefreshToken.token_hash))

    [token_hash] = stored.all()
    assert tokens['refresh_token'] not in token_hash
    assert len(token_hash) == SHA256_HEX_LENGTH
    assert token_hash == sha256(tokens['refresh_token'].encode()).hexdigest()


def test_reuse_of_a_spent_refresh_token_ends_the_session(client, user):
    with freeze_time(LOGIN_AT) as clock:
        first = login_tokens(client, user)
        other_device = login_tokens(client, user, headers=LAPTOP)
        clock.tick(timedelta(minutes=1))
        second = assert_token_answer(
            refresh_grant(client, first['refresh_token'])
        )
        clock.tick(timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS + 1))

        reuse = refresh_grant(client, first['refresh_token'])
        newest_access = read_me(client, second)
        newest_refresh = refresh_grant(client, second['refresh_token'])
        other = read_me(client, other_device)

    assert_refresh_refused(reuse)
    assert_credentials_rejected(newest_access)
    assert_refresh_refused(newest_refresh)
    assert_accepted(other, user)


def test_reuse_within_the_grace_window_is_refused_without_ending(client, user):
    """A client's concurrent refresh that lost the race, not theft."""
    with freeze_time(LOGIN_AT) as clock:
        first = login_tokens(client, user)
        second = assert_token_answer(
            refresh_grant(client, first['refresh_token'])
        )
        clock.tick(timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS))

        reuse = refresh_grant(client, first['refresh_token'])
        newest_access = read_me(client, second)
        newest_refresh = refresh_grant(client, second['refresh_token'])

    assert_refresh_refused(reuse)
    assert_accepted(newest_access, user)
    assert_token_answer(newest_refresh)


def test_reuse_follows_the_grace_setting(client, user, monkeypatch):
    monkeypatch.setattr(settings, 'REFRESH_REUSE_GRACE_SECONDS', 0)
    with freeze_time(LOGIN_AT) as clock:
        first = login_tokens(client, user)
        second = assert_token_answer(
            refresh_grant(client, first['refresh_token'])
        )
        clock.tick(timedelta(seconds=1))

        reuse = refresh_grant(client, first['refresh_token'])
        newest_access = read_me(client, second)

    assert_refresh_refused(reuse)
    assert_credentials_rejected(newest_access)


@pytest.mark.parametrize(
    'token',
    ['never-issued', 'x' * 43, '\x00', 'é' * 10],
    ids=['word', 'token-shaped', 'nul', 'non-ascii'],
)
def test_unknown_refresh_token_returns_400_and_ends_nothing(
    client, user, token
):
    tokens = login_tokens(client, user)

    response = refresh_grant(client, token)

    assert_refresh_refused(response)
    assert_accepted(read_me(client, tokens), user)
    assert_token_answer(refresh_grant(client, tokens['refresh_token']))


def test_access_token_is_not_a_refresh_token(client, user):
    tokens = login_tokens(client, user)

    response = refresh_grant(client, tokens['access_token'])

    assert_refresh_refused(response)


def test_refresh_after_the_session_max_age_returns_400(client, user):
    with freeze_time(LOGIN_AT):
        tokens = login_tokens(client, user)
    with freeze_time(LOGIN_AT + settings.SESSION_MAX_AGE):
        response = refresh_grant(client, tokens['refresh_token'])

    assert_refresh_refused(response)


def test_refresh_near_the_session_end_is_capped_at_it(client, user):
    session_end = LOGIN_AT + settings.SESSION_MAX_AGE
    with freeze_time(LOGIN_AT):
        tokens = login_tokens(client, user)
    with freeze_time(session_end - timedelta(minutes=10)):
        response = refresh_grant(client, tokens['refresh_token'])

    body = assert_token_answer(response)
    assert body['expires_in'] == 10 * 60
    claims = jwt.decode(
        body['access_token'],
        settings.SECRET_KEY,
        algorithms=[settings.ALGORITHM],
        options={'verify_exp': False},
    )
    assert claims['exp'] == int(session_end.timestamp())


@pytest.mark.parametrize(
    'end',
    [logout, logout_everywhere],
    ids=['logout', 'logout-everywhere'],
)
def test_refresh_of_an_ended_session_returns_400(client, user, end):
    tokens = login_tokens(client, user)
    assert end(client, tokens).is_success

    assert_refresh_refused(refresh_grant(client, tokens['refresh_token']))


def test_refresh_after_a_password_change_returns_400(client, user):
    tokens = login_tokens(client, user)
    changed = change_password(
        client, tokens['access_token'], user.clean_password, 'a-new-secret'
    )

    new_tokens = assert_token_answer(changed)
    assert_refresh_refused(refresh_grant(client, tokens['refresh_token']))
    assert_token_answer(refresh_grant(client, new_tokens['refresh_token']))


def test_refresh_grant_is_outside_the_login_limits(client, user):
    tokens = login_tokens(client, user)
    failures = [
        login(client, user.email, 'wrong-password')
        for _ in range(FAILED_LOGINS_ALLOWED + 1)
    ]

    response = refresh_grant(client, tokens['refresh_token'])

    assert failures[-1].status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert_token_answer(response)


# The course's POST /auth/refresh_token


def test_bearer_refresh_works_until_the_first_rotation(client, user):
    tokens = login_tokens(client, user)
    before = client.post(
        '/auth/refresh_token', headers=auth(tokens['access_token'])
    )
    rotated = assert_token_answer(
        refresh_grant(client, tokens['refresh_token'])
    )

    after_old = client.post(
        '/auth/refresh_token', headers=auth(tokens['access_token'])
    )
    after_new = client.post(
        '/auth/refresh_token', headers=auth(rotated['access_token'])
    )

    assert before.status_code == HTTPStatus.OK
    assert set(before.json()) == {'access_token', 'token_type', 'expires_in'}
    assert_credentials_rejected(after_old)
    assert_credentials_rejected(after_new)
    # Only the Bearer refresh is refused: the tokens still work.
    assert_accepted(read_me(client, rotated), user)


def test_bearer_refresh_of_one_session_leaves_others_alone(client, user):
    rotating = login_tokens(client, user, headers=PHONE)
    course_client = login_tokens(client, user, headers=LAPTOP)
    assert_token_answer(refresh_grant(client, rotating['refresh_token']))

    response = client.post(
        '/auth/refresh_token', headers=auth(course_client['access_token'])
    )

    assert response.status_code == HTTPStatus.OK


# Pruning and the limit per user


@pytest.mark.asyncio
async def test_login_deletes_the_users_ended_and_expired_sessions(
    client, session, user, other_user
):
    with freeze_time(LOGIN_AT):
        expired = login_tokens(client, user)
        ended = login_tokens(client, user)
        logout(client, ended)
        others = login_tokens(client, other_user)
        logout(client, others)
    with freeze_time(LOGIN_AT + settings.SESSION_MAX_AGE):
        current = login_tokens(client, user)

    assert [row.id for row in await stored_sessions(session, user.id)] == [
        session_id_of(current)
    ]
    # Their refresh tokens went with them; another user's ended session
    # waits for that user's next login.
    assert await count_rows(session, RefreshToken) == len([current, others])
    assert len(await stored_sessions(session, other_user.id)) == 1
    assert session_id_of(expired) != session_id_of(current)


@pytest.mark.asyncio
async def test_login_past_the_limit_ends_the_least_recently_used(
    client, session, user, monkeypatch
):
    monkeypatch.setattr(settings, 'MAX_SESSIONS_PER_USER', 2)
    touch_after = timedelta(minutes=settings.SESSION_TOUCH_MINUTES + 1)
    with freeze_time(LOGIN_AT) as clock:
        oldest = login_tokens(client, user, headers=PHONE)
        clock.tick(timedelta(minutes=1))
        idle = login_tokens(client, user, headers=LAPTOP)
        clock.tick(touch_after)
        assert_accepted(read_me(client, oldest), user)  # touches it
        clock.tick(timedelta(minutes=1))

        newest = login_tokens(client, user)

        assert_accepted(read_me(client, oldest), user)
        assert_accepted(read_me(client, newest), user)
        assert_session_dead(client, idle)


# last_used_at


@pytest.mark.asyncio
async def test_last_used_at_is_touched_only_after_the_touch_interval(
    client, session, user
):
    touch_interval = timedelta(minutes=settings.SESSION_TOUCH_MINUTES)
    with freeze_time(LOGIN_AT) as clock:
        tokens = login_tokens(client, user)
        clock.tick(touch_interval - timedelta(seconds=1))
        with statements_run(session) as early_statements:
            assert_accepted(read_me(client, tokens), user)
        [early] = await stored_sessions(session, user.id)
        early_last_used = early.last_used_at
        clock.tick(timedelta(seconds=2))
        with statements_run(session) as late_statements:
            assert_accepted(read_me(client, tokens), user)
        [late] = await stored_sessions(session, user.id)

    assert len(early_statements) == 1  # the token check
    assert early_last_used == LOGIN_AT.replace(tzinfo=None)
    [token_check, touch] = late_statements
    assert token_check == early_statements[0]
    assert touch.startswith('UPDATE user_sessions SET last_used_at')
    assert late.last_used_at == (
        LOGIN_AT + touch_interval + timedelta(seconds=1)
    ).replace(tzinfo=None)


@pytest.mark.asyncio
async def test_todo_list_touches_the_session_too(client, session, user):
    touch_after = timedelta(minutes=settings.SESSION_TOUCH_MINUTES + 1)
    with freeze_time(LOGIN_AT) as clock:
        tokens = login_tokens(client, user)
        clock.tick(touch_after)
        client.post(
            '/todos/',
            headers=auth(tokens['access_token']),
            json={'title': 'a', 'description': 'b', 'state': 'todo'},
        )
        clock.tick(touch_after)
        listed = client.get('/todos/', headers=auth(tokens['access_token']))
        [row] = await stored_sessions(session, user.id)

    assert listed.status_code == HTTPStatus.OK
    assert len(listed.json()['todos']) == 1
    assert row.last_used_at == (LOGIN_AT + 2 * touch_after).replace(
        tzinfo=None
    )


@pytest.mark.asyncio
async def test_ended_session_fails_the_todo_list_with_todos(
    client, session, user
):
    phone = login_tokens(client, user, headers=PHONE)
    laptop = login_tokens(client, user, headers=LAPTOP)
    created = client.post(
        '/todos/',
        headers=auth(phone['access_token']),
        json={'title': 'a', 'description': 'b', 'state': 'todo'},
    )
    assert created.status_code == HTTPStatus.CREATED
    logout(client, phone)

    ended = client.get('/todos/', headers=auth(phone['access_token']))
    live = client.get('/todos/', headers=auth(laptop['access_token']))

    assert_credentials_rejected(ended)
    assert live.status_code == HTTPStatus.OK
    assert live.json() == {'todos': [{**created.json()}]}


# Account deletion


@pytest.mark.asyncio
async def test_deleting_the_account_removes_its_sessions_and_tokens(
    client, session, user, other_user
):
    tokens = login_tokens(client, user)
    login_tokens(client, user, headers=PHONE)
    others = login_tokens(client, other_user)

    deleted = client.delete('/users/me', headers=auth(tokens['access_token']))

    assert deleted.status_code == HTTPStatus.OK
    assert await stored_sessions(session, user.id) == []
    assert await count_rows(session, RefreshToken) == 1
    assert_accepted(read_me(client, others), other_user)


@pytest.mark.asyncio
async def test_no_session_opens_for_a_user_who_is_gone(session):
    """A login racing with the account's deletion opens nothing."""
    opened = await open_session(
        session=session,
        user_id=999,
        user_agent='tests',
        address=None,
        now=utc_now(),
    )

    assert opened is None
    assert await count_rows(session, UserSession) == 0


@pytest.mark.asyncio
async def test_no_session_opens_for_an_inactive_user(session, user):
    """A login racing with the account's deactivation opens nothing."""
    user.is_active = False
    await session.commit()

    opened = await open_session(
        session=session,
        user_id=user.id,
        user_agent='tests',
        address=None,
        now=utc_now(),
    )

    assert opened is None
    assert await count_rows(session, UserSession) == 0


# Administrators (issue 15)


def deactivate(client, admin_tokens, user_id, is_active=False):
    return client.patch(
        f'/admin/users/{user_id}',
        headers=auth(admin_tokens['access_token']),
        json={'is_active': is_active},
    )


@pytest.mark.asyncio
async def test_deactivation_ends_every_session_of_the_user_for_good(
    client, session, user, superuser, other_user
):
    admin = login_tokens(client, superuser)
    phone = login_tokens(client, user, headers=PHONE)
    laptop = login_tokens(client, user, headers=LAPTOP)
    others = login_tokens(client, other_user)

    deactivated = deactivate(client, admin, user.id)
    reactivated = deactivate(client, admin, user.id, is_active=True)

    assert deactivated.status_code == HTTPStatus.OK
    assert reactivated.status_code == HTTPStatus.OK
    assert reactivated.json()['is_active'] is True
    # Reactivation revives none of them: neither token works any more.
    assert_session_dead(client, phone)
    assert_session_dead(client, laptop)
    assert all(s.revoked_at for s in await stored_sessions(session, user.id))
    assert_accepted(read_me(client, others), other_user)
    assert_accepted(read_me(client, admin), superuser)


@pytest.mark.asyncio
async def test_inactive_users_session_is_refused_by_every_token_check(
    client, session, user
):
    """The flag alone refuses (the statement checks it, not only the
    deactivation's ending of the sessions)."""
    tokens = login_tokens(client, user)
    created = client.post(
        '/todos/',
        headers=auth(tokens['access_token']),
        json={'title': 'a', 'description': 'b', 'state': 'todo'},
    )
    assert created.status_code == HTTPStatus.CREATED
    user.is_active = False
    await session.commit()
    headers = auth(tokens['access_token'])

    assert_credentials_rejected(read_me(client, tokens))
    assert_credentials_rejected(client.get('/todos/', headers=headers))
    assert_credentials_rejected(
        client.patch('/users/me', headers=headers, json={'username': 'new'})
    )


def test_superuser_new_password_for_another_ends_their_sessions(
    client, user, superuser
):
    admin = login_tokens(client, superuser)
    tokens = login_tokens(client, user)

    replaced = client.put(
        f'/users/{user.id}',
        headers=auth(admin['access_token']),
        json={
            'username': user.username,
            'email': user.email,
            'password': 'a-new-password-1',
        },
    )

    assert replaced.status_code == HTTPStatus.OK
    assert_session_dead(client, tokens)
    assert_accepted(read_me(client, admin), superuser)
