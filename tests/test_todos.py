from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from http import HTTPStatus

import pytest
from sqlalchemy import event, func, select

from fast_zero.models import Todo, TodoState, User
from tests.factories import TodoFactory
from tests.helpers import (
    assert_credentials_rejected,
    auth,
    login,
    not_a_string,
    out_of_bounds,
    too_long,
    too_short,
    validation_error,
)

MAX_ID = 2**31 - 1
INVALID_IDS = [0, 2**31, 2**63, 2**64]
NOT_FOUND = {'detail': 'Task not found.'}
DELETED = {'message': 'Task has been deleted successfully.'}
STATES = "'draft', 'todo', 'doing', 'done' or 'trash'"
TODO = {'title': 'Buy milk', 'description': 'Two litres', 'state': 'todo'}
# For todos a filter must not match by chance (Faker writes words).
BLANK = {'title': 'x', 'description': 'x'}
# A title filter that no todo of `BLANK` matches.
BLANK_MISS = 'nothing-like-it'


def public(todo):
    return {
        'id': todo.id,
        'title': todo.title,
        'description': todo.description,
        'state': todo.state,
    }


def invalid_state(loc):
    return {
        'type': 'enum',
        'loc': list(loc),
        'msg': f'Input should be {STATES}',
        'ctx': {'expected': STATES},
    }


def invalid_id_error(todo_id):
    if todo_id < 1:
        return validation_error(out_of_bounds(('path', 'todo_id'), 'ge', 1))
    return validation_error(out_of_bounds(('path', 'todo_id'), 'le', MAX_ID))


async def add_todos(session, count=1, **fields):
    todos = TodoFactory.create_batch(count, **fields)
    session.add_all(todos)
    await session.commit()
    return todos


async def count_todos(session, **filters):
    return await session.scalar(
        select(func.count()).select_from(Todo).filter_by(**filters)
    )


def list_todos(client, token, **params):
    response = client.get('/todos/', headers=auth(token), params=params)
    assert response.status_code == HTTPStatus.OK
    return response.json()['todos']


def listed_ids(client, token, **params):
    return [todo['id'] for todo in list_todos(client, token, **params)]


@pytest.fixture
def add_my_todos(session, user):
    """Adds todos of `user`, the owner of `token`."""

    async def add(count=1, **fields):
        return await add_todos(session, count, user_id=user.id, **fields)

    return add


@pytest.fixture
def add_other_users_todos(session, other_user):
    async def add(count=1, **fields):
        return await add_todos(session, count, user_id=other_user.id, **fields)

    return add


@pytest.fixture
def other_token(client, other_user):
    response = login(client, other_user.email, other_user.clean_password)
    return response.json()['access_token']


# Model


@pytest.mark.asyncio
async def test_create_todo_model(session, user, mock_db_time):
    with mock_db_time(model=Todo) as time:
        todo = Todo(
            title='Test Todo',
            description='Test Desc',
            state='draft',
            user_id=user.id,
        )
        session.add(todo)
        await session.commit()

    todo = await session.scalar(select(Todo))

    assert asdict(todo) == {
        'id': 1,
        'title': 'Test Todo',
        'description': 'Test Desc',
        'state': 'draft',
        'user_id': user.id,
        'created_at': time,
        'updated_at': time,
    }


@pytest.mark.asyncio
async def test_user_todo_relationship(session, user):
    todo = Todo(
        title='Test Todo',
        description='Test Desc',
        state='draft',
        user_id=user.id,
    )
    session.add(todo)
    await session.commit()
    await session.refresh(user)

    user = await session.scalar(select(User).where(User.id == user.id))

    assert user.todos == [todo]


@pytest.mark.asyncio
async def test_update_todo_model_changes_updated_at_only(
    session, add_my_todos, mock_db_time
):
    with mock_db_time(model=Todo) as time:
        [todo] = await add_my_todos()

    todo.title = 'Changed'
    await session.commit()

    assert todo.created_at == time
    assert todo.updated_at > time


# POST /todos/


def test_create_todo_returns_201_and_the_todo(client, token):
    response = client.post('/todos/', headers=auth(token), json=TODO)

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {'id': 1, **TODO}


@pytest.mark.asyncio
async def test_create_todo_belongs_to_the_caller_whatever_the_body_says(
    client, session, user, other_user, token
):
    response = client.post(
        '/todos/',
        headers=auth(token),
        json={**TODO, 'user_id': other_user.id, 'id': 42},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {'id': 1, **TODO}
    assert await count_todos(session, user_id=user.id) == 1
    assert await count_todos(session, user_id=other_user.id) == 0


@pytest.mark.parametrize(
    'fields',
    [
        {'title': 't'},
        {'title': 't' * 200},
        {'description': ''},
        {'description': 'd' * 2000},
    ],
    ids=['title-1', 'title-200', 'description-empty', 'description-2000'],
)
def test_create_todo_accepts_values_at_the_limits(client, token, fields):
    response = client.post(
        '/todos/', headers=auth(token), json={**TODO, **fields}
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {'id': 1, **TODO, **fields}


@pytest.mark.parametrize('state', list(TodoState))
def test_create_todo_accepts_every_state(client, token, state):
    response = client.post(
        '/todos/', headers=auth(token), json={**TODO, 'state': state}
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {'id': 1, **TODO, 'state': state.value}


@pytest.mark.parametrize(
    ('fields', 'error'),
    [
        ({'state': 'nope'}, invalid_state(('body', 'state'))),
        ({'title': ''}, too_short(('body', 'title'), 1)),
        ({'title': 't' * 201}, too_long(('body', 'title'), 200)),
        (
            {'description': 'd' * 2001},
            too_long(('body', 'description'), 2000),
        ),
    ],
    ids=['invalid-state', 'title-empty', 'title-201', 'description-2001'],
)
@pytest.mark.asyncio
async def test_create_todo_with_invalid_field_returns_422(
    client, session, token, fields, error
):
    response = client.post(
        '/todos/', headers=auth(token), json={**TODO, **fields}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(error)
    assert await count_todos(session) == 0


@pytest.mark.parametrize(
    'call',
    [
        ('POST', '/todos/', TODO),
        ('GET', '/todos/', None),
        ('PATCH', '/todos/1', {'title': 'Hacked'}),
        ('DELETE', '/todos/1', None),
    ],
    ids=['post', 'get', 'patch', 'delete'],
)
@pytest.mark.asyncio
async def test_todos_without_token_return_401(
    client, session, add_my_todos, call
):
    [todo] = await add_my_todos()
    before = public(todo)
    method, path, body = call

    response = client.request(method, path, json=body)

    assert_credentials_rejected(response)
    session.expire_all()
    assert [public(t) for t in await session.scalars(select(Todo))] == [before]


# GET /todos/


def test_list_todos_without_todos_returns_empty_list(client, token):
    response = client.get('/todos/', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': []}


@pytest.mark.asyncio
async def test_list_todos_returns_the_public_todos(
    client, token, add_my_todos
):
    todos = await add_my_todos(3)

    response = client.get('/todos/', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [public(todo) for todo in todos]}


@pytest.mark.asyncio
async def test_list_todos_never_lists_other_users_todos(
    client, token, other_token, add_my_todos, add_other_users_todos
):
    others = await add_other_users_todos(2)
    mine = await add_my_todos(2)
    others += await add_other_users_todos(2)
    mine_ids = [todo.id for todo in mine]

    assert listed_ids(client, token) == mine_ids
    assert listed_ids(client, other_token) == [todo.id for todo in others]
    assert listed_ids(client, token, offset=1) == mine_ids[1:]
    for state in TodoState:
        assert set(listed_ids(client, token, state=state.value)) <= set(
            mine_ids
        )


@pytest.mark.asyncio
async def test_list_todos_filters_never_reach_other_users_todos(
    client, token, add_other_users_todos
):
    await add_other_users_todos(
        title='Go shopping', description='Milk and eggs', state=TodoState.todo
    )

    response = client.get(
        '/todos/',
        headers=auth(token),
        params={'title': 'shop', 'description': 'milk', 'state': 'todo'},
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': []}


# The list query checks the token's key itself: a revoked token must
# fail whether or not the user has todos to list.


def revoke_by_logout(client, user, token):
    assert client.post('/auth/logout', headers=auth(token)).is_success


def revoke_by_password_change(client, user, token):
    response = client.put(
        '/users/me/password',
        headers=auth(token),
        json={
            'current_password': user.clean_password,
            'new_password': 'a-brand-new-secret',
        },
    )
    assert response.is_success


@pytest.fixture(params=[revoke_by_logout, revoke_by_password_change])
def revoked_token(request, client, user, token):
    request.param(client, user, token)
    return token


@pytest.mark.parametrize('todo_count', [0, 3])
@pytest.mark.asyncio
async def test_list_todos_with_revoked_token_returns_401(
    client, session, user, revoked_token, todo_count
):
    await add_todos(session, todo_count, user_id=user.id)

    response = client.get('/todos/', headers=auth(revoked_token))

    assert_credentials_rejected(response)


@pytest.mark.asyncio
async def test_list_todos_with_a_deleted_users_token_returns_401(
    client, user, token, add_my_todos
):
    await add_my_todos(3)
    assert client.delete('/users/me', headers=auth(token)).is_success

    response = client.get('/todos/', headers=auth(token))

    assert_credentials_rejected(response)


@pytest.mark.asyncio
async def test_list_todos_page_past_the_end_is_empty_for_a_valid_token(
    client, token, add_my_todos
):
    await add_my_todos(2)

    assert listed_ids(client, token, offset=2) == []
    assert listed_ids(client, token, state='trash', title=BLANK_MISS) == []


@pytest.mark.asyncio
async def test_list_todos_page_with_todos_is_one_query(
    client, session, token, add_my_todos
):
    todos = await add_my_todos(3)

    with statements_run(session) as statements:
        response = client.get('/todos/', headers=auth(token))

    assert response.json() == {'todos': [public(todo) for todo in todos]}
    assert len(statements) == 1


@pytest.mark.asyncio
async def test_list_todos_filters_by_title_substring(
    client, token, add_my_todos
):
    [shopping] = await add_my_todos(**{**BLANK, 'title': 'Go shopping'})
    await add_my_todos(**{**BLANK, 'title': 'Cook'})

    response = client.get(
        '/todos/', headers=auth(token), params={'title': 'shop'}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [public(shopping)]}


@pytest.mark.asyncio
async def test_list_todos_filters_by_description_substring(
    client, token, add_my_todos
):
    await add_my_todos(**{**BLANK, 'description': 'Eggs'})
    [milk] = await add_my_todos(**{**BLANK, 'description': 'Some milk too'})

    response = client.get(
        '/todos/', headers=auth(token), params={'description': 'milk'}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [public(milk)]}


@pytest.mark.parametrize('state', list(TodoState))
@pytest.mark.asyncio
async def test_list_todos_filters_by_state(client, token, add_my_todos, state):
    todos = {each: await add_my_todos(2, state=each) for each in TodoState}

    response = client.get(
        '/todos/', headers=auth(token), params={'state': state.value}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'todos': [public(todo) for todo in todos[state]]
    }


@pytest.mark.asyncio
async def test_list_todos_combines_filters_with_and(
    client, token, add_my_todos
):
    match = {
        'title': 'Go shopping',
        'description': 'Milk and eggs',
        'state': TodoState.todo,
    }
    [expected] = await add_my_todos(**match)
    await add_my_todos(**{**match, 'title': 'Cook dinner'})
    await add_my_todos(**{**match, 'description': 'Bread only'})
    await add_my_todos(**{**match, 'state': TodoState.done})

    response = client.get(
        '/todos/',
        headers=auth(token),
        params={'title': 'shop', 'description': 'milk', 'state': 'todo'},
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [public(expected)]}


@pytest.mark.parametrize(
    ('stored', 'params'),
    [
        ({'title': 'Go shopping'}, {'title': 'SHOP'}),
        ({'title': 'GO SHOPPING'}, {'title': 'shop'}),
        ({'description': 'Buy Milk'}, {'description': 'mILK'}),
    ],
    ids=['title-upper-filter', 'title-upper-stored', 'description-mixed'],
)
@pytest.mark.asyncio
async def test_list_todos_filter_ignores_ascii_case(
    client, token, add_my_todos, stored, params
):
    [todo] = await add_my_todos(**{**BLANK, **stored})

    response = client.get('/todos/', headers=auth(token), params=params)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [public(todo)]}


@pytest.mark.parametrize('field', ['title', 'description'])
@pytest.mark.parametrize(
    'texts',
    [
        ('100% done', '100 done', '0% d'),
        ('snake_case', 'snake case', 'e_c'),
        ('and/or', 'andor', 'd/o'),
        ('C:\\dir', 'C:dir', ':\\d'),
    ],
    ids=['percent', 'underscore', 'slash', 'backslash'],
)
@pytest.mark.asyncio
async def test_list_todos_filter_matches_wildcards_literally(
    client, token, add_my_todos, field, texts
):
    """Only the literal matches, not what the text means as a pattern."""
    literal, lookalike, query = texts
    [todo] = await add_my_todos(**{**BLANK, field: literal})
    await add_my_todos(**{**BLANK, field: lookalike})

    response = client.get(
        '/todos/', headers=auth(token), params={field: query}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [public(todo)]}


@pytest.mark.parametrize('field', ['title', 'description'])
@pytest.mark.parametrize('length', [3, 20])
@pytest.mark.asyncio
async def test_list_todos_filter_accepts_3_to_20_chars(
    client, token, add_my_todos, field, length
):
    text = 'a' * length
    [todo] = await add_my_todos(**{**BLANK, field: text})

    response = client.get('/todos/', headers=auth(token), params={field: text})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [public(todo)]}


@pytest.mark.parametrize('field', ['title', 'description'])
@pytest.mark.parametrize(
    ('text', 'error'),
    [
        ('ab', partial(too_short, min_length=3)),
        ('a' * 21, partial(too_long, max_length=20)),
    ],
    ids=['2-chars', '21-chars'],
)
def test_list_todos_filter_out_of_length_returns_422(
    client, token, field, text, error
):
    response = client.get('/todos/', headers=auth(token), params={field: text})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(error(('query', field)))


def test_list_todos_with_invalid_state_returns_422(client, token):
    response = client.get(
        '/todos/', headers=auth(token), params={'state': 'nope'}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(
        invalid_state(('query', 'state'))
    )


@pytest.mark.asyncio
async def test_list_todos_orders_by_id(client, session, user, token):
    # Stored out of id order: PostgreSQL scans them as 3, 1, 2 (SQLite
    # keeps its rows in id order whatever the query says).
    for todo_id in (3, 1, 2):
        todo = TodoFactory(user_id=user.id)
        todo.id = todo_id
        session.add(todo)
        await session.commit()

    assert listed_ids(client, token) == [1, 2, 3]
    assert listed_ids(client, token, offset=1) == [2, 3]


@pytest.mark.parametrize(
    ('params', 'expected_ids'),
    [
        ({'offset': 1, 'limit': 2}, [2, 3]),
        ({'offset': 0, 'limit': 1}, [1]),
        ({'offset': 4}, [5]),
        ({'offset': 5}, []),
        ({'offset': MAX_ID}, []),
        ({'limit': 100}, [1, 2, 3, 4, 5]),
    ],
    ids=[
        'middle-page',
        'first-page',
        'last-page',
        'offset-at-end',
        'largest-offset',
        'limit-100',
    ],
)
@pytest.mark.asyncio
async def test_list_todos_paginates(
    client, token, add_my_todos, params, expected_ids
):
    await add_my_todos(5)

    assert listed_ids(client, token, **params) == expected_ids


@pytest.mark.asyncio
async def test_list_todos_returns_at_most_100_by_default(
    client, token, add_my_todos
):
    await add_my_todos(101)

    assert listed_ids(client, token) == list(range(1, 101))


@pytest.mark.parametrize(
    ('params', 'error'),
    [
        ({'limit': 0}, out_of_bounds(('query', 'limit'), 'ge', 1)),
        ({'limit': 101}, out_of_bounds(('query', 'limit'), 'le', 100)),
        ({'offset': -1}, out_of_bounds(('query', 'offset'), 'ge', 0)),
        (
            {'offset': MAX_ID + 1},
            out_of_bounds(('query', 'offset'), 'le', MAX_ID),
        ),
    ],
    ids=['limit-0', 'limit-101', 'offset-negative', 'offset-too-large'],
)
def test_list_todos_with_out_of_bounds_page_returns_422(
    client, token, params, error
):
    response = client.get('/todos/', headers=auth(token), params=params)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(error)


# PATCH /todos/{todo_id}


@pytest.mark.parametrize(
    'changes',
    [
        {'title': 'New title'},
        {'description': 'New description'},
        {'state': 'done'},
        {'title': 'New title', 'state': 'trash'},
        {},
    ],
    ids=['title', 'description', 'state', 'title-and-state', 'nothing'],
)
@pytest.mark.asyncio
async def test_patch_todo_changes_only_the_fields_sent(
    client, token, add_my_todos, changes
):
    [todo] = await add_my_todos(
        title='Old title', description='Old description', state='draft'
    )
    expected = {
        'id': todo.id,
        'title': 'Old title',
        'description': 'Old description',
        'state': 'draft',
        **changes,
    }

    response = client.patch(
        f'/todos/{todo.id}', headers=auth(token), json=changes
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == expected
    assert list_todos(client, token) == [expected]


@pytest.mark.parametrize(
    ('fields', 'error'),
    [
        ({'title': None}, not_a_string(('body', 'title'))),
        ({'description': None}, not_a_string(('body', 'description'))),
        ({'state': None}, invalid_state(('body', 'state'))),
        ({'state': 'nope'}, invalid_state(('body', 'state'))),
        ({'title': ''}, too_short(('body', 'title'), 1)),
        ({'title': 't' * 201}, too_long(('body', 'title'), 200)),
        (
            {'description': 'd' * 2001},
            too_long(('body', 'description'), 2000),
        ),
    ],
    ids=[
        'title-null',
        'description-null',
        'state-null',
        'invalid-state',
        'title-empty',
        'title-201',
        'description-2001',
    ],
)
@pytest.mark.asyncio
async def test_patch_todo_with_invalid_field_returns_422_and_changes_nothing(
    client, token, add_my_todos, fields, error
):
    [todo] = await add_my_todos()
    before = public(todo)

    response = client.patch(
        f'/todos/{todo.id}', headers=auth(token), json=fields
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(error)
    assert list_todos(client, token) == [before]


@pytest.mark.asyncio
async def test_patch_unknown_todo_returns_404(client, token, add_my_todos):
    await add_my_todos()

    response = client.patch(
        '/todos/2', headers=auth(token), json={'title': 'New'}
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND


def test_patch_todo_with_largest_id_returns_404(client, token):
    response = client.patch(
        f'/todos/{MAX_ID}', headers=auth(token), json={'title': 'New'}
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND


@pytest.mark.asyncio
async def test_patch_other_users_todo_returns_404(
    client, token, other_token, add_other_users_todos
):
    [todo] = await add_other_users_todos()
    before = public(todo)

    response = client.patch(
        f'/todos/{todo.id}',
        headers=auth(token),
        json={'title': 'Hacked', 'description': 'Hacked', 'state': 'trash'},
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND
    assert list_todos(client, other_token) == [before]


@pytest.mark.parametrize('todo_id', INVALID_IDS)
def test_patch_todo_with_invalid_id_returns_422(client, token, todo_id):
    response = client.patch(
        f'/todos/{todo_id}', headers=auth(token), json={'title': 'New'}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == invalid_id_error(todo_id)


# DELETE /todos/{todo_id}


@pytest.mark.asyncio
async def test_delete_todo_returns_200_and_deletes_it(
    client, token, add_my_todos
):
    todo, kept = await add_my_todos(2)
    kept_public = public(kept)

    response = client.delete(f'/todos/{todo.id}', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == DELETED
    assert list_todos(client, token) == [kept_public]


@pytest.mark.asyncio
async def test_delete_todo_twice_returns_404(client, token, add_my_todos):
    [todo] = await add_my_todos()
    client.delete(f'/todos/{todo.id}', headers=auth(token))

    response = client.delete(f'/todos/{todo.id}', headers=auth(token))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND


@pytest.mark.asyncio
async def test_delete_unknown_todo_returns_404(
    client, session, token, add_my_todos
):
    await add_my_todos()

    response = client.delete('/todos/2', headers=auth(token))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND
    assert await count_todos(session) == 1


def test_delete_todo_with_largest_id_returns_404(client, token):
    response = client.delete(f'/todos/{MAX_ID}', headers=auth(token))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND


@pytest.mark.asyncio
async def test_delete_other_users_todo_returns_404_and_keeps_it(
    client, token, other_token, add_other_users_todos
):
    [todo] = await add_other_users_todos()
    before = public(todo)

    response = client.delete(f'/todos/{todo.id}', headers=auth(token))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND
    assert list_todos(client, other_token) == [before]


@pytest.mark.parametrize('todo_id', INVALID_IDS)
def test_delete_todo_with_invalid_id_returns_422(client, token, todo_id):
    response = client.delete(f'/todos/{todo_id}', headers=auth(token))

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == invalid_id_error(todo_id)


# Users and their todos


@pytest.mark.asyncio
async def test_delete_user_deletes_their_todos_only(
    client, session, token, add_my_todos, add_other_users_todos
):
    [mine, *_] = await add_my_todos(3)
    user_id = mine.user_id
    kept = await add_other_users_todos(2)

    response = client.delete(f'/users/{user_id}', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'User deleted'}
    assert await count_todos(session, user_id=user_id) == 0
    assert await count_todos(session) == len(kept)


@contextmanager
def statements_run(session):
    """Record the SQL statements the session's engine runs."""
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = session.bind.sync_engine
    event.listen(engine, 'before_cursor_execute', record)
    try:
        yield statements
    finally:
        event.remove(engine, 'before_cursor_execute', record)


def on_todos(statements):
    return [s for s in statements if 'todos' in s.lower()]


@pytest.mark.asyncio
async def test_token_check_does_not_load_the_users_todos(
    client, session, other_user, token, add_my_todos
):
    await add_my_todos(3)
    # Forget the user, so the token check loads it from the database.
    session.expunge_all()

    with statements_run(session) as statements:
        response = client.delete(
            f'/users/{other_user.id}', headers=auth(token)
        )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {'detail': 'Not enough permissions'}
    assert any('FROM users' in statement for statement in statements)
    assert on_todos(statements) == []


@pytest.mark.asyncio
async def test_list_todos_queries_the_todos_table_once(
    client, session, token, add_my_todos
):
    [first, *_] = await add_my_todos(3)
    expected = public(first)
    session.expunge_all()

    with statements_run(session) as statements:
        response = client.get(
            '/todos/', headers=auth(token), params={'limit': 1}
        )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'todos': [expected]}
    assert len(on_todos(statements)) == 1
