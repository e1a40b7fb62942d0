"""Schema fuzzing: every operation of the app's own /openapi.json.

schemathesis sends requests made from the schema, valid and invalid, to
every operation, anonymous and with a valid token, then scenarios chaining
operations, on fresh databases, and runs all its checks on every answer:
no 5xx, only documented status codes, bodies, headers and content types as
documented, 405 with a true `Allow` for undocumented methods, a deleted
resource gone. A short run in `task test`; the long one (`slow`,
FUZZ_EXAMPLES cases per operation and scenarios) in CI and `task fuzz`.
After them, tests of what the fuzzing found.
"""

import os
import string
from http import HTTPStatus

import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from sqlalchemy.ext.asyncio import AsyncSession

from fast_zero.app import app
from fast_zero.database import build_engine, get_session
from fast_zero.models import User, table_registry
from fast_zero.security import get_password_hash
from tests.helpers import (
    invalid_email,
    session_tokens,
    stamp_head,
    validation_error,
)

QUICK_EXAMPLES = 15
LONG_EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', '100'))
STEPS_PER_SCENARIO = 10
BYSTANDERS = 3  # users for the /admin operations to act on


def fuzz_settings(max_examples: int) -> settings:
    # max_examples bounds the random (fuzzing) phase; the coverage phase
    # adds its own fixed set of boundary values and undocumented methods.
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,  # the same cases every run: failures reproduce
        suppress_health_check=[
            # Deliberate: an operation's examples share its database.
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
        ],
    )


# The addresses the app accepts. JSON Schema's `format: email` also allows
# the special-use domains the app refuses (its schema says so in words
# only), which the fuzzer would otherwise send as valid data.
EMAIL_LOCAL_PART = (
    string.ascii_lowercase + string.digits + "!#$%&'*+-/=?^_`{|}~"
)
DOMAIN_LABEL = string.ascii_lowercase + string.digits
schemathesis.openapi.format(
    'email',
    st.builds(
        '{}@{}.{}'.format,
        st.text(EMAIL_LOCAL_PART, min_size=1, max_size=20),
        st.text(DOMAIN_LABEL, min_size=1, max_size=20),
        st.sampled_from(['com', 'org', 'dev']),
    ),
)


CONFIG = SchemathesisConfig.from_dict({
    'operations': [
        {
            # The schema cannot say which fields each grant requires (a
            # form has no oneOf): valid-looking data may lack one (422).
            # A refresh token the fuzzer made up is refused with the
            # documented 400.
            'include-name': 'POST /auth/token',
            'checks': {
                'positive_data_acceptance': {
                    'expected-statuses': [
                        *('2xx', '3xx', '400', '401', '403', '404'),
                        *('409', '422', '429', '5xx'),
                    ]
                }
            },
        },
        {
            # A wrong current password is a well-formed request refused
            # with the documented 400, not valid data rejected.
            'include-name': 'PUT /users/me/password',
            'checks': {
                'positive_data_acceptance': {
                    'expected-statuses': [
                        *('2xx', '3xx', '400', '401', '403', '404'),
                        *('409', '429', '5xx'),
                    ]
                }
            },
        },
    ]
})

schema = schemathesis.openapi.from_asgi('/openapi.json', app, config=CONFIG)


async def create_tables(engine):
    async with engine.begin() as connection:
        await connection.run_sync(table_registry.metadata.create_all)
        await connection.run_sync(stamp_head)


async def recreate_tables(engine):
    async with engine.begin() as connection:
        await connection.run_sync(table_registry.metadata.drop_all)
        await connection.run_sync(table_registry.metadata.create_all)
        await connection.run_sync(stamp_head)


@pytest.fixture
def fuzz_database(fresh_database_url):
    """The app on a fresh database, and a portal to reach it from tests.

    Connections are not pooled: the app runs on schemathesis' event loop,
    the fixtures on the portal's.
    """
    engine = build_engine(fresh_database_url, pooled=False)

    async def override_get_session():
        async with AsyncSession(engine, expire_on_commit=False) as session:
            yield session

    with start_blocking_portal() as portal:
        portal.call(create_tables, engine)
        app.dependency_overrides[get_session] = override_get_session
        yield engine, portal
        app.dependency_overrides.pop(get_session)
        portal.call(engine.dispose)


def live_user_token(fuzz_database, *, superuser: bool = False):
    """A function giving a valid token of a user who exists right now.

    The fuzzer may delete that user or revoke its tokens (logout, PUT),
    so each request asks for a token anew; a deleted user is signed up
    again. A superuser the fuzzer deactivated or demoted (possible once it
    promoted another) is made an active superuser again.
    """
    engine, portal = fuzz_database
    user_id = None
    sign_ups = 0

    async def token_of_a_live_user():
        nonlocal user_id, sign_ups
        async with AsyncSession(engine, expire_on_commit=False) as session:
            user = user_id and await session.get(User, user_id)
            if user is None:
                sign_ups += 1
                user = User(
                    username=f'fuzzer{sign_ups}',
                    email=f'fuzzer{sign_ups}@example.com',
                    password=get_password_hash('fuzzer-password'),
                )
                session.add(user)
                await session.commit()
                user_id = user.id
            if superuser and not (user.is_active and user.is_superuser):
                user.is_active = user.is_superuser = True
                await session.commit()
            # A session of its own each time: the fuzzer ends sessions
            # (logout, DELETE /users/me/sessions/{id}) as it pleases.
            return (await session_tokens(session, user))['access_token']

    return lambda: portal.call(token_of_a_live_user)


@pytest.fixture(params=['anonymous', 'with-token'])
def request_headers(request, fuzz_database):
    """A function giving the headers of each request of the fuzzer."""
    if request.param == 'anonymous':
        return dict
    token = live_user_token(fuzz_database)
    return lambda: {'Authorization': f'Bearer {token()}'}


@schema.parametrize()
@fuzz_settings(QUICK_EXAMPLES)
def test_every_operation_answers_as_documented(case, request_headers):
    case.call_and_validate(headers=request_headers())


admin_schema = schema.include(path_regex='^/admin/')


@pytest.fixture
def superuser_headers(fuzz_database):
    """Headers with a live superuser's token, and other users to act on."""
    engine, portal = fuzz_database
    portal.call(add_bystanders, engine)
    token = live_user_token(fuzz_database, superuser=True)
    return lambda: {'Authorization': f'Bearer {token()}'}


async def add_bystanders(engine):
    async with AsyncSession(engine) as session:
        session.add_all(
            User(
                username=f'bystander{number}',
                email=f'bystander{number}@example.com',
                password=get_password_hash('bystander-password'),
            )
            for number in range(BYSTANDERS)
        )
        await session.commit()


@admin_schema.parametrize()
@fuzz_settings(QUICK_EXAMPLES)
def test_admin_operations_answer_as_documented_for_a_superuser(
    case, superuser_headers
):
    case.call_and_validate(headers=superuser_headers())


@pytest.mark.slow
@schema.parametrize()
@fuzz_settings(LONG_EXAMPLES)
def test_every_operation_answers_as_documented_long_run(case, request_headers):
    case.call_and_validate(headers=request_headers())


@pytest.mark.slow
@admin_schema.parametrize()
@fuzz_settings(LONG_EXAMPLES)
def test_admin_operations_answer_as_documented_for_a_superuser_long_run(
    case, superuser_headers
):
    case.call_and_validate(headers=superuser_headers())


APIWorkflow = schema.as_state_machine()


def workflow_on(fuzz_database) -> type:
    """Scenarios chaining operations, the ids of one answer in the next.

    They run the checks that need a history too: a deleted resource must
    be gone, a created one there, another user's out of reach. Each
    starts from an empty database and a user with a token.
    """
    engine, portal = fuzz_database

    class Workflow(APIWorkflow):
        def setup(self):
            portal.call(recreate_tables, engine)
            token = live_user_token(fuzz_database)()
            self.headers = {'Authorization': f'Bearer {token}'}

        def get_call_kwargs(self, _case):
            return {'headers': self.headers}

    return Workflow


def workflow_settings(scenarios: int) -> settings:
    return settings(
        fuzz_settings(scenarios), stateful_step_count=STEPS_PER_SCENARIO
    )


def test_workflows_answer_as_documented(fuzz_database):
    workflow_on(fuzz_database).run(settings=workflow_settings(QUICK_EXAMPLES))


@pytest.mark.slow
def test_workflows_answer_as_documented_long_run(fuzz_database):
    workflow_on(fuzz_database).run(settings=workflow_settings(LONG_EXAMPLES))


# What the fuzzing found


@pytest.mark.parametrize(
    ('method', 'path', 'allowed'),
    [
        ('OPTIONS', '/users/me', 'DELETE, GET, HEAD, PATCH'),
        (
            'PUT',
            '/users/me',
            'DELETE, GET, HEAD, PATCH',
        ),  # not a 422 for id 'me'
        ('POST', '/users/1', 'DELETE, GET, HEAD, PUT'),
        ('PATCH', '/users/1', 'DELETE, GET, HEAD, PUT'),
        ('PUT', '/users/', 'GET, HEAD, POST'),
        ('PUT', '/todos/1', 'DELETE, PATCH'),
        ('GET', '/auth/token', 'POST'),
        ('POST', '/', 'GET, HEAD'),
    ],
)
def test_405_allows_every_method_of_the_resource(
    client, token, method, path, allowed
):
    response = client.request(
        method, path, headers={'Authorization': f'Bearer {token}'}
    )

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {'detail': 'Method Not Allowed'}
    assert response.headers['Allow'] == allowed


def test_openapi_describes_the_emails_refused(client):
    schemas = client.get('/openapi.json').json()['components']['schemas']

    assert schemas['UserSchema']['properties']['email']['description'] == (
        'Special-use domains, which no mail reaches, are refused: '
        '.arpa, .invalid, .local, .localhost, .onion, .test'
    )


def test_sign_up_at_a_special_use_domain_returns_422(client):
    response = client.post(
        '/users/',
        json={
            'username': 'alice',
            'email': 'alice@example.test',
            'password': 'S3cret-passw0rd',
        },
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    reason = (
        'The part after the @-sign is a special-use or reserved name that '
        'cannot be used with email.'
    )
    assert response.json() == validation_error(invalid_email(reason))


NUL_REFUSED = {
    'type': 'string_pattern_mismatch',
    'msg': "String should match pattern '^[^\\x00]*$'",
    'ctx': {'pattern': '^[^\\x00]*$'},
}
SIGN_UP = {'email': 'alice@example.com', 'password': 'S3cret-passw0rd'}
TODO = {'title': 'Study', 'description': 'lesson 10', 'state': 'todo'}


@pytest.mark.parametrize(
    ('route', 'body', 'field'),
    [
        ('POST /users/', {**SIGN_UP, 'username': 'a\x00'}, 'username'),
        ('PATCH /users/me', {'username': 'a\x00'}, 'username'),
        ('POST /todos/', {**TODO, 'title': 'a\x00'}, 'title'),
        ('POST /todos/', {**TODO, 'description': 'a\x00'}, 'description'),
        ('PATCH /todos/1', {'description': 'a\x00'}, 'description'),
    ],
)
def test_text_with_a_nul_character_returns_422_not_500(
    client, token, route, body, field
):
    method, path = route.split()

    response = client.request(
        method, path, json=body, headers={'Authorization': f'Bearer {token}'}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [{**NUL_REFUSED, 'loc': ['body', field]}]
    }


def test_todo_filter_with_a_nul_character_returns_422_not_500(client, token):
    response = client.get(
        '/todos/?title=ab%00c', headers={'Authorization': f'Bearer {token}'}
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        'detail': [{**NUL_REFUSED, 'loc': ['query', 'title']}]
    }


def test_login_with_a_nul_in_the_email_returns_401_not_500(client, user):
    response = client.post(
        '/auth/token',
        data={
            'username': f'\x00{user.email}',
            'password': user.clean_password,
        },
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {'detail': 'Incorrect email or password'}
