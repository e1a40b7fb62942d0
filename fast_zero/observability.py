"""One access record and the HTTP metrics per request, a request id each.

`RequestObserver` is plain ASGI (no BaseHTTPMiddleware: no extra task,
no body streamed through a queue). Installed only when ACCESS_LOG or
METRICS_ENABLED is on, as the app's outermost middleware, so it also sees
the answers given before routing (405, 413, CORS) and every exception no
handler answered.
"""

import itertools
import logging
import os
import re
import secrets
import time
from contextvars import ContextVar
from http import HTTPStatus

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fast_zero import metrics
from fast_zero.errors import internal_server_error_body
from fast_zero.logs import in_writer_thread, request_id_var
from fast_zero.settings import Settings

logger = logging.getLogger(__name__)
access_logger = logging.getLogger('fast_zero.access')

REQUEST_ID_HEADER = b'x-request-id'
VALID_REQUEST_ID = re.compile(rb'[A-Za-z0-9._-]{1,64}')
UNMATCHED_ROUTE = '<unmatched>'
# Scrapes are logged at DEBUG and left out of the request metrics.
METRICS_ROUTE = '/metrics'


class RequestIds:
    """New request ids: a random prefix per process and a counter.

    Unique (not secret) is all an id needs, and a counter costs a third
    of a fresh random id per request.
    """

    def __init__(self) -> None:
        self.restart()
        os.register_at_fork(after_in_child=self.restart)

    def restart(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count(1)

    def new(self) -> str:
        return f'{self.prefix}-{next(self.counter):x}'


request_ids = RequestIds()


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID if it is a safe one, else a new id."""
    for name, value in scope['headers']:
        if name == REQUEST_ID_HEADER:
            if VALID_REQUEST_ID.fullmatch(value):
                return value.decode('ascii')
            break
    return request_ids.new()


# The state of the request being answered (`request.state`), for the token
# check to name its caller in without a Request parameter of its own.
request_state_var: ContextVar[dict | None] = ContextVar(
    'request_state', default=None
)


def remember_caller(user_id: int) -> None:
    """Name the request's authenticated user (`request.state.user_id`),
    for its access record."""
    state = request_state_var.get()
    if state is not None:
        state['user_id'] = user_id


def route_of(scope: Scope) -> str:
    """The matched route's template, never the raw path (bounded labels)."""
    route = scope.get('route')
    return route.path if route is not None else UNMATCHED_ROUTE


class RequestObserver:
    def __init__(self, app: ASGIApp, *, access_log: bool, metrics: bool):
        self.app = app
        self.access_log = access_log
        self.metrics = metrics

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = request_id_of(scope)
        context_token = request_id_var.set(request_id)
        state_token = request_state_var.set(scope.setdefault('state', {}))
        id_header = (REQUEST_ID_HEADER, request_id.encode('ascii'))
        status = None
        size = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, size
            if message['type'] == 'http.response.start':
                status = message['status']
                message['headers'] = [*message.get('headers', ()), id_header]
            else:
                size += len(message.get('body', b''))
            await send(message)

        if self.metrics:
            metrics.http_requests_in_progress.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered here, not re-raised: the server would log it again.
            logger.exception('Unhandled exception')
            if status is None:
                await self.answer_internal_error(scope, receive, send_with_id)
        finally:
            if self.metrics:
                metrics.http_requests_in_progress.dec()
            self.record(scope, status, size, time.perf_counter() - start)
            request_id_var.reset(context_token)
            request_state_var.reset(state_token)

    @staticmethod
    async def answer_internal_error(
        scope: Scope, receive: Receive, send: Send
    ) -> None:
        response = JSONResponse(
            status_code=HTTPStatus.INTERNAL_SERVER_ERROR,
            content=internal_server_error_body(),
        )
        await response(scope, receive, send)

    def record(
        self, scope: Scope, status: int | None, size: int, seconds: float
    ) -> None:
        route = route_of(scope)
        # No status: the client left before any answer (nothing to count).
        if self.metrics and route != METRICS_ROUTE and status is not None:
            metrics.observe_request(scope['method'], route, status, seconds)
        if not self.access_log:
            return
        level = logging.DEBUG if route == METRICS_ROUTE else logging.INFO
        if not access_logger.isEnabledFor(level):
            return
        client = scope.get('client')
        fields = {
            'method': scope['method'],
            'route': route,
            'path': scope['path'],
            'status': status,
            'duration_ms': round(seconds * 1000, 3),
            'client': client[0] if client else None,
            'size': size,
        }
        user_id = scope['state'].get('user_id')
        # A 401 may come after the token's claims were read: no user.
        if user_id is not None and status != HTTPStatus.UNAUTHORIZED:
            fields['user_id'] = user_id
        in_writer_thread(
            log_access, level, fields, request_id_var.get(), time.time()
        )


def log_access(
    level: int, fields: dict, request_id: str | None, created: float
) -> None:
    """The access record, straight to the handlers: Logger.log's look for
    the caller's frame and its `extra` checks cost a fifth of it."""
    record = logging.LogRecord(
        access_logger.name, level, __file__, 0, 'request', None, None
    )
    # When the answer ended, not when this record was built.
    record.created, record.msecs = created, created % 1 * 1000
    record.request_id = request_id
    record.fields = fields
    access_logger.handle(record)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the observer as the outermost middleware, if anything uses it."""
    if settings.ACCESS_LOG or settings.METRICS_ENABLED:
        app.add_middleware(
            RequestObserver,
            access_log=settings.ACCESS_LOG,
            metrics=settings.METRICS_ENABLED,
        )
