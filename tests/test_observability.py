"""Logs: one access record per request, request ids, formats, secrets.

The app's records are read as its handler writes them (JSON lines through
the queue), except where a test is about pytest's caplog itself.
"""

import asyncio
import io
import json
import logging
import re
from contextlib import contextmanager
from http import HTTPStatus
from logging.config import dictConfig

import pytest
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.testclient import TestClient
from sqlalchemy import event
from starlette.websockets import WebSocketDisconnect

from fast_zero import logs, observability
from fast_zero.app import app
from fast_zero.errors import HeadAsGet
from fast_zero.hashing import HashingPool
from fast_zero.logs import (
    APP_LOGGERS,
    ConsoleFormatter,
    JsonFormatter,
    RateLimitedWarning,
    app_logging,
    launcher_log_config,
    queued_handler,
    request_id_var,
)
from fast_zero.observability import RequestObserver
from fast_zero.settings import settings
from tests.helpers import auth, login

GENERATED_ID = re.compile(r'[0-9a-f]{16}-[0-9a-f]+')
NEW_TODO = {'title': 'Write tests', 'description': 'obs', 'state': 'todo'}


class CapturedLog:
    """The JSON lines the app's handler writes while a test runs."""

    def __init__(self):
        self.stream = io.StringIO()
        self.handler, self.writer = queued_handler('json', self.stream)
        self.running = False

    def start(self):
        for name in APP_LOGGERS:
            logging.getLogger(name).addHandler(self.handler)
        self.writer.start()
        self.running = True

    def stop(self):
        if self.running:
            for name in APP_LOGGERS:
                logging.getLogger(name).removeHandler(self.handler)
            self.writer.stop()
            self.running = False

    def records(self, logger=None):
        """Every record written so far (stops the capture)."""
        self.stop()
        records = [
            json.loads(line)
            for line in self.stream.getvalue().split('\n')
            if line
        ]
        if logger is None:
            return records
        return [record for record in records if record['logger'] == logger]

    def access(self):
        return self.records('fast_zero.access')


@contextmanager
def logger_level(name, level):
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


@pytest.fixture
def app_log():
    captured = CapturedLog()
    with logger_level('fast_zero', logging.INFO):
        captured.start()
        yield captured
        captured.stop()


# The access record


def test_access_record_of_an_authenticated_request(
    client, user, token, app_log
):
    response = client.get('/users/me', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    [record] = app_log.access()
    assert record == {
        'time': record['time'],
        'level': 'INFO',
        'logger': 'fast_zero.access',
        'message': 'request',
        'request_id': response.headers['X-Request-ID'],
        'method': 'GET',
        'route': '/users/me',
        'path': '/users/me',
        'status': HTTPStatus.OK,
        'duration_ms': record['duration_ms'],
        'client': 'testclient',
        'size': len(response.content),
        'user_id': user.id,
    }
    assert re.fullmatch(
        r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', record['time']
    )
    assert record['duration_ms'] >= 0


def test_access_record_names_the_route_template_and_drops_the_query(
    client, user, app_log
):
    response = client.get(f'/users/{user.id}?token=abc')

    assert response.status_code == HTTPStatus.OK
    [record] = app_log.access()
    assert record['route'] == '/users/{user_id}'
    assert record['path'] == f'/users/{user.id}'
    assert 'user_id' not in record  # an anonymous request


def test_todo_list_names_its_caller(client, user, token, app_log):
    response = client.get('/todos/', headers=auth(token))

    assert response.status_code == HTTPStatus.OK
    [record] = app_log.access()
    assert record['user_id'] == user.id


def test_a_401_is_logged_without_a_user(client, user, token, app_log):
    client.post('/auth/logout', headers=auth(token))
    response = client.get('/todos/', headers=auth(token))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    logout, refused = app_log.access()
    assert logout['user_id'] == user.id
    assert refused['status'] == HTTPStatus.UNAUTHORIZED
    assert 'user_id' not in refused


@pytest.mark.parametrize(
    ('request_args', 'status'),
    [
        ({'method': 'DELETE', 'url': '/'}, HTTPStatus.METHOD_NOT_ALLOWED),
        ({'method': 'PUT', 'url': '/users/me'}, HTTPStatus.METHOD_NOT_ALLOWED),
        (
            {
                'method': 'POST',
                'url': '/todos/',
                'headers': {'Content-Length': '999999999'},
                'content': b'{}',
            },
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        ),
        ({'method': 'GET', 'url': '/no/such/path'}, HTTPStatus.NOT_FOUND),
    ],
)
def test_answers_given_before_routing_are_recorded_unmatched(
    client, app_log, request_args, status
):
    response = client.request(**request_args)

    assert response.status_code == status
    [record] = app_log.access()
    assert record['status'] == status
    assert record['route'] == '<unmatched>'
    assert record['path'] == request_args['url']


def test_cors_preflight_is_recorded_unmatched(app_log):
    cors_app = FastAPI()
    cors_app.add_middleware(
        CORSMiddleware,
        allow_origins=['https://app.example'],
        allow_methods=['*'],
    )
    cors_app.add_middleware(RequestObserver, access_log=True, metrics=False)

    response = TestClient(cors_app).options(
        '/todos/',
        headers={
            'Origin': 'https://app.example',
            'Access-Control-Request-Method': 'POST',
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.headers['access-control-allow-origin'] == (
        'https://app.example'
    )
    [record] = app_log.access()
    assert (record['method'], record['route'], record['status']) == (
        'OPTIONS',
        '<unmatched>',
        HTTPStatus.OK,
    )
    assert record['request_id'] == response.headers['X-Request-ID']


def hello_app():
    hello = FastAPI()

    @hello.get('/hello')
    async def say_hello():
        return {'message': 'hello'}

    return hello


def test_access_log_off_writes_no_record(app_log):
    observer = RequestObserver(hello_app(), access_log=False, metrics=False)
    response = TestClient(observer).get('/hello')

    assert response.status_code == HTTPStatus.OK
    assert GENERATED_ID.fullmatch(response.headers['X-Request-ID'])
    assert app_log.access() == []


def test_access_record_waits_for_its_level(client, app_log):
    with logger_level('fast_zero', logging.WARNING):
        response = client.get('/')

    assert response.status_code == HTTPStatus.OK
    assert app_log.access() == []


# Request ids


@pytest.mark.parametrize(
    'request_id', ['abc', 'A.b_c-9', 'x' * 64, '0123456789abcdef-2a']
)
def test_a_valid_client_request_id_is_kept(client, app_log, request_id):
    response = client.get('/', headers={'X-Request-ID': request_id})

    assert response.headers['X-Request-ID'] == request_id
    [record] = app_log.access()
    assert record['request_id'] == request_id


@pytest.mark.parametrize(
    'request_id', ['', 'x' * 65, 'has space', 'semi;colon', 'é', '../etc']
)
def test_an_invalid_client_request_id_is_replaced(client, app_log, request_id):
    response = client.get(
        '/', headers={'X-Request-ID': request_id.encode('utf-8')}
    )

    new_id = response.headers['X-Request-ID']
    assert GENERATED_ID.fullmatch(new_id)
    [record] = app_log.access()
    assert record['request_id'] == new_id


def test_each_request_gets_its_own_id(client):
    first = client.get('/').headers['X-Request-ID']
    second = client.get('/').headers['X-Request-ID']

    assert GENERATED_ID.fullmatch(first)
    assert first != second


@pytest.fixture
def statement_log(client):
    """SQLAlchemy's statement log, which the app (the client's lifespan)
    keeps at WARNING, on for the connections opened from now on."""
    with logger_level('sqlalchemy.engine', logging.INFO):
        yield


def test_library_lines_during_a_request_carry_its_id(
    client, statement_log, user, app_log
):
    response = client.get(f'/users/{user.id}')

    request_id = response.headers['X-Request-ID']
    statements = app_log.records('sqlalchemy.engine.Engine')
    assert any('FROM users' in line['message'] for line in statements)
    assert {line['request_id'] for line in statements} == {request_id}


def test_lines_outside_a_request_have_no_id(app_log):
    logging.getLogger('fast_zero.test').warning('between requests')

    [record] = app_log.records('fast_zero.test')
    assert 'request_id' not in record


# Unhandled exceptions


@contextmanager
def failing_statement(engine, prefix):
    """Statements starting with `prefix` fail in the database itself
    (sent with a syntax error appended), as a real fault would."""

    def break_statement(_conn, _cursor, statement, parameters, *_context):
        if statement.startswith(prefix):
            statement += ' FORCED SYNTAX ERROR'
        return statement, parameters

    target = engine.sync_engine
    event.listen(target, 'before_cursor_execute', break_statement, retval=True)
    try:
        yield
    finally:
        event.remove(target, 'before_cursor_execute', break_statement)


def test_unhandled_error_answers_500_with_its_request_id(
    client, session, token, app_log
):
    with failing_statement(session.bind, 'INSERT INTO todos'):
        response = client.post(
            '/todos/',
            json=NEW_TODO,
            headers={**auth(token), 'X-Request-ID': 'failing-1'},
        )

    # The client fixture re-raises what the app raises: nothing was.
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json() == {
        'detail': 'Internal Server Error',
        'request_id': 'failing-1',
    }
    assert response.headers['X-Request-ID'] == 'failing-1'
    errors = [r for r in app_log.records() if r['level'] == 'ERROR']
    assert len(errors) == 1
    assert errors[0]['request_id'] == 'failing-1'
    assert errors[0]['message'] == 'Unhandled exception'
    assert 'FORCED SYNTAX ERROR' in errors[0]['traceback']
    [record] = app_log.access()
    assert record['status'] == HTTPStatus.INTERNAL_SERVER_ERROR


def test_error_after_the_answer_started_is_logged_only(app_log):
    async def half_answer(scope, receive, send):
        await send({'type': 'http.response.start', 'status': 200})
        raise RuntimeError('after the start')

    observer = RequestObserver(half_answer, access_log=True, metrics=False)
    response = TestClient(observer).get('/')

    assert response.status_code == HTTPStatus.OK
    [error] = [r for r in app_log.records() if r['level'] == 'ERROR']
    assert 'after the start' in error['traceback']
    [record] = app_log.access()
    assert record['status'] == HTTPStatus.OK


def test_websocket_scopes_pass_through(app_log):
    seen = []

    async def websocket_app(scope, receive, send):
        seen.append(scope['type'])
        await send({'type': 'websocket.close', 'code': 1000})

    observer = RequestObserver(websocket_app, access_log=True, metrics=True)
    with pytest.raises(WebSocketDisconnect):  # the app closed at once
        with TestClient(observer).websocket_connect('/ws'):
            pass

    assert seen == ['websocket']
    assert app_log.access() == []


# Installing the middleware


@pytest.mark.parametrize(
    ('access_log', 'metrics_enabled', 'installed'),
    [
        (True, True, True),
        (True, False, True),
        (False, True, True),
        (False, False, False),
    ],
)
def test_middleware_installed_only_when_used(
    access_log, metrics_enabled, installed
):
    fresh = FastAPI()
    observability.install(
        fresh,
        settings.model_copy(
            update={
                'ACCESS_LOG': access_log,
                'METRICS_ENABLED': metrics_enabled,
            }
        ),
    )

    assert [m.cls for m in fresh.user_middleware] == (
        [RequestObserver] if installed else []
    )


def test_the_app_observer_is_outermost_but_for_head_as_get():
    # HeadAsGet hands the layers inside a copy of the scope: the observer
    # sits inside it to read the route the router puts there.
    assert [m.cls for m in app.user_middleware[:2]] == [
        HeadAsGet,
        RequestObserver,
    ]


# Handlers, levels, formats


TOUCHED_LOGGERS = (
    '',
    *APP_LOGGERS,
    *logs.QUIET_LOGGERS,
    'uvicorn',
    'uvicorn.error',
    'uvicorn.access',
)


@contextmanager
def bare_logging():
    """Logging as a bare `uvicorn` leaves it: no handler on root (pytest's
    own are put back at the end, with every logger touched here)."""
    loggers = [logging.getLogger(name) for name in TOUCHED_LOGGERS]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    logging.getLogger().handlers.clear()
    logging.getLogger('uvicorn.access').handlers[:] = [logging.NullHandler()]
    try:
        yield
    finally:
        for logger, (handlers, level, propagate) in zip(
            loggers, saved, strict=True
        ):
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def test_bare_app_loggers_get_a_handler_and_lose_it_at_the_end():
    stream = io.StringIO()
    test_settings = settings.model_copy(
        update={'LOG_FORMAT': 'console', 'LOG_LEVEL': 'DEBUG'}
    )

    with bare_logging():
        with app_logging(test_settings, stream=stream):
            handlers = [logging.getLogger(n).handlers[:] for n in APP_LOGGERS]
            logging.getLogger('fast_zero.test').debug('hello %s', 'there')
            logging.getLogger('sqlalchemy.engine').info('SELECT secret')
            levels = (
                logging.getLogger('fast_zero').level,
                logging.getLogger('sqlalchemy.engine').level,
            )
            uvicorn_access = logging.getLogger('uvicorn.access').handlers[:]
        after = [logging.getLogger(n).handlers[:] for n in APP_LOGGERS]
        root_handlers = logging.getLogger().handlers[:]

    [[fast_zero_handler], [sqlalchemy_handler]] = handlers
    assert fast_zero_handler is sqlalchemy_handler
    assert after == [[], []]
    assert root_handlers == []
    assert levels == (logging.DEBUG, logging.WARNING)
    assert uvicorn_access == []
    [line] = stream.getvalue().splitlines()
    assert line.endswith(' DEBUG   fast_zero.test [-] hello there')


def test_configured_loggers_are_left_alone():
    own = logging.NullHandler()
    test_settings = settings.model_copy(update={'ACCESS_LOG': False})

    with bare_logging():
        logging.getLogger('fast_zero').addHandler(own)
        logging.getLogger('sqlalchemy').addHandler(own)
        with app_logging(test_settings):
            handlers = [logging.getLogger(n).handlers[:] for n in APP_LOGGERS]
            uvicorn_access = logging.getLogger('uvicorn.access').handlers[:]

    assert handlers == [[own], [own]]
    assert len(uvicorn_access) == 1  # ACCESS_LOG=false: uvicorn's stays


def test_app_lifespan_sets_up_logging(capsys):
    with bare_logging():
        with TestClient(app):
            logging.getLogger('fast_zero.test').warning('from the lifespan')

    assert 'fast_zero.test [-] from the lifespan' in capsys.readouterr().err


def record_with(message, *args, exc_info=None, **attributes):
    record = logging.LogRecord(
        'fast_zero.test', logging.ERROR, __file__, 1, message, args, exc_info
    )
    record.__dict__.update(attributes)
    return record


def failure():
    try:
        raise ValueError('boom')
    except ValueError as error:
        return (type(error), error, error.__traceback__)


def test_json_format_with_traceback_and_fields():
    line = JsonFormatter().format(
        record_with(
            'count %d', 3, exc_info=failure(), request_id='r1', fields={'a': 1}
        )
    )

    entry = json.loads(line)
    assert entry == {
        'time': entry['time'],
        'level': 'ERROR',
        'logger': 'fast_zero.test',
        'message': 'count 3',
        'request_id': 'r1',
        'a': 1,
        'traceback': entry['traceback'],
    }
    assert entry['traceback'].endswith('ValueError: boom')


def test_console_format_with_traceback_and_fields():
    line = ConsoleFormatter().format(
        record_with('hi', exc_info=failure(), request_id='r1', fields={'a': 1})
    )

    first, *rest = line.splitlines()
    assert first.endswith(' ERROR   fast_zero.test [r1] hi a=1')
    assert rest[-1] == 'ValueError: boom'


@pytest.mark.parametrize('formatter', [JsonFormatter(), ConsoleFormatter()])
def test_token_query_values_are_redacted(formatter):
    line = formatter.format(
        record_with(
            'GET /verify?token=s3cr3t&x=1 and /r?refresh_token=abc "x"',
            exc_info=None,
        )
    )

    assert 's3cr3t' not in line
    assert 'abc' not in line
    assert 'token=[REDACTED]&x=1' in line


def test_development_logs_read_well_production_logs_are_json():
    development = settings.model_copy(update={'ENVIRONMENT': 'development'})
    production = settings.model_copy(update={'ENVIRONMENT': 'production'})
    chosen = production.model_copy(update={'LOG_FORMAT': 'console'})

    assert development.log_format == 'console'
    assert production.log_format == 'json'
    assert chosen.log_format == 'console'


@pytest.mark.parametrize('access_log', [True, False])
def test_launcher_log_config_uses_the_app_format(access_log, capsys):
    test_settings = settings.model_copy(
        update={'LOG_FORMAT': 'json', 'ACCESS_LOG': access_log}
    )

    with bare_logging():
        dictConfig(launcher_log_config(test_settings))
        logging.getLogger('uvicorn.error').info('Started server process')
        logging.getLogger('uvicorn.access').info(
            '%s - "%s %s HTTP/%s" %d',
            '1.2.3.4',
            'GET',
            '/v?token=abc',
            '1.1',
            200,
        )

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]['message'] == 'Started server process'
    assert lines[0]['logger'] == 'uvicorn.error'
    access_lines = [line['message'] for line in lines[1:]]
    assert access_lines == (
        []
        if access_log
        else ['1.2.3.4 - "GET /v?token=[REDACTED] HTTP/1.1" 200']
    )


# Rate-limited warnings


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rate_limited_warning_logs_once_a_second_with_the_suppressed_count(
    caplog,
):
    clock = FakeClock()
    warn = RateLimitedWarning(
        logging.getLogger('fast_zero.test'), 'Pool full', clock=clock
    )

    with caplog.at_level(logging.WARNING, logger='fast_zero.test'):
        warn()
        for offset in (0.1, 0.5, 0.999):
            clock.now = 100.0 + offset
            warn()
        clock.now = 101.0
        warn()
        clock.now = 102.5
        warn()

    assert [(r.levelname, r.message, r.fields) for r in caplog.records] == [
        ('WARNING', 'Pool full', {'suppressed': 0}),
        ('WARNING', 'Pool full', {'suppressed': 3}),
        ('WARNING', 'Pool full', {'suppressed': 0}),
    ]


def test_login_limit_warning_carries_the_request_id(client, user, app_log):
    responses = [
        login(
            client, user.email, 'wrong', headers={'X-Request-ID': f'try-{n}'}
        )
        for n in range(settings_login_limit() + 2)
    ]

    assert responses[-1].status_code == HTTPStatus.TOO_MANY_REQUESTS
    warnings = app_log.records('fast_zero.login_limits')
    assert len(warnings) == 1  # the second 429 came within a second
    assert warnings[0]['level'] == 'WARNING'
    assert (
        warnings[0]['message'] == 'Failed-login limit reached: answering 429'
    )
    assert warnings[0]['request_id'] == responses[-2].headers['X-Request-ID']
    assert warnings[0]['suppressed'] == 0


def settings_login_limit():
    return int(settings.LOGIN_RATE_LIMIT_PER_EMAIL.split('/')[0])


def test_request_id_reaches_the_hashing_threads():
    pool = HashingPool(threads=1, queue_size=0)

    async def in_request():
        request_id_var.set('hashing-1')
        return await pool.run(request_id_var.get)

    try:
        assert asyncio.run(in_request()) == 'hashing-1'
    finally:
        pool.shutdown()
    assert logs.request_id_var.get() is None
