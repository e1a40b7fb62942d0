"""Request bodies: too large (413), unreadable or invalid (422), never 500.

Whatever is sent, nothing is written to the database.
"""

import json
from http import HTTPStatus

import pytest
from sqlalchemy import func, select

from fast_zero.app import app
from fast_zero.models import Todo, User
from fast_zero.settings import settings
from tests.helpers import auth, not_a_string, too_long, validation_error

LIMIT = settings.MAX_REQUEST_BODY_BYTES
TOO_LARGE = {'detail': 'Request body too large'}
JSON = {'Content-Type': 'application/json'}
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
CHUNK_BYTES = 16 * 1024
ALICE = {'id': 1, 'username': 'alice', 'email': 'alice@example.com'}

# Every route that reads a JSON body; `{user_id}` is the caller's id.
JSON_BODY_ROUTES = [
    ('POST', '/users/'),
    ('PATCH', '/users/me'),
    ('PUT', '/users/me/password'),
    ('PUT', '/users/{user_id}'),
    ('POST', '/todos/'),
    ('PATCH', '/todos/1'),
    ('PATCH', '/admin/users/{user_id}'),
]
NOT_AN_OBJECT = {
    'type': 'model_attributes_type',
    'loc': ['body'],
    'msg': (
        'Input should be a valid dictionary or object to extract fields from'
    ),
}


def json_invalid(reason):
    return {
        'type': 'json_invalid',
        'loc': ['body'],
        'msg': 'JSON decode error',
        'ctx': {'error': reason},
    }


def sign_up_of_exactly(size: int) -> bytes:
    """A valid sign-up, padded with a field the app ignores to `size`."""
    fields = {
        'username': 'alice',
        'email': 'alice@example.com',
        'password': 'S3cret-passw0rd',
        'padding': '',
    }
    fields['padding'] = 'x' * (size - len(json.dumps(fields)))
    body = json.dumps(fields).encode()
    assert len(body) == size
    return body


def in_chunks(body: bytes):
    """The body as a generator: the client sends it chunked, no length."""
    for start in range(0, len(body), CHUNK_BYTES):
        yield body[start : start + CHUNK_BYTES]


async def database_rows(session):
    """Every stored value, read from the database itself."""
    users = await session.execute(
        select(
            User.id, User.username, User.email, User.password, User.token_key
        ).order_by(User.id)
    )
    todos = await session.scalar(select(func.count()).select_from(Todo))
    return users.all(), todos


@pytest.fixture
def send_json(client, superuser, superuser_token):
    """Send `content` as JSON to a route of JSON_BODY_ROUTES, logged in
    as a superuser (who may call every one of them)."""
    user, token = superuser, superuser_token

    def send(route, content: bytes):
        method, path = route
        return client.request(
            method,
            path.format(user_id=user.id),
            content=content,
            headers={**JSON, **auth(token)},
        )

    return send


# Size limit


@pytest.mark.asyncio
async def test_sign_up_of_exactly_the_limit_is_accepted(client, session):
    response = client.post(
        '/users/', content=sign_up_of_exactly(LIMIT), headers=JSON
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == ALICE
    users, _ = await database_rows(session)
    assert len(users) == 1


@pytest.mark.asyncio
async def test_sign_up_one_byte_over_the_limit_returns_413(client, session):
    response = client.post(
        '/users/', content=sign_up_of_exactly(LIMIT + 1), headers=JSON
    )

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == TOO_LARGE
    assert await database_rows(session) == ([], 0)


@pytest.mark.asyncio
async def test_chunked_sign_up_over_the_limit_returns_413(client, session):
    response = client.post(
        '/users/',
        content=in_chunks(sign_up_of_exactly(LIMIT + 1)),
        headers=JSON,
    )

    assert response.request.headers['Transfer-Encoding'] == 'chunked'
    assert 'Content-Length' not in response.request.headers
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == TOO_LARGE
    assert await database_rows(session) == ([], 0)


@pytest.mark.asyncio
async def test_chunked_sign_up_of_exactly_the_limit_is_accepted(
    client, session
):
    response = client.post(
        '/users/', content=in_chunks(sign_up_of_exactly(LIMIT)), headers=JSON
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == ALICE
    users, _ = await database_rows(session)
    assert len(users) == 1


@pytest.mark.parametrize('chunked', [False, True], ids=['length', 'chunked'])
def test_login_form_over_the_limit_returns_413(client, user, chunked):
    form = (
        f'username={user.email}&password={user.clean_password}&padding='
    ).encode()
    form += b'x' * (LIMIT + 1 - len(form))
    content = in_chunks(form) if chunked else form

    response = client.post('/auth/token', content=content, headers=FORM)

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == TOO_LARGE


@pytest.mark.asyncio
@pytest.mark.parametrize('route', JSON_BODY_ROUTES)
async def test_every_json_route_refuses_a_body_over_the_limit(
    send_json, session, route
):
    rows_before = await database_rows(session)

    response = send_json(route, b'{"padding": "' + b'x' * LIMIT + b'"}')

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == TOO_LARGE
    assert await database_rows(session) == rows_before


async def call_app_in_chunks(*, chunks: list[bytes], headers: list[tuple]):
    """POST /users/ straight to the ASGI app, one chunk per receive().

    Returns the answer and how many chunks the app asked for.
    """
    chunks_read = 0
    sent = []

    async def receive():
        nonlocal chunks_read
        if chunks_read == len(chunks):
            return {'type': 'http.disconnect'}
        chunks_read += 1
        return {
            'type': 'http.request',
            'body': chunks[chunks_read - 1],
            'more_body': chunks_read < len(chunks),
        }

    async def send(message):
        sent.append(message)

    scope = {
        'type': 'http',
        'asgi': {'version': '3.0'},
        'http_version': '1.1',
        'method': 'POST',
        'scheme': 'http',
        'path': '/users/',
        'raw_path': b'/users/',
        'root_path': '',
        'query_string': b'',
        'headers': [(b'content-type', b'application/json'), *headers],
        'client': ('127.0.0.1', 50000),
        'server': ('testserver', 80),
    }
    await app(scope, receive, send)
    status = sent[0]['status']
    body = b''.join(message.get('body', b'') for message in sent[1:])
    return status, json.loads(body), chunks_read


@pytest.mark.asyncio
async def test_declared_length_over_the_limit_is_refused_unread():
    chunks = list(in_chunks(b'x' * (4 * LIMIT)))

    status, body, chunks_read = await call_app_in_chunks(
        chunks=chunks, headers=[(b'content-length', str(4 * LIMIT).encode())]
    )

    assert (status, body) == (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE)
    assert chunks_read == 0


@pytest.mark.asyncio
async def test_chunked_body_over_the_limit_is_read_no_further():
    chunks = list(in_chunks(b'x' * (4 * LIMIT)))

    status, body, chunks_read = await call_app_in_chunks(
        chunks=chunks, headers=[(b'transfer-encoding', b'chunked')]
    )

    assert (status, body) == (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE)
    # The limit falls on a chunk boundary: the chunk after it is the last.
    assert chunks_read == LIMIT // CHUNK_BYTES + 1


def test_openapi_documents_413_wherever_a_body_is_read(client):
    paths = client.get('/openapi.json').json()['paths']

    body_routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if 'requestBody' in operation
    }
    assert body_routes == {
        (method, path.replace('/1', '/{todo_id}'))
        for method, path in JSON_BODY_ROUTES
    } | {('POST', '/auth/token')}
    for method, path in body_routes:
        assert paths[path][method.lower()]['responses']['413'] == {
            'description': 'Request body too large',
            'content': {
                'application/json': {
                    'schema': {'$ref': '#/components/schemas/ErrorMessage'}
                }
            },
        }


# Bodies within the limit that cannot be read, or are not what is asked


@pytest.mark.asyncio
@pytest.mark.parametrize('route', JSON_BODY_ROUTES)
@pytest.mark.parametrize(
    ('content', 'error'),
    [
        (b'{"title": "caf\xe9"}', json_invalid('Not UTF-8')),
        (b'\xff\xfe\xfd', json_invalid('Not UTF-8')),
        (b'[' * 50_000 + b']' * 10_000, json_invalid('Nested too deeply')),
        (b'{"title": ' + b'9' * 5_000 + b'}', json_invalid('Number too long')),
        (b'[]', NOT_AN_OBJECT),
        (b'42', NOT_AN_OBJECT),
        (b'"title"', NOT_AN_OBJECT),
        (b'null', NOT_AN_OBJECT),
    ],
    ids=[
        'latin-1',
        'binary',
        'nested-too-deep-to-parse',
        'number-too-long',
        'array',
        'number',
        'string',
        'null',
    ],
)
async def test_every_json_route_answers_an_unusable_body_with_422(
    send_json, session, route, content, error
):
    rows_before = await database_rows(session)

    response = send_json(route, content)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {'detail': [error]}
    assert await database_rows(session) == rows_before


@pytest.mark.asyncio
async def test_malformed_json_returns_422_with_where_it_broke(
    client, session, token
):
    content = '{"title": "Study", "description": '

    response = client.post(
        '/todos/', content=content, headers={**JSON, **auth(token)}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [
            {
                'type': 'json_invalid',
                'loc': ['body', len(content)],
                'msg': 'JSON decode error',
                'ctx': {'error': 'Expecting value'},
            }
        ]
    }
    assert (await database_rows(session))[1] == 0


@pytest.mark.asyncio
async def test_huge_string_within_the_limit_returns_422(
    client, session, token
):
    response = client.post(
        '/todos/',
        json={
            'title': 'x' * (LIMIT - 100),
            'description': '',
            'state': 'todo',
        },
        headers=auth(token),
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(
        too_long(('body', 'title'), settings.TODO_TITLE_MAX_LENGTH)
    )
    assert (await database_rows(session))[1] == 0


@pytest.mark.asyncio
async def test_deeply_nested_field_within_the_limit_returns_422(
    client, session
):
    depth = 900  # deep, yet within what the JSON parser reads
    content = (
        b'{"username": '
        + b'[' * depth
        + b']' * depth
        + b', "email": "alice@example.com", "password": "S3cret-passw0rd"}'
    )

    response = client.post('/users/', content=content, headers=JSON)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == validation_error(
        not_a_string(('body', 'username'))
    )
    assert await database_rows(session) == ([], 0)


@pytest.mark.parametrize(
    ('content_type', 'content', 'message'),
    [
        (
            'multipart/form-data',
            b'username=a',
            'Missing boundary in multipart.',
        ),
        (
            'multipart/form-data; boundary=xx',
            b'not multipart at all',
            'Invalid multipart data.',
        ),
    ],
    ids=['no-boundary', 'garbage'],
)
def test_malformed_login_form_returns_422(
    client, content_type, content, message
):
    response = client.post(
        '/auth/token', content=content, headers={'Content-Type': content_type}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [{'type': 'form_invalid', 'loc': ['body'], 'msg': message}]
    }


def test_a_400_not_about_the_body_is_answered_as_raised(client, user, token):
    response = client.put(
        '/users/me/password',
        json={
            'current_password': 'wrong-password',
            'new_password': 'n3w-pass',
        },
        headers=auth(token),
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {'detail': 'Incorrect password'}


def test_openapi_documents_the_422_as_sent_without_input(client):
    schemas = client.get('/openapi.json').json()['components']['schemas']

    assert set(schemas['ValidationError']['properties']) == {
        'loc',
        'msg',
        'type',
        'ctx',
    }
