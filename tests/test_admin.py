"""Administrators (superusers) and deactivated accounts.

The /admin routes, a superuser's reach over the course's /users/{id}
routes, what a deactivated account can still do (nothing but fail to log
in), and the rule that at least one active superuser always remains.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

import pytest
from sqlalchemy import delete, select

from fast_zero import crud
from fast_zero.models import Todo, User
from tests.conftest import create_superuser, create_user
from tests.factories import TodoFactory
from tests.helpers import (
    assert_credentials_rejected,
    auth,
    login,
    login_token,
    public,
    read_user_row,
    validation_error,
)

NOT_ENOUGH_PERMISSIONS = {'detail': 'Not enough permissions'}
USER_NOT_FOUND = {'detail': 'User not found'}
LAST_SUPERUSER = {'detail': 'At least one active superuser must remain'}
INACTIVE_USER = {'detail': 'Inactive user'}
USER_DELETED = {'message': 'User deleted'}


@dataclass
class Account:
    user: User
    token: str

    @property
    def headers(self) -> dict:
        return auth(self.token)


@pytest.fixture
def admin(superuser, superuser_token):
    """The only superuser, logged in."""
    return Account(superuser, superuser_token)


@pytest.fixture
def member(user, token):
    """A user who is not a superuser, logged in."""
    return Account(user, token)


def utc_json(moment: datetime) -> str:
    """A stored (UTC, zone-less) timestamp as the API writes it."""
    return moment.isoformat() + 'Z'


def admin_view(user):
    """A user as the /admin routes show it."""
    return {
        'id': user.id,
        'username': user.username,
        'email': user.email,
        'is_active': user.is_active,
        'is_superuser': user.is_superuser,
        'created_at': utc_json(user.created_at),
        'updated_at': utc_json(user.updated_at),
    }


async def flags_of(session, user):
    """(is_active, is_superuser) as stored now; leaves `user` loaded."""
    rows = await session.execute(
        select(User.is_active, User.is_superuser).where(User.id == user.id)
    )
    return tuple(rows.one())


def set_flags(client, token, user_id, **flags):
    return client.patch(
        f'/admin/users/{user_id}', headers=auth(token), json=flags
    )


# Who may call the /admin routes


ADMIN_ROUTES = [
    ('GET', '/admin/users', None),
    ('PATCH', '/admin/users/{user_id}', {'is_active': False}),
    ('DELETE', '/admin/users/{user_id}', None),
]


@pytest.mark.asyncio
@pytest.mark.parametrize('route', ADMIN_ROUTES)
async def test_admin_routes_without_token_return_401(
    client, session, user, route
):
    method, path, body = route

    response = client.request(method, path.format(user_id=user.id), json=body)

    assert_credentials_rejected(response)
    assert await flags_of(session, user) == (True, False)


@pytest.mark.asyncio
@pytest.mark.parametrize('route', ADMIN_ROUTES)
async def test_admin_routes_for_a_user_not_superuser_return_403(
    client, session, member, other_user, route
):
    method, path, body = route

    response = client.request(
        method,
        path.format(user_id=other_user.id),
        json=body,
        headers=member.headers,
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == NOT_ENOUGH_PERMISSIONS
    assert await read_user_row(session, other_user.id) is not None
    assert await flags_of(session, other_user) == (True, False)


@pytest.mark.asyncio
async def test_admin_routes_refuse_a_deactivated_superusers_token(
    client, session, superuser, superuser_token
):
    second = await create_superuser(session)
    set_flags(
        client, login_token(client, second), superuser.id, is_active=False
    )

    response = client.get('/admin/users', headers=auth(superuser_token))

    assert_credentials_rejected(response)


# GET /admin/users


@pytest.mark.asyncio
async def test_admin_list_users_shows_every_account_and_its_flags(
    client, session, superuser, superuser_token, user
):
    user.is_active = False
    await session.commit()

    response = client.get('/admin/users', headers=auth(superuser_token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'users': [admin_view(superuser), admin_view(user)],
        'total': 2,
    }
    assert response.json()['users'][1]['is_active'] is False


@pytest.mark.asyncio
async def test_admin_list_users_paginates_and_total_counts_every_match(
    client, session, superuser, superuser_token
):
    users = [await create_user(session) for _ in range(4)]

    response = client.get(
        '/admin/users?offset=1&limit=2', headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'users': [admin_view(users[0]), admin_view(users[1])],
        'total': 5,
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ('q', 'expected'),
    [
        ('ALI', ['alice', 'malice']),  # username, any case
        ('example.org', ['bob']),  # email
        ('rob', ['bob']),
        ('a_c', ['a_c']),  # `_` matches itself, not any character
        ('50%', ['pct']),  # `%` too
        ('nobody', []),
    ],
)
async def test_admin_list_users_q_matches_username_or_email(
    client, session, admin, q, expected
):
    for username, email in [
        ('alice', 'alice@example.com'),
        ('malice', 'm@example.com'),
        ('bob', 'robert@example.org'),
        ('a_c', 'ac@example.com'),
        ('abc', 'xyz@example.com'),
        ('pct', '50%off@example.com'),
    ]:
        await create_user(session, username=username, email=email)

    response = client.get(
        '/admin/users', params={'q': q}, headers=admin.headers
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert [found['username'] for found in body['users']] == expected
    assert body['total'] == len(expected)


@pytest.mark.asyncio
async def test_admin_list_users_total_counts_matches_beyond_the_page(
    client, session, superuser, superuser_token
):
    for number in range(3):
        await create_user(session, username=f'match{number}')

    response = client.get(
        '/admin/users',
        params={'q': 'match', 'limit': 1},
        headers=auth(superuser_token),
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert [found['username'] for found in body['users']] == ['match0']
    assert body['total'] == 3  # noqa: PLR2004


@pytest.mark.parametrize(
    ('q', 'error'),
    [
        (
            '',
            {
                'type': 'string_too_short',
                'loc': ['query', 'q'],
                'msg': 'String should have at least 1 character',
                'ctx': {'min_length': 1},
            },
        ),
        (
            'x' * 255,
            {
                'type': 'string_too_long',
                'loc': ['query', 'q'],
                'msg': 'String should have at most 254 characters',
                'ctx': {'max_length': 254},
            },
        ),
        (
            'a\x00b',
            {
                'type': 'string_pattern_mismatch',
                'loc': ['query', 'q'],
                'msg': "String should match pattern '^[^\\x00]*$'",
                'ctx': {'pattern': '^[^\\x00]*$'},
            },
        ),
    ],
    ids=['empty', 'too-long', 'nul'],
)
def test_admin_list_users_with_invalid_q_returns_422(
    client, superuser_token, q, error
):
    response = client.get(
        '/admin/users', params={'q': q}, headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(error)


def test_admin_list_users_q_of_the_maximum_length_returns_200(
    client, superuser, superuser_token
):
    response = client.get(
        '/admin/users', params={'q': 'x' * 254}, headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'users': [], 'total': 0}


# PATCH /admin/users/{user_id}


@pytest.mark.asyncio
async def test_admin_deactivate_user_returns_the_user_inactive(
    client, session, superuser_token, user
):
    response = set_flags(client, superuser_token, user.id, is_active=False)

    assert response.status_code == HTTPStatus.OK
    stored = await read_user_row(session, user.id)
    assert response.json() == admin_view(stored)
    assert response.json()['is_active'] is False
    assert response.json()['is_superuser'] is False


@pytest.mark.asyncio
async def test_admin_deactivate_user_refuses_their_live_token_at_once(
    client, session, superuser_token, user, token
):
    session.add(TodoFactory(user_id=user.id))
    await session.commit()
    assert (
        client.get('/users/me', headers=auth(token)).status_code
        == HTTPStatus.OK
    )

    set_flags(client, superuser_token, user.id, is_active=False)

    for method, path in [
        ('GET', '/users/me'),
        ('GET', '/todos/'),  # a page with todos: its own query checks
        ('GET', '/todos/?title=nothing-matches'),  # an empty page
        ('POST', '/auth/refresh_token'),
        ('PATCH', '/users/me'),
        ('DELETE', f'/users/{user.id}'),
    ]:
        response = client.request(method, path, headers=auth(token), json={})
        assert_credentials_rejected(response)
    assert await read_user_row(session, user.id) is not None


@pytest.mark.asyncio
async def test_admin_deactivate_user_ends_every_session_for_good(
    client, session, superuser_token, user, token
):
    key_before = (await read_user_row(session, user.id)).token_key

    set_flags(client, superuser_token, user.id, is_active=False)
    reactivated = set_flags(client, superuser_token, user.id, is_active=True)

    assert reactivated.status_code == HTTPStatus.OK
    assert reactivated.json()['is_active'] is True
    assert (await read_user_row(session, user.id)).token_key != key_before
    assert_credentials_rejected(client.get('/users/me', headers=auth(token)))
    new_token = login_token(client, user)
    assert client.get('/users/me', headers=auth(new_token)).json() == public(
        user
    )


@pytest.mark.asyncio
async def test_admin_promote_user_lets_them_use_the_admin_routes(
    client, session, superuser_token, user, token
):
    response = set_flags(client, superuser_token, user.id, is_superuser=True)

    assert response.status_code == HTTPStatus.OK
    assert response.json()['is_superuser'] is True
    assert await flags_of(session, user) == (True, True)
    # The same token: promotion ends no session.
    listed = client.get('/admin/users', headers=auth(token))
    assert listed.status_code == HTTPStatus.OK
    assert listed.json()['total'] == 2  # noqa: PLR2004


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'flags',
    [
        {},
        {'is_active': True},
        {'is_superuser': False},
        {'is_active': True, 'is_superuser': False},
    ],
)
async def test_admin_patch_without_a_change_returns_200_unchanged(
    client, session, admin, member, flags
):
    user, token = member.user, member.token
    before = await read_user_row(session, user.id)
    view_before = admin_view(before)

    response = set_flags(client, admin.token, user.id, **flags)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == view_before
    after = await read_user_row(session, user.id)
    assert admin_view(after) == view_before
    assert (
        client.get('/users/me', headers=auth(token)).status_code
        == HTTPStatus.OK
    )


@pytest.mark.asyncio
async def test_admin_patch_unknown_user_returns_404(
    client, session, superuser, superuser_token
):
    response = set_flags(client, superuser_token, 999, is_active=False)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == USER_NOT_FOUND
    assert await flags_of(session, superuser) == (True, True)


@pytest.mark.parametrize(
    'body', [{'is_active': 'no'}, {'is_superuser': 1}, {'is_active': None}]
)
def test_admin_patch_with_a_flag_not_a_boolean_returns_422(
    client, superuser_token, user, body
):
    [field] = body

    response = set_flags(client, superuser_token, user.id, **body)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error({
        'type': 'bool_type',
        'loc': ['body', field],
        'msg': 'Input should be a valid boolean',
    })


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'flags',
    [
        {'is_active': False},
        {'is_superuser': False},
        {'is_active': False, 'is_superuser': False},
    ],
)
async def test_admin_last_active_superuser_cannot_be_deactivated_or_demoted(
    client, session, superuser, superuser_token, flags
):
    response = set_flags(client, superuser_token, superuser.id, **flags)

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == LAST_SUPERUSER
    assert await flags_of(session, superuser) == (True, True)
    assert (
        client.get('/users/me', headers=auth(superuser_token)).status_code
        == HTTPStatus.OK
    )


@pytest.mark.asyncio
async def test_admin_inactive_superusers_do_not_count_as_remaining(
    client, session, superuser, superuser_token
):
    inactive = await create_superuser(session)
    inactive.is_active = False
    await session.commit()

    response = set_flags(
        client, superuser_token, superuser.id, is_superuser=False
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == LAST_SUPERUSER


@pytest.mark.asyncio
async def test_admin_may_demote_themselves_when_another_superuser_remains(
    client, session, superuser, superuser_token
):
    second = await create_superuser(session)

    response = set_flags(
        client, superuser_token, superuser.id, is_superuser=False
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()['is_superuser'] is False
    assert await flags_of(session, superuser) == (True, False)
    assert await flags_of(session, second) == (True, True)
    refused = client.get('/admin/users', headers=auth(superuser_token))
    assert refused.status_code == HTTPStatus.FORBIDDEN


@pytest.mark.asyncio
async def test_admin_may_reactivate_an_inactive_superuser(
    client, session, superuser, superuser_token
):
    other = await create_superuser(session)
    other.is_active = False
    await session.commit()

    response = set_flags(client, superuser_token, other.id, is_active=True)

    assert response.status_code == HTTPStatus.OK
    assert await flags_of(session, other) == (True, True)


@pytest.mark.asyncio
async def test_admin_actions_are_logged_with_ids_not_emails(
    client, admin, user, caplog
):
    caplog.set_level(logging.INFO, logger='fast_zero')
    superuser = admin.user

    set_flags(client, admin.token, user.id, is_active=False)
    client.delete(f'/admin/users/{user.id}', headers=admin.headers)

    messages = [
        record.getMessage()
        for record in caplog.records
        if record.name == 'fast_zero.routers.admin'
        and record.levelno == logging.INFO
    ]
    assert messages == [
        f'superuser {superuser.id} set is_active=False of user {user.id}',
        f'superuser {superuser.id} deleted user {user.id}',
    ]
    assert not any(
        user.email in record.getMessage() for record in caplog.records
    )


# DELETE /admin/users/{user_id}


@pytest.mark.asyncio
async def test_admin_delete_user_removes_them_and_their_todos(
    client, session, superuser_token, user, other_user
):
    user_id, other_id = user.id, other_user.id
    session.add_all([
        TodoFactory(user_id=user_id),
        TodoFactory(user_id=other_id),
    ])
    await session.commit()

    response = client.delete(
        f'/admin/users/{user_id}', headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == USER_DELETED
    assert await read_user_row(session, user_id) is None
    owners = (await session.scalars(select(Todo.user_id))).all()
    assert owners == [other_id]


@pytest.mark.asyncio
async def test_admin_delete_unknown_user_returns_404(
    client, session, superuser, superuser_token
):
    response = client.delete('/admin/users/999', headers=auth(superuser_token))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == USER_NOT_FOUND


@pytest.mark.asyncio
async def test_admin_delete_last_active_superuser_returns_409(
    client, session, superuser, superuser_token
):
    session.add(TodoFactory(user_id=superuser.id))
    await session.commit()

    response = client.delete(
        f'/admin/users/{superuser.id}', headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == LAST_SUPERUSER
    assert await read_user_row(session, superuser.id) is not None
    todos = (await session.scalars(select(Todo.user_id))).all()
    assert todos == [superuser.id]  # nothing deleted


@pytest.mark.asyncio
async def test_admin_delete_another_superuser_returns_200(
    client, session, superuser, superuser_token
):
    second = await create_superuser(session)

    response = client.delete(
        f'/admin/users/{second.id}', headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == USER_DELETED
    assert await read_user_row(session, second.id) is None


# The course's /users routes and the last-superuser rule


@pytest.mark.asyncio
@pytest.mark.parametrize('path', ['/users/me', '/users/{user_id}'])
async def test_delete_own_account_of_last_active_superuser_returns_409(
    client, session, superuser, superuser_token, path
):
    response = client.delete(
        path.format(user_id=superuser.id), headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == LAST_SUPERUSER
    assert await read_user_row(session, superuser.id) is not None


@pytest.mark.asyncio
@pytest.mark.parametrize('path', ['/users/me', '/users/{user_id}'])
async def test_delete_own_superuser_account_when_another_remains_returns_200(
    client, session, superuser, superuser_token, path
):
    await create_superuser(session)

    response = client.delete(
        path.format(user_id=superuser.id), headers=auth(superuser_token)
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == USER_DELETED
    assert await read_user_row(session, superuser.id) is None


# A superuser on the course's /users/{user_id} routes


def replacement(password='new-secret'):
    return {
        'username': 'renamed',
        'email': 'renamed@example.com',
        'password': password,
    }


@pytest.mark.asyncio
async def test_superuser_update_other_user_returns_the_updated_user(
    client, session, superuser_token, user
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(superuser_token),
        json=replacement(),
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'id': user.id,
        'username': 'renamed',
        'email': 'renamed@example.com',
    }
    stored = await read_user_row(session, user.id)
    assert (stored.username, stored.email) == (
        'renamed',
        'renamed@example.com',
    )
    assert (
        login(client, 'renamed@example.com', 'new-secret').status_code
        == HTTPStatus.OK
    )


@pytest.mark.asyncio
async def test_superuser_new_password_for_other_ends_their_sessions_only(
    client, session, superuser_token, user, token
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(superuser_token),
        json=replacement(),
    )

    assert response.status_code == HTTPStatus.OK
    assert_credentials_rejected(client.get('/users/me', headers=auth(token)))
    mine = client.get('/users/me', headers=auth(superuser_token))
    assert mine.status_code == HTTPStatus.OK


@pytest.mark.asyncio
async def test_superuser_update_other_with_same_password_keeps_their_token(
    client, session, superuser_token, user, token
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(superuser_token),
        json=replacement(password=user.clean_password),
    )

    assert response.status_code == HTTPStatus.OK
    assert client.get('/users/me', headers=auth(token)).json() == {
        'id': user.id,
        'username': 'renamed',
        'email': 'renamed@example.com',
    }


@pytest.mark.asyncio
async def test_superuser_update_other_with_taken_username_returns_409(
    client, session, superuser, superuser_token, user
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(superuser_token),
        json={**replacement(), 'username': superuser.username},
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username or Email already exists'}
    stored = await read_user_row(session, user.id)
    assert stored.username == user.username


def test_superuser_update_unknown_user_returns_404(client, superuser_token):
    response = client.put(
        '/users/999', headers=auth(superuser_token), json=replacement()
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == USER_NOT_FOUND


@pytest.mark.asyncio
async def test_superuser_delete_other_user_returns_200(
    client, session, admin, user, caplog
):
    caplog.set_level(logging.INFO, logger='fast_zero')
    admin_id, user_id = admin.user.id, user.id

    response = client.delete(f'/users/{user_id}', headers=admin.headers)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == USER_DELETED
    assert await read_user_row(session, user_id) is None
    assert f'superuser {admin_id} deleted user {user_id}' in caplog.messages


def test_superuser_delete_unknown_user_returns_404(client, superuser_token):
    response = client.delete('/users/999', headers=auth(superuser_token))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == USER_NOT_FOUND


@pytest.mark.asyncio
async def test_superuser_update_of_other_is_logged_with_ids(
    client, superuser, superuser_token, user, caplog
):
    caplog.set_level(logging.INFO, logger='fast_zero')

    client.put(
        f'/users/{user.id}', headers=auth(superuser_token), json=replacement()
    )

    assert (
        f'superuser {superuser.id} replaced the account of user {user.id}'
        in caplog.messages
    )


@pytest.mark.parametrize('method', ['PUT', 'DELETE'])
def test_user_not_superuser_gets_403_for_an_unknown_id_too(
    client, user, token, method
):
    response = client.request(
        method, '/users/999', headers=auth(token), json=replacement()
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == NOT_ENOUGH_PERMISSIONS


# No user request sets the flags


@pytest.mark.asyncio
async def test_sign_up_ignores_is_active_and_is_superuser(client, session):
    response = client.post(
        '/users/',
        json={
            'username': 'mallory',
            'email': 'mallory@example.com',
            'password': 'secret123',
            'is_active': False,
            'is_superuser': True,
        },
    )

    assert response.status_code == HTTPStatus.CREATED
    created = await read_user_row(session, response.json()['id'])
    assert (created.is_active, created.is_superuser) == (True, False)


@pytest.mark.asyncio
async def test_update_own_account_ignores_is_active_and_is_superuser(
    client, session, user, token
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': user.username,
            'email': user.email,
            'password': user.clean_password,
            'is_active': False,
            'is_superuser': True,
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert await flags_of(session, user) == (True, False)


@pytest.mark.asyncio
async def test_patch_own_profile_ignores_is_active_and_is_superuser(
    client, session, user, token
):
    response = client.patch(
        '/users/me',
        headers=auth(token),
        json={'username': 'patched', 'is_active': False, 'is_superuser': True},
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {**public(user), 'username': 'patched'}
    assert await flags_of(session, user) == (True, False)


# A deactivated user's logins and sign-ups


@pytest.mark.asyncio
async def test_inactive_user_login_with_right_password_returns_403(
    client, session, user
):
    user.is_active = False
    await session.commit()

    response = login(client, user.email, user.clean_password)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == INACTIVE_USER


@pytest.mark.asyncio
async def test_inactive_user_login_with_wrong_password_returns_401(
    client, session, user
):
    user.is_active = False
    await session.commit()

    response = login(client, user.email, 'wrong-password')

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {'detail': 'Incorrect email or password'}


@pytest.mark.asyncio
@pytest.mark.parametrize('taken', ['username', 'email'])
async def test_sign_up_with_an_inactive_users_name_returns_409(
    client, session, user, taken
):
    user.is_active = False
    await session.commit()
    fields = {'username': 'newcomer', 'email': 'newcomer@example.com'}
    fields[taken] = getattr(user, taken)

    response = client.post('/users/', json={**fields, 'password': 'secret1'})

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {
        'detail': f'{taken.capitalize()} already exists'
    }


@pytest.mark.asyncio
async def test_users_created_in_code_are_active_and_not_superusers(session):
    user = User(username='carol', email='carol@example.com', password='x')
    session.add(user)
    await session.commit()

    stored = await read_user_row(session, user.id)
    assert (stored.is_active, stored.is_superuser) == (True, False)
    assert isinstance(stored.created_at, datetime)


@pytest.mark.asyncio
async def test_admin_patch_of_a_user_deleted_meanwhile_returns_404(
    client, session, superuser_token, user, monkeypatch
):
    """A deletion that lands between the read of the user and the guarded
    update: the update matches no row, and no superuser rule is at stake."""
    user_id = user.id
    find_user = crud.find_user_for_update

    async def find_then_lose_the_user(**arguments):
        found = await find_user(**arguments)
        await session.execute(delete(User).where(User.id == user_id))
        return found

    monkeypatch.setattr(crud, 'find_user_for_update', find_then_lose_the_user)

    response = set_flags(client, superuser_token, user_id, is_active=False)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == USER_NOT_FOUND
    assert await read_user_row(session, user_id) is None
