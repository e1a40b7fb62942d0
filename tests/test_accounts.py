"""The own account (/users/me) and the passwords behind the login.

Hashing on login: no user enumeration by timing, rehash of outdated hashes,
and the event loop left free while Argon2 runs.
"""

import asyncio
import threading
from http import HTTPStatus

import pytest
from argon2 import Type
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, select

from fast_zero import security
from fast_zero.models import Todo
from fast_zero.security import (
    DUMMY_PASSWORD_HASH,
    get_password_hash,
    verify_password,
    verify_password_and_update,
)
from fast_zero.settings import settings
from tests.factories import TodoFactory, UserFactory
from tests.helpers import (
    assert_credentials_rejected,
    assert_token_answer,
    auth,
    invalid_email,
    login,
    login_token,
    not_a_string,
    public,
    read_user_row,
    too_short,
    validation_error,
)

INCORRECT_LOGIN = {'detail': 'Incorrect email or password'}
UPDATE_CONFLICT = {'detail': 'Username or Email already exists'}
CURRENT_HASH_PREFIX = (
    f'$argon2id$v=19$m={settings.ARGON2_MEMORY_COST},'
    f't={settings.ARGON2_TIME_COST},p={settings.ARGON2_PARALLELISM}$'
)
# How long a blocked hash may wait before the test gives up on it, so a
# hash run on the event loop's thread fails the test instead of hanging it.
BLOCKED_HASH_TIMEOUT_SECONDS = 5
POLL_SECONDS = 0.01
MAX_POLLS = 500


def assert_own_profile(client, token, user):
    response = client.get('/users/me', headers=auth(token))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == public(user)


async def count_todos(session, user_id):
    return await session.scalar(
        select(func.count()).select_from(Todo).where(Todo.user_id == user_id)
    )


def outdated_hashers():
    """Argon2 hashers whose hashes the current settings call outdated."""
    time_cost = settings.ARGON2_TIME_COST
    memory_cost = settings.ARGON2_MEMORY_COST
    parallelism = settings.ARGON2_PARALLELISM
    return {
        'less-memory': Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost // 2,
            parallelism=parallelism,
        ),
        'more-time': Argon2Hasher(
            time_cost=time_cost + 1,
            memory_cost=memory_cost,
            parallelism=parallelism,
        ),
        'more-parallelism': Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism + 1,
        ),
        'argon2i-variant': Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=Type.I,
        ),
    }


OUTDATED_HASHERS = outdated_hashers()


@pytest.fixture(params=sorted(OUTDATED_HASHERS))
def outdated_hash_of(request):
    """Hashes a password the way an older configuration did."""
    hasher = PasswordHash((OUTDATED_HASHERS[request.param],))

    def outdated_hash(password):
        hashed = hasher.hash(password)
        assert security.password_hash.current_hasher.check_needs_rehash(hashed)
        return hashed

    return outdated_hash


# GET /users/me


def test_read_own_profile_returns_the_callers_user(client, user, other_user):
    other_token = login_token(client, other_user)

    response = client.get('/users/me', headers=auth(other_token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == public(other_user)


@pytest.mark.parametrize(
    ('method', 'path', 'body'),
    [
        ('GET', '/users/me', None),
        ('PATCH', '/users/me', {'username': 'bob'}),
        ('DELETE', '/users/me', None),
        (
            'PUT',
            '/users/me/password',
            {'current_password': 'testtest', 'new_password': 'newpassword'},
        ),
    ],
    ids=['read', 'update', 'delete', 'change-password'],
)
def test_own_account_routes_without_token_return_401(
    client, user, method, path, body
):
    response = client.request(method, path, json=body)

    assert_credentials_rejected(response)


# PATCH /users/me


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'case',
    [
        ({'username': 'bob'}, {'username': 'bob'}),
        ({'email': 'Bob@Example.COM'}, {'email': 'bob@example.com'}),
        (
            {'username': 'bob', 'email': 'BOB@example.com'},
            {'username': 'bob', 'email': 'bob@example.com'},
        ),
        ({}, {}),
    ],
    ids=['username-only', 'email-only', 'both', 'nothing'],
)
async def test_update_own_profile_changes_only_the_fields_sent(
    client, session, user, token, case
):
    changes, expected = case
    user_id = user.id
    expected_profile = {**public(user), **expected}

    response = client.patch('/users/me', headers=auth(token), json=changes)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == expected_profile
    db_user = await read_user_row(session, user_id)
    assert public(db_user) == expected_profile


def test_update_own_profile_to_own_username_and_email_returns_200(
    client, user, token
):
    response = client.patch(
        '/users/me',
        headers=auth(token),
        json={'username': user.username, 'email': user.email.upper()},
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == public(user)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'taken', ['username', 'email', 'email-in-another-case', 'both']
)
async def test_update_own_profile_with_taken_field_returns_409_unchanged(
    client, session, user, token, taken
):
    other_user = UserFactory()
    session.add(other_user)
    await session.commit()
    user_id = user.id
    before = (user.username, user.email)
    changes = {
        'username': {'username': other_user.username},
        'email': {'email': other_user.email},
        'email-in-another-case': {'email': other_user.email.upper()},
        'both': {'username': other_user.username, 'email': other_user.email},
    }[taken]

    response = client.patch('/users/me', headers=auth(token), json=changes)

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == UPDATE_CONFLICT
    db_user = await read_user_row(session, user_id)
    assert (db_user.username, db_user.email) == before


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'case',
    [
        ({'username': None}, not_a_string(('body', 'username'))),
        ({'email': None}, not_a_string(('body', 'email'))),
        (
            {'email': 'not-an-email'},
            invalid_email('An email address must have an @-sign.'),
        ),
        ({'username': ''}, too_short(('body', 'username'), 1)),
    ],
    ids=['null-username', 'null-email', 'invalid-email', 'empty-username'],
)
async def test_update_own_profile_with_invalid_field_returns_422_unchanged(
    client, session, user, token, case
):
    changes, error = case
    user_id = user.id
    before = public(user)

    response = client.patch('/users/me', headers=auth(token), json=changes)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {'detail': [error]}
    db_user = await read_user_row(session, user_id)
    assert public(db_user) == before


# DELETE /users/me


def test_delete_own_account_returns_200_and_message(client, user, token):
    response = client.delete('/users/me', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'User deleted'}


def test_delete_own_account_removes_the_user_and_kills_the_token(
    client, user, token
):
    user_id = user.id

    client.delete('/users/me', headers=auth(token))

    assert_credentials_rejected(client.get('/users/me', headers=auth(token)))
    response = client.get(f'/users/{user_id}')
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {'detail': 'User not found'}
    relogin = login(client, user.email, user.clean_password)
    assert relogin.status_code == HTTPStatus.UNAUTHORIZED
    assert relogin.json() == INCORRECT_LOGIN


@pytest.mark.asyncio
async def test_delete_own_account_removes_only_the_callers_todos(
    client, session, user, other_user, token
):
    user_id, other_user_id = user.id, other_user.id
    other_todos = 2
    session.add_all(TodoFactory.create_batch(3, user_id=user_id))
    session.add_all(
        TodoFactory.create_batch(other_todos, user_id=other_user_id)
    )
    await session.commit()

    response = client.delete('/users/me', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'User deleted'}
    session.expire_all()
    assert await count_todos(session, user_id) == 0
    assert await count_todos(session, other_user_id) == other_todos


# PUT /users/me/password


def change_password(client, token, current, new):
    return client.put(
        '/users/me/password',
        headers=auth(token),
        json={'current_password': current, 'new_password': new},
    )


def test_change_password_returns_a_working_token(client, user, token):
    response = change_password(
        client, token, user.clean_password, 'a-new-password'
    )

    assert_token_answer(response)
    assert_own_profile(client, response.json()['access_token'], user)


def test_change_password_revokes_the_old_token(client, user, token):
    change_password(client, token, user.clean_password, 'a-new-password')

    assert_credentials_rejected(client.get('/users/me', headers=auth(token)))


def test_change_password_replaces_the_password_for_login(client, user, token):
    change_password(client, token, user.clean_password, 'a-new-password')

    new_login = login(client, user.email, 'a-new-password')
    old_login = login(client, user.email, user.clean_password)

    assert_token_answer(new_login)
    assert old_login.status_code == HTTPStatus.UNAUTHORIZED
    assert old_login.json() == INCORRECT_LOGIN


@pytest.mark.asyncio
async def test_change_password_with_wrong_current_password_changes_nothing(
    client, session, user, token
):
    user_id, stored_hash, token_key = user.id, user.password, user.token_key

    response = change_password(
        client, token, 'not-my-password', 'a-new-password'
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {'detail': 'Incorrect password'}
    db_user = await read_user_row(session, user_id)
    assert (db_user.password, db_user.token_key) == (stored_hash, token_key)
    assert_own_profile(client, token, db_user)
    assert_token_answer(login(client, db_user.email, user.clean_password))


@pytest.mark.asyncio
async def test_change_password_to_a_too_short_one_returns_422_unchanged(
    client, session, user, token
):
    user_id, stored_hash = user.id, user.password
    short_password = 'x' * (settings.PASSWORD_MIN_LENGTH - 1)

    response = change_password(
        client, token, user.clean_password, short_password
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(
        too_short(('body', 'new_password'), settings.PASSWORD_MIN_LENGTH)
    )
    assert short_password not in response.text
    db_user = await read_user_row(session, user_id)
    assert db_user.password == stored_hash
    assert_own_profile(client, token, db_user)


# Login: no user enumeration by timing


class CountingHash:
    """Wraps the module's PasswordHash, noting each hash it verifies."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.verified = []

    @property
    def current_hasher(self):
        return self.wrapped.current_hasher

    def hash(self, password):
        return self.wrapped.hash(password)

    def verify(self, password, hashed):
        self.verified.append(hashed)
        return self.wrapped.verify(password, hashed)

    def verify_and_update(self, password, hashed):
        self.verified.append(hashed)
        return self.wrapped.verify_and_update(password, hashed)


@pytest.fixture
def counting_hash(monkeypatch):
    counter = CountingHash(security.password_hash)
    monkeypatch.setattr(security, 'password_hash', counter)
    return counter


@pytest.mark.parametrize('email_registered', [False, True])
def test_failed_login_verifies_exactly_one_hash_whether_email_exists(
    client, user, counting_hash, email_registered
):
    email = user.email if email_registered else 'nobody@example.com'
    expected_hash = user.password if email_registered else DUMMY_PASSWORD_HASH

    response = login(client, email, 'not-the-password')

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN
    assert counting_hash.verified == [expected_hash]


def test_dummy_password_hash_uses_the_current_hasher_parameters():
    current_hasher = security.password_hash.current_hasher

    assert DUMMY_PASSWORD_HASH.startswith(CURRENT_HASH_PREFIX)
    assert current_hasher.check_needs_rehash(DUMMY_PASSWORD_HASH) is False


# Login: rehash of outdated hashes


@pytest.mark.asyncio
async def test_login_with_outdated_hash_stores_a_current_one(
    client, session, user, outdated_hash_of
):
    user_id = user.id
    outdated = outdated_hash_of(user.clean_password)
    user.password = outdated
    await session.commit()

    response = login(client, user.email, user.clean_password)

    assert_token_answer(response)
    stored = (await read_user_row(session, user_id)).password
    assert stored != outdated
    assert stored.startswith(CURRENT_HASH_PREFIX)
    assert (
        security.password_hash.current_hasher.check_needs_rehash(stored)
        is False
    )
    assert verify_password(user.clean_password, stored) is True


@pytest.mark.asyncio
async def test_failed_login_with_outdated_hash_keeps_the_stored_hash(
    client, session, user, outdated_hash_of
):
    user_id = user.id
    outdated = outdated_hash_of(user.clean_password)
    user.password = outdated
    await session.commit()

    response = login(client, user.email, 'not-the-password')

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == INCORRECT_LOGIN
    assert (await read_user_row(session, user_id)).password == outdated


@pytest.mark.asyncio
async def test_login_with_current_hash_keeps_the_stored_hash(
    client, session, user
):
    user_id, stored = user.id, user.password

    response = login(client, user.email, user.clean_password)

    assert_token_answer(response)
    assert (await read_user_row(session, user_id)).password == stored


# verify_password and verify_password_and_update


def test_verify_password_with_outdated_hash_returns_plain_true(
    outdated_hash_of,
):
    assert verify_password('secret', outdated_hash_of('secret')) is True


def test_verify_password_and_update_with_current_hash_returns_no_new_hash():
    hashed = get_password_hash('secret')

    assert verify_password_and_update('secret', hashed) == (True, None)


def test_verify_password_and_update_with_outdated_hash_returns_a_new_one(
    outdated_hash_of,
):
    outdated = outdated_hash_of('secret')

    verified, new_hash = verify_password_and_update('secret', outdated)

    assert verified is True
    assert new_hash.startswith(CURRENT_HASH_PREFIX)
    assert (
        security.password_hash.current_hasher.check_needs_rehash(new_hash)
        is False
    )
    assert verify_password('secret', new_hash) is True


def test_verify_password_and_update_with_wrong_password_returns_false():
    hashed = get_password_hash('secret')

    assert verify_password_and_update('Secret', hashed) == (False, None)


def test_verify_password_and_update_wrong_password_on_outdated_hash(
    outdated_hash_of,
):
    """No new hash for a password that does not match."""
    outdated = outdated_hash_of('secret')

    assert verify_password_and_update('Secret', outdated) == (False, None)


@pytest.mark.parametrize(
    'hashed',
    ['not-a-hash', '', '$2b$12$' + 'a' * 53, '$argon2id$broken'],
    ids=['not-a-hash', 'empty', 'bcrypt-unsupported', 'argon2-broken'],
)
def test_verify_password_and_update_with_unreadable_hash_returns_false(
    hashed,
):
    assert verify_password_and_update('secret', hashed) == (False, None)


# Login: the event loop stays free while a password is verified


class BlockingHash:
    """Wraps the module's PasswordHash; verifying waits for `release`."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.entered = threading.Event()
        self.release = threading.Event()
        self.released_in_time = None
        self.thread = None

    def verify_and_update(self, password, hashed):
        self.thread = threading.current_thread()
        self.entered.set()
        self.released_in_time = self.release.wait(BLOCKED_HASH_TIMEOUT_SECONDS)
        return self.wrapped.verify_and_update(password, hashed)


async def wait_for(event):
    for _ in range(MAX_POLLS):
        if event.is_set():
            return True
        await asyncio.sleep(POLL_SECONDS)
    return event.is_set()


@pytest.mark.asyncio
async def test_requests_are_served_while_a_login_is_hashing(
    async_client, user, monkeypatch
):
    loop_thread = threading.current_thread()
    blocking = BlockingHash(security.password_hash)
    monkeypatch.setattr(security, 'password_hash', blocking)

    login_task = asyncio.create_task(
        login(async_client, user.email, user.clean_password)
    )
    try:
        hashing_started = await wait_for(blocking.entered)
        root = await async_client.get('/')
        login_still_blocked = not login_task.done()
    finally:
        blocking.release.set()
        login_response = await login_task

    assert hashing_started
    assert root.status_code == HTTPStatus.OK
    assert root.json() == {'message': 'Olá Mundo!'}
    assert login_still_blocked
    assert blocking.released_in_time is True
    assert_token_answer(login_response)
    assert blocking.thread is not loop_thread
    assert blocking.thread.name.startswith('password-hashing')
