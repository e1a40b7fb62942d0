"""The error answers any route may give, each a `{"detail": ...}` body.

413 for a body over MAX_REQUEST_BODY_BYTES, and 422 for a body that is
invalid or cannot even be read (never echoing what was sent), both in
/openapi.json; 405 to a method a path lacks, with an `Allow` header naming
every method it has; 503 when the database lacks a table or column (not
migrated); JSON 500 for anything unexpected; 409 for a change that would
leave no active superuser (the routes that may refuse so document it).
HEAD on every GET route.
"""

import logging
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import RouteContext, iter_route_contexts
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fast_zero.crud import LastActiveSuperuser
from fast_zero.logs import request_id_var
from fast_zero.migration_state import NOT_AT_HEAD, is_missing_schema_error

logger = logging.getLogger(__name__)

BODY_TOO_LARGE = 'Request body too large'

FORM_CONTENT_TYPES = {
    'application/x-www-form-urlencoded',
    'multipart/form-data',
}
# The login is the API's only form, and the first thing a client calls.
FORM_EXPECTED = {
    'type': 'form_expected',
    'loc': ['body'],
    'msg': 'The login is a form (application/x-www-form-urlencoded): '
    'username=<email>&password=...',
}

# Why `json.loads` failed other than with a JSONDecodeError (for which
# FastAPI answers 422 itself); the first matching class wins.
UNDECODABLE_JSON_REASONS = (
    (UnicodeDecodeError, 'Not UTF-8'),
    (RecursionError, 'Nested too deeply'),
    (ValueError, 'Number too long'),  # an integer of over 4300 digits
)


def validation_error(errors: list[dict]) -> JSONResponse:
    return JSONResponse(
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
        content={'detail': jsonable_encoder(errors)},
    )


async def validation_error_without_input(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    """422 as FastAPI answers it, but never echoing what was submitted.

    To a route that reads a form, a body that is not one (JSON, say) gets
    first an item that says so: FastAPI's alone ('Field required') would
    not.
    """
    errors = [
        {key: value for key, value in error.items() if key != 'input'}
        for error in exc.errors()
    ]
    if reads_form(request.scope) and not is_form(request):
        errors.insert(0, FORM_EXPECTED)
    return validation_error(errors)


def reads_form(scope: Scope) -> bool:
    body_field = getattr(scope.get('route'), 'body_field', None)
    return body_field is not None and isinstance(
        body_field.field_info, params.Form
    )


def is_form(request: Request) -> bool:
    content_type = request.headers.get('content-type', '')
    return content_type.split(';')[0].strip().lower() in FORM_CONTENT_TYPES


def unreadable_body_error(exc: HTTPException) -> dict | None:
    """The 422 error for a 400 the framework raised reading the body.

    FastAPI's: JSON that `json.loads` refused without a JSONDecodeError.
    Starlette's: a malformed form (no multipart boundary, too many fields).
    """
    for error_class, reason in UNDECODABLE_JSON_REASONS:
        if isinstance(exc.__cause__, error_class):
            return {
                'type': 'json_invalid',
                'loc': ['body'],
                'msg': 'JSON decode error',
                'ctx': {'error': reason},
            }
    if isinstance(exc.__context__, MultiPartException):
        return {'type': 'form_invalid', 'loc': ['body'], 'msg': exc.detail}
    return None


async def bad_request(request: Request, exc: HTTPException) -> Response:
    """A body that cannot be read is invalid input: 422, as malformed JSON.

    Other 400s (a wrong current password) are answered as raised.
    """
    error = unreadable_body_error(exc)
    if error is None:
        return await http_exception_handler(request, exc)
    return validation_error([error])


def routes_with_methods(routes: list[BaseRoute]) -> list[RouteContext]:
    """Every route, those of included routers too, that has methods."""
    return [route for route in iter_route_contexts(routes) if route.methods]


def allowed_methods(scope: Scope) -> list[str]:
    """Every method of the resource at the request's path.

    A concrete path (`/users/me`) is a resource of its own, not a value of
    a template that also matches it (`/users/{user_id}`), as in OpenAPI.
    """
    routes = routes_with_methods(scope['app'].routes)
    resource = [
        route
        for route in routes
        if not route.param_convertors and route.path == scope['path']
    ] or [route for route in routes if route.matches(scope)[0] != Match.NONE]
    methods = {method for route in resource for method in route.methods or ()}
    if 'GET' in methods:
        methods.add('HEAD')  # HeadAsGet answers it
    return sorted(methods)


def method_not_allowed_response(scope: Scope) -> JSONResponse:
    return JSONResponse(
        status_code=HTTPStatus.METHOD_NOT_ALLOWED,
        content={'detail': HTTPStatus.METHOD_NOT_ALLOWED.phrase},
        headers={'Allow': ', '.join(allowed_methods(scope))},
    )


async def method_not_allowed(
    request: Request, _exc: HTTPException
) -> JSONResponse:
    """Starlette's 405 names the methods of one route: name them all."""
    return method_not_allowed_response(request.scope)


class SchemaNotAtHeadLog:
    """Logs NOT_AT_HEAD once per process: every request may meet it."""

    logged = False

    @classmethod
    def log_once(cls) -> None:
        if not cls.logged:
            cls.logged = True
            logger.error(NOT_AT_HEAD)


async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    """503 for a table or column the database lacks (not migrated).

    Any other database error is unexpected: a 500, as for any exception.
    """
    if not is_missing_schema_error(exc):
        raise exc
    SchemaNotAtHeadLog.log_once()
    return JSONResponse(
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
        content={'detail': NOT_AT_HEAD},
    )


def internal_server_error_body() -> dict:
    """The body of every 500: nothing about the error itself, and the
    request id that finds its log lines."""
    body = {'detail': HTTPStatus.INTERNAL_SERVER_ERROR.phrase}
    request_id = request_id_var.get()
    if request_id is not None:
        body['request_id'] = request_id
    return body


async def internal_server_error(
    _request: Request, _exc: Exception
) -> JSONResponse:
    # Only without the observer (fast_zero/observability.py), which answers
    # errors itself: Starlette logs the traceback and re-raises after this.
    return JSONResponse(
        status_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        content=internal_server_error_body(),
    )


class InvalidGrantError(Exception):
    """A refresh token refused: 400 as RFC 6749 (5.2) words it, `error`
    for OAuth clients, `detail` for ours."""

    detail = 'Invalid or expired refresh token'


async def invalid_grant(
    _request: Request, _exc: InvalidGrantError
) -> JSONResponse:
    return JSONResponse(
        status_code=HTTPStatus.BAD_REQUEST,
        content={'error': 'invalid_grant', 'detail': InvalidGrantError.detail},
        headers={'Cache-Control': 'no-store'},
    )


async def last_active_superuser(
    _request: Request, exc: LastActiveSuperuser
) -> JSONResponse:
    return JSONResponse(
        status_code=HTTPStatus.CONFLICT, content={'detail': exc.detail}
    )


ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    RequestValidationError: validation_error_without_input,
    LastActiveSuperuser: last_active_superuser,
    InvalidGrantError: invalid_grant,
    HTTPStatus.BAD_REQUEST.value: bad_request,
    HTTPStatus.METHOD_NOT_ALLOWED.value: method_not_allowed,
    DBAPIError: database_error,
    Exception: internal_server_error,
}


class RequestBodyLimit:
    """413 for a body over `max_bytes`, refused before it is read whole.

    A declared Content-Length over the limit is refused before the app
    runs; a chunked body, as soon as the bytes received pass the limit.
    Not FastAPI's `max_body_size`: to a body whose Content-Length is over
    its limit, it answers a plain-text 413 of its own, which replaces any
    answer of the app and no exception handler can change.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get('content-length', '')
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse(
                status_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                content={'detail': BODY_TOO_LARGE},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get('body', b''))
            if received > self.max_bytes:
                # Reading the body stops here; the handlers answer.
                raise HTTPException(
                    status_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    detail=BODY_TOO_LARGE,
                )
            return message

        await self.app(scope, receive_within_limit, send)


class ConcretePathsFirst:
    """405 for a method a concrete path lacks, before a template takes it.

    Starlette tries routes in order, so `PUT /users/me` would reach
    `PUT /users/{user_id}` and answer 422 for the id 'me'. OpenAPI matches
    a concrete path before templates, and /users/me has no PUT.
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self.methods_by_path: dict[str, set[str]] | None = None

    def concrete_path_methods(self, scope: Scope) -> dict[str, set[str]]:
        # Built at the first request, when every router is included.
        if self.methods_by_path is None:
            self.methods_by_path = {}
            for route in routes_with_methods(scope['app'].routes):
                # Routes with methods have a path; the types allow None.
                if route.path is not None and not route.param_convertors:
                    self.methods_by_path.setdefault(route.path, set()).update(
                        route.methods or ()
                    )
        return self.methods_by_path

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope['type'] == 'http':
            methods = self.concrete_path_methods(scope).get(scope['path'])
            if methods and scope['method'] not in methods:
                response = method_not_allowed_response(scope)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HeadAsGet:
    """HEAD on every GET route: GET runs, its body is dropped.

    Load balancers and `curl -I` use HEAD; FastAPI routes answer only the
    methods they declare, and declaring HEAD would list it in OpenAPI.
    Headers stay those of GET (Content-Length included), as HTTP wants.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope['type'] != 'http' or scope['method'] != 'HEAD':
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message['type'] == 'http.response.body':
                message = {**message, 'body': b''}
            await send(message)

        await self.app({**scope, 'method': 'GET'}, receive, send_without_body)


def document_error_answers(app: FastAPI) -> None:
    """Add to the app's OpenAPI what these handlers answer on any route.

    413 wherever a body is read; the 422 error as sent, without `input`.
    """
    generate_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate_openapi()
        for operations in schema['paths'].values():
            for operation in operations.values():
                if 'requestBody' in operation:
                    operation['responses'][
                        str(HTTPStatus.REQUEST_ENTITY_TOO_LARGE.value)
                    ] = error_answer(BODY_TOO_LARGE)
        components = schema['components']['schemas']
        del components['ValidationError']['properties']['input']
        return schema

    # FastAPI's documented way to extend the schema; mypy forbids it.
    app.openapi = openapi  # type: ignore[method-assign]


def error_answer(description: str) -> dict:
    return {
        'description': description,
        'content': {
            'application/json': {
                'schema': {'$ref': '#/components/schemas/ErrorMessage'}
            }
        },
    }
