from http import HTTPStatus

import pytest
from sqlalchemy import func, select

from fast_zero.models import User
from fast_zero.security import verify_password
from fast_zero.settings import settings
from tests.factories import UserFactory
from tests.helpers import (
    assert_credentials_rejected,
    auth,
    invalid_email,
    login,
    missing,
    not_a_string,
    out_of_bounds,
    public,
    read_user_row,
    too_long,
    too_short,
    validation_error,
)

PASSWORD = 'S3cret-passw0rd'
ALICE = {
    'username': 'alice',
    'email': 'alice@example.com',
    'password': PASSWORD,
}
# 64 + 1 + 190 characters: one more than an email may have.
EMAIL_255 = f'{"a" * 64}@{"b" * 63}.{"b" * 63}.{"c" * 58}.com'
EMAIL_254 = f'{"a" * 64}@{"b" * 63}.{"b" * 63}.{"c" * 57}.com'
MAX_ID = 2**31 - 1
INVALID_IDS = ['0', '-1', str(MAX_ID + 1), str(2**63), str(2**64), 'abc']


def invalid_path_id_body(raw_id):
    if raw_id == 'abc':
        return {
            'detail': [
                {
                    'type': 'int_parsing',
                    'loc': ['path', 'user_id'],
                    'msg': (
                        'Input should be a valid integer, '
                        'unable to parse string as an integer'
                    ),
                }
            ]
        }
    if int(raw_id) < 1:
        return validation_error(out_of_bounds(('path', 'user_id'), 'ge', 1))
    return validation_error(out_of_bounds(('path', 'user_id'), 'le', MAX_ID))


def assert_no_input_echoed(response, password):
    assert all('input' not in error for error in response.json()['detail'])
    assert str(password) not in response.text


async def add_users(session, count):
    users = UserFactory.create_batch(count)
    session.add_all(users)
    await session.commit()
    return users


# POST /users/


def test_create_user_returns_201_and_the_public_user(client):
    response = client.post('/users/', json=ALICE)

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        'id': 1,
        'username': 'alice',
        'email': 'alice@example.com',
    }


@pytest.mark.asyncio
async def test_create_user_stores_a_hash_of_the_password(client, session):
    client.post('/users/', json=ALICE)

    db_user = await read_user_row(session, 1)
    assert db_user.password != PASSWORD
    assert verify_password(PASSWORD, db_user.password)


@pytest.mark.asyncio
async def test_create_user_stores_the_whole_email_lower_cased(client, session):
    response = client.post(
        '/users/', json={**ALICE, 'email': 'Alice.Smith@Example.COM'}
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        'id': 1,
        'username': 'alice',
        'email': 'alice.smith@example.com',
    }
    db_user = await read_user_row(session, 1)
    assert db_user.email == 'alice.smith@example.com'


def test_create_user_ignores_unknown_fields(client):
    response = client.post(
        '/users/', json={**ALICE, 'id': 42, 'is_admin': True}
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        'id': 1,
        'username': 'alice',
        'email': 'alice@example.com',
    }


@pytest.mark.parametrize(
    'fields',
    [
        {'username': 'u' * 64},
        {'username': 'u'},
        {'email': EMAIL_254},
        {'password': 'p' * 6},
        {'password': 'p' * 128},
    ],
    ids=[
        'username-64',
        'username-1',
        'email-254',
        'password-6',
        'password-128',
    ],
)
def test_create_user_accepts_values_at_the_limits(client, fields):
    body = {**ALICE, **fields}

    response = client.post('/users/', json=body)

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        'id': 1,
        'username': body['username'],
        'email': body['email'],
    }


def test_create_user_with_taken_username_returns_409(client, user):
    response = client.post(
        '/users/',
        json={**ALICE, 'username': user.username},
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username already exists'}


def test_create_user_with_taken_email_returns_409(client, user):
    response = client.post('/users/', json={**ALICE, 'email': user.email})

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Email already exists'}


def test_create_user_with_taken_email_in_another_case_returns_409(
    client, user
):
    response = client.post(
        '/users/', json={**ALICE, 'email': user.email.upper()}
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Email already exists'}


def test_create_user_with_taken_username_and_email_reports_username(
    client, user
):
    response = client.post(
        '/users/',
        json={**ALICE, 'username': user.username, 'email': user.email},
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username already exists'}


def test_create_user_with_upper_case_email_conflicts_with_lower_case(
    client,
):
    client.post('/users/', json={**ALICE, 'email': 'ALICE@EXAMPLE.COM'})

    response = client.post(
        '/users/',
        json={**ALICE, 'username': 'bob', 'email': 'alice@example.com'},
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Email already exists'}


@pytest.mark.asyncio
async def test_create_user_losing_a_race_returns_409_not_500(
    client, session, user, monkeypatch
):
    """The pre-check passes, then the unique constraint catches the race."""
    taken_username = user.username
    checked = False

    async def taken_only_after_the_commit(**_kwargs):
        nonlocal checked
        if checked:
            return 'username'
        checked = True
        return None

    monkeypatch.setattr(
        'fast_zero.routers.users.find_taken_field',
        taken_only_after_the_commit,
    )

    response = client.post(
        '/users/', json={**ALICE, 'username': taken_username}
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username already exists'}
    user_count = await session.scalar(select(func.count()).select_from(User))
    assert user_count == 1


def test_create_user_violating_a_constraint_nobody_holds_returns_409(
    client, user, monkeypatch
):
    async def never_taken(**_kwargs):
        return None

    monkeypatch.setattr(
        'fast_zero.routers.users.find_taken_field', never_taken
    )

    response = client.post('/users/', json={**ALICE, 'email': user.email})

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username or Email already exists'}


@pytest.mark.parametrize(
    ('body', 'errors'),
    [
        (
            {**ALICE, 'email': 'alice.example.com'},
            [invalid_email('An email address must have an @-sign.')],
        ),
        (
            {**ALICE, 'email': EMAIL_255},
            [
                invalid_email(
                    'The email address is too long (1 character too many).'
                )
            ],
        ),
        ({**ALICE, 'username': ''}, [too_short(('body', 'username'), 1)]),
        (
            {**ALICE, 'username': 'u' * 65},
            [too_long(('body', 'username'), 64)],
        ),
        ({**ALICE, 'password': 'x7#Q9'}, [too_short(('body', 'password'), 6)]),
        (
            {**ALICE, 'password': 'p' * 129},
            [too_long(('body', 'password'), 128)],
        ),
        (
            {'email': ALICE['email'], 'password': PASSWORD},
            [missing(('body', 'username'))],
        ),
        (
            {'username': 'alice', 'password': PASSWORD},
            [missing(('body', 'email'))],
        ),
        (
            {'username': 'alice', 'email': ALICE['email']},
            [missing(('body', 'password'))],
        ),
        (
            {},
            [
                missing(('body', 'username')),
                missing(('body', 'email')),
                missing(('body', 'password')),
            ],
        ),
        ({**ALICE, 'username': 123}, [not_a_string(('body', 'username'))]),
        ({**ALICE, 'email': 123}, [not_a_string(('body', 'email'))]),
        ({**ALICE, 'email': None}, [not_a_string(('body', 'email'))]),
        ({**ALICE, 'password': 123456}, [not_a_string(('body', 'password'))]),
        (
            [ALICE],
            [
                {
                    'type': 'model_attributes_type',
                    'loc': ['body'],
                    'msg': (
                        'Input should be a valid dictionary or object '
                        'to extract fields from'
                    ),
                }
            ],
        ),
    ],
    ids=[
        'invalid-email',
        'email-too-long',
        'username-empty',
        'username-too-long',
        'password-too-short',
        'password-too-long',
        'missing-username',
        'missing-email',
        'missing-password',
        'empty-object',
        'username-not-a-string',
        'email-not-a-string',
        'email-null',
        'password-not-a-string',
        'list-instead-of-object',
    ],
)
def test_create_user_with_invalid_body_returns_422_without_echo(
    client, body, errors
):
    response = client.post('/users/', json=body)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {'detail': errors}
    submitted = body[0] if isinstance(body, list) else body
    assert_no_input_echoed(response, submitted.get('password', PASSWORD))


def test_create_user_with_malformed_json_returns_422_without_echo(client):
    content = '{"username": "alice", "password": "S3cret-passw0rd", '

    response = client.post(
        '/users/',
        content=content,
        headers={'Content-Type': 'application/json'},
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [
            {
                'type': 'json_invalid',
                'loc': ['body', len(content)],
                'msg': 'JSON decode error',
                'ctx': {
                    'error': 'Expecting property name enclosed in double '
                    'quotes'
                },
            }
        ]
    }
    assert_no_input_echoed(response, PASSWORD)


@pytest.mark.parametrize(
    ('content_type', 'content'),
    [
        (
            'application/x-www-form-urlencoded',
            f'username=alice&email=alice@example.com&password={PASSWORD}',
        ),
        ('text/plain', f'{{"username": "alice", "password": "{PASSWORD}"}}'),
    ],
    ids=['form', 'text'],
)
def test_create_user_with_non_json_body_returns_422_without_echo(
    client, content_type, content
):
    response = client.post(
        '/users/', content=content, headers={'Content-Type': content_type}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [
            {
                'type': 'model_attributes_type',
                'loc': ['body'],
                'msg': (
                    'Input should be a valid dictionary or object '
                    'to extract fields from'
                ),
            }
        ]
    }
    assert_no_input_echoed(response, PASSWORD)


def test_create_user_without_body_returns_422(client):
    response = client.post('/users/')

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {'detail': [missing(('body',))]}


# GET /users/


def test_read_users_without_users_returns_empty_list(client):
    response = client.get('/users/')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'users': []}


def test_read_users_returns_the_public_users(client, user):
    response = client.get('/users/')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'users': [public(user)]}


@pytest.mark.asyncio
async def test_read_users_orders_by_id(client, session):
    # Usernames sort the other way round, so only an order by id passes.
    session.add_all([
        UserFactory(username=name) for name in ('zoe', 'mia', 'amy')
    ])
    await session.commit()

    response = client.get('/users/')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'users': [
            {'id': 1, 'username': 'zoe', 'email': 'zoe@test.com'},
            {'id': 2, 'username': 'mia', 'email': 'mia@test.com'},
            {'id': 3, 'username': 'amy', 'email': 'amy@test.com'},
        ]
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ('query', 'expected_ids'),
    [
        ('offset=0&limit=2', [1, 2]),
        ('offset=1&limit=2', [2, 3]),
        ('offset=3&limit=10', [4, 5]),
        ('offset=4&limit=1', [5]),
        ('offset=5', []),
        ('limit=1', [1]),
    ],
)
async def test_read_users_paginates(client, session, query, expected_ids):
    users = await add_users(session, 5)
    by_id = {u.id: public(u) for u in users}

    response = client.get(f'/users/?{query}')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'users': [by_id[i] for i in expected_ids]}


@pytest.mark.asyncio
async def test_read_users_returns_at_most_100_by_default(client, session):
    users = await add_users(session, 101)

    response = client.get('/users/')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'users': [public(u) for u in users[:100]]}


@pytest.mark.asyncio
async def test_read_users_with_limit_100_returns_100(client, session):
    users = await add_users(session, 101)

    response = client.get('/users/?offset=1&limit=100')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'users': [public(u) for u in users[1:]]}


@pytest.mark.usefixtures('user')
def test_read_users_with_largest_offset_returns_empty_list(client):
    response = client.get(f'/users/?offset={MAX_ID}')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'users': []}


@pytest.mark.parametrize(
    ('query', 'expected'),
    [
        ('offset=-1', out_of_bounds(('query', 'offset'), 'ge', 0)),
        (
            f'offset={MAX_ID + 1}',
            out_of_bounds(('query', 'offset'), 'le', MAX_ID),
        ),
        ('limit=0', out_of_bounds(('query', 'limit'), 'ge', 1)),
        ('limit=101', out_of_bounds(('query', 'limit'), 'le', 100)),
    ],
)
def test_read_users_with_out_of_bounds_page_returns_422(
    client, query, expected
):
    response = client.get(f'/users/?{query}')

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(expected)


# GET /users/{user_id}


def test_read_user_returns_the_public_user(client, user):
    response = client.get(f'/users/{user.id}')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == public(user)


def test_read_unknown_user_returns_404(client, user):
    response = client.get(f'/users/{user.id + 1}')

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {'detail': 'User not found'}


def test_read_user_with_largest_id_returns_404(client):
    response = client.get(f'/users/{MAX_ID}')

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {'detail': 'User not found'}


@pytest.mark.parametrize('raw_id', INVALID_IDS)
def test_read_user_with_invalid_id_returns_422(client, raw_id):
    response = client.get(f'/users/{raw_id}')

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == invalid_path_id_body(raw_id)


@pytest.mark.parametrize('raw_id', INVALID_IDS)
def test_update_user_with_invalid_id_returns_422(client, user, token, raw_id):
    response = client.put(
        f'/users/{raw_id}',
        headers=auth(token),
        json={
            'username': user.username,
            'email': user.email,
            'password': user.clean_password,
        },
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == invalid_path_id_body(raw_id)


@pytest.mark.parametrize('raw_id', INVALID_IDS)
def test_delete_user_with_invalid_id_returns_422(client, token, raw_id):
    response = client.delete(f'/users/{raw_id}', headers=auth(token))

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == invalid_path_id_body(raw_id)


# Who may read the directory

DIRECTORY_PATHS = ['/users/', '/users/1']


def directory_body(path, user):
    """What the directory answers at `path` when `user` is its only user."""
    return {'users': [public(user)]} if path == '/users/' else public(user)


@pytest.mark.parametrize('path', DIRECTORY_PATHS)
def test_directory_in_development_is_public(client, user, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == directory_body(path, user)


@pytest.mark.parametrize('path', DIRECTORY_PATHS)
@pytest.mark.parametrize(
    'headers',
    [{}, auth('not-a-token'), {'Authorization': 'Basic xyz'}],
    ids=['no-token', 'bad-token', 'basic'],
)
@pytest.mark.usefixtures('user')
def test_directory_in_production_without_valid_token_returns_401(
    client, monkeypatch, path, headers
):
    monkeypatch.setattr(settings, 'ENVIRONMENT', 'production')

    response = client.get(path, headers=headers)

    assert_credentials_rejected(response)


@pytest.mark.parametrize('path', DIRECTORY_PATHS)
def test_directory_in_production_with_token_returns_200(
    client, user, token, monkeypatch, path
):
    monkeypatch.setattr(settings, 'ENVIRONMENT', 'production')

    response = client.get(path, headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == directory_body(path, user)


def test_directory_in_production_with_token_reads_another_user(
    client, other_user, token, monkeypatch
):
    monkeypatch.setattr(settings, 'ENVIRONMENT', 'production')

    response = client.get(f'/users/{other_user.id}', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == public(other_user)


@pytest.mark.parametrize('path', DIRECTORY_PATHS)
def test_directory_in_production_made_public_needs_no_token(
    client, user, monkeypatch, path
):
    monkeypatch.setattr(settings, 'ENVIRONMENT', 'production')
    monkeypatch.setattr(settings, 'USERS_DIRECTORY_PUBLIC', True)

    response = client.get(path)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == directory_body(path, user)


@pytest.mark.parametrize('path', DIRECTORY_PATHS)
def test_directory_in_development_made_private_needs_a_token(
    client, user, token, monkeypatch, path
):
    monkeypatch.setattr(settings, 'USERS_DIRECTORY_PUBLIC', False)

    without_token = client.get(path)
    with_token = client.get(path, headers=auth(token))

    assert_credentials_rejected(without_token)
    assert with_token.status_code == HTTPStatus.OK
    assert with_token.json() == directory_body(path, user)


# PUT /users/{user_id}


def test_update_user_returns_the_updated_user(client, user, token):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': 'bob',
            'email': 'Bob@Example.com',
            'password': 'mynewpassword',
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'id': user.id,
        'username': 'bob',
        'email': 'bob@example.com',
    }


@pytest.mark.asyncio
async def test_update_user_stores_the_changes(client, session, user, token):
    user_id = user.id
    client.put(
        f'/users/{user_id}',
        headers=auth(token),
        json={
            'username': 'bob',
            'email': 'BOB@example.com',
            'password': 'mynewpassword',
        },
    )

    db_user = await read_user_row(session, user_id)
    assert db_user.username == 'bob'
    assert db_user.email == 'bob@example.com'
    assert verify_password('mynewpassword', db_user.password)


def test_update_user_to_own_username_and_email_returns_200(
    client, user, token
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': user.username,
            'email': user.email.upper(),
            'password': 'mynewpassword',
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == public(user)


def test_update_user_password_replaces_the_old_one_for_login(
    client, user, token
):
    client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': user.username,
            'email': user.email,
            'password': 'mynewpassword',
        },
    )

    new_login = login(client, user.email, 'mynewpassword')
    old_login = login(client, user.email, user.clean_password)

    assert new_login.status_code == HTTPStatus.OK
    assert old_login.status_code == HTTPStatus.UNAUTHORIZED
    assert old_login.json() == {'detail': 'Incorrect email or password'}


def test_update_user_email_keeps_the_token_valid(client, user, token):
    client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': user.username,
            'email': 'moved@example.com',
            'password': user.clean_password,
        },
    )

    response = client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={
            'username': 'renamed',
            'email': 'moved@example.com',
            'password': user.clean_password,
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'id': user.id,
        'username': 'renamed',
        'email': 'moved@example.com',
    }


def test_update_other_user_returns_403(client, user, other_user, token):
    response = client.put(
        f'/users/{other_user.id}',
        headers=auth(token),
        json={
            'username': 'bob',
            'email': 'bob@example.com',
            'password': 'mynewpassword',
        },
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {'detail': 'Not enough permissions'}


def test_update_unknown_user_returns_403(client, user, token):
    response = client.put(
        f'/users/{user.id + 100}',
        headers=auth(token),
        json=ALICE,
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {'detail': 'Not enough permissions'}


def test_update_user_without_token_returns_401(client, user):
    response = client.put(f'/users/{user.id}', json=ALICE)

    assert_credentials_rejected(response)


def test_update_user_with_invalid_body_returns_422_without_echo(
    client, user, token
):
    response = client.put(
        f'/users/{user.id}',
        headers=auth(token),
        json={'username': 'bob', 'password': 'x7#Q9'},
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [
            missing(('body', 'email')),
            too_short(('body', 'password'), 6),
        ]
    }
    assert_no_input_echoed(response, 'x7#Q9')


@pytest.mark.asyncio
@pytest.mark.parametrize(
    'taken',
    ['username', 'email', 'email-in-another-case', 'both'],
)
async def test_update_user_with_taken_field_returns_409_and_changes_nothing(
    client, session, user, token, taken
):
    other_user = UserFactory()
    session.add(other_user)
    await session.commit()
    user_id = user.id
    before = (user.username, user.email, user.password)
    body = {
        'username': 'bob',
        'email': 'bob@example.com',
        'password': 'mynewpassword',
    }
    if taken in {'username', 'both'}:
        body['username'] = other_user.username
    if taken in {'email', 'both'}:
        body['email'] = other_user.email
    if taken == 'email-in-another-case':
        body['email'] = other_user.email.upper()

    response = client.put(f'/users/{user_id}', headers=auth(token), json=body)

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username or Email already exists'}
    db_user = await read_user_row(session, user_id)
    assert (db_user.username, db_user.email, db_user.password) == before


@pytest.mark.asyncio
async def test_update_user_losing_a_race_returns_409_and_changes_nothing(
    client, session, user, token, monkeypatch
):
    """The pre-check passes, then the unique constraint catches the race."""
    session.add(UserFactory(username='bob'))
    await session.commit()
    user_id = user.id
    before = (user.username, user.email, user.password)

    async def never_taken(**_kwargs):
        return None

    monkeypatch.setattr(
        'fast_zero.routers.users.find_taken_field', never_taken
    )

    response = client.put(
        f'/users/{user_id}',
        headers=auth(token),
        json={
            'username': 'bob',
            'email': 'new-bob@example.com',
            'password': 'mynewpassword',
        },
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {'detail': 'Username or Email already exists'}
    db_user = await read_user_row(session, user_id)
    assert (db_user.username, db_user.email, db_user.password) == before


# DELETE /users/{user_id}


def test_delete_user_returns_200_and_message(client, user, token):
    response = client.delete(f'/users/{user.id}', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'User deleted'}


def test_delete_user_removes_the_user(client, user, token):
    user_id = user.id

    client.delete(f'/users/{user_id}', headers=auth(token))

    response = client.get(f'/users/{user_id}')
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {'detail': 'User not found'}


def test_delete_other_user_returns_403(client, user, other_user, token):
    response = client.delete(f'/users/{other_user.id}', headers=auth(token))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {'detail': 'Not enough permissions'}
    still_there = client.get(f'/users/{other_user.id}')
    assert still_there.status_code == HTTPStatus.OK
    assert still_there.json() == public(other_user)


def test_delete_user_without_token_returns_401(client, user):
    response = client.delete(f'/users/{user.id}')

    assert_credentials_rejected(response)


def test_token_of_deleted_user_returns_401(client, user, token):
    user_id = user.id
    client.delete(f'/users/{user_id}', headers=auth(token))

    update = client.put(f'/users/{user_id}', headers=auth(token), json=ALICE)
    delete = client.delete(f'/users/{user_id}', headers=auth(token))

    assert_credentials_rejected(update)
    assert_credentials_rejected(delete)


def test_token_of_deleted_user_cannot_read_private_directory(
    client, user, token, monkeypatch
):
    monkeypatch.setattr(settings, 'ENVIRONMENT', 'production')
    client.delete(f'/users/{user.id}', headers=auth(token))

    response = client.get('/users/', headers=auth(token))

    assert_credentials_rejected(response)
