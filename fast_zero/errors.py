"""The error answers any route may give, each a `{"detail": ...}` body.

413 for a body over MAX_REQUEST_BODY_BYTES, and 422 for a body that is
invalid or cannot even be read (never echoing what was sent), both in
/openapi.json; 405 to a method a path lacks, with an `Allow` header naming
every method it has.
"""

from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_TOO_LARGE = 'Request body too large'

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
    _request: Request, exc: RequestValidationError
) -> JSONResponse:
    """422 as FastAPI answers it, but never echoing what was submitted."""
    return validation_error([
        {key: value for key, value in error.items() if key != 'input'}
        for error in exc.errors()
    ])


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
    return sorted({
        method for route in resource for method in route.methods or ()
    })


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


ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    RequestValidationError: validation_error_without_input,
    HTTPStatus.BAD_REQUEST.value: bad_request,
    HTTPStatus.METHOD_NOT_ALLOWED.value: method_not_allowed,
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
