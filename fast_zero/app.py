from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse
from fastapi_offline import FastAPIOffline

from fast_zero import hashing, metrics, observability
from fast_zero.database import build_engine, build_session_factory
from fast_zero.errors import (
    EXCEPTION_HANDLERS,
    ConcretePathsFirst,
    HeadAsGet,
    RequestBodyLimit,
    document_error_answers,
)
from fast_zero.logs import app_logging
from fast_zero.routers import admin, auth, health, todos, users
from fast_zero.routers import metrics as metrics_route
from fast_zero.schemas import Message
from fast_zero.settings import settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None, None]:
    """The app's logging around its resources; at the end, this worker's
    gauges leave the metrics' live sums."""
    with app_logging(settings):
        async with app_resources(app):
            yield
    metrics.mark_process_done()


@asynccontextmanager
async def app_resources(app: FastAPI) -> AsyncGenerator[None, None]:
    """Give the app its engine, session factory and hashing pool.

    An engine or session factory a caller (a test fixture) set on
    `app.state` first is used as it is, and left to that caller. Nothing
    here touches the database, so the app always starts (course readers'
    tests run the lifespan before they override `get_session`).
    """
    state = app.state
    engine = factory = None
    if getattr(state, 'engine', None) is None:
        state.engine = engine = build_engine(settings.DATABASE_URL)
    if getattr(state, 'session_factory', None) is None:
        state.session_factory = factory = build_session_factory(state.engine)
    pool = hashing.start_hashing_pool()
    try:
        yield
    finally:
        await hashing.stop_hashing_pool(pool)
        # Only what this lifespan built, and only if still the app's.
        if (
            factory is not None
            and getattr(state, 'session_factory', None) is factory
        ):
            del state.session_factory
        if engine is not None:
            await engine.dispose()
            if getattr(state, 'engine', None) is engine:
                del state.engine


API_DESCRIPTION = """
The to-do list service of the course *FastAPI do Zero*: sign up, log in
with your **email** and password (`POST /auth/token`, a form whose
`username` field takes the email), then manage your own todos with the
token (`Authorization: Bearer <token>`; the *Authorize* button here).

Errors answer `{"detail": ...}`; every operation has a stable
`operationId`, for generated clients.
"""

# /docs and /redoc from assets the package ships (fastapi-offline): no
# CDN, font service or remote favicon, so they work on a host without
# internet or under a Content-Security-Policy of 'self'.
DOCS_ASSETS = '/static-offline-docs'
app = FastAPIOffline(
    title='fast_zero',
    description=API_DESCRIPTION,
    lifespan=lifespan,
    exception_handlers=EXCEPTION_HANDLERS,
    # Swagger UI would send the schema to its online validator.
    swagger_ui_parameters={'validatorUrl': None},
    redoc_url=None,  # served below
    static_url=DOCS_ASSETS,
)
document_error_answers(app)


@app.get(
    '/',
    status_code=HTTPStatus.OK,
    response_model=Message,
    operation_id='root-read_root',
)
async def read_root() -> dict:
    return {'message': 'Olá Mundo!'}


# No response model: the annotation below is for the type checker only.
@app.get(
    '/exercicio-html',
    response_class=HTMLResponse,
    response_model=None,
    include_in_schema=False,
)
async def exercicio_html() -> str:
    return """
    <html>
      <head>
        <title>Nosso olá mundo!</title>
      </head>
      <body>
        <h1> Olá Mundo </h1>
      </body>
    </html>"""


@app.get('/redoc', include_in_schema=False)
async def redoc_html(request: Request) -> HTMLResponse:
    root = request.scope.get('root_path', '')
    page = get_redoc_html(
        openapi_url=f'{root}{app.openapi_url}',
        title=f'{app.title} - ReDoc',
        redoc_js_url=f'{root}{DOCS_ASSETS}/redoc.standalone.js',
        redoc_favicon_url=f'{root}{DOCS_ASSETS}/favicon.png',
        with_google_fonts=False,
    )
    # ReDoc's sidebar always shows Redocly's logo from their CDN: this
    # policy keeps the browser from fetching any image from elsewhere.
    page.headers['Content-Security-Policy'] = "img-src 'self' data:"
    return page


# After the root routes: Starlette tries routes in order, and `GET /` is
# the framework's per-request floor (one regex match, not a dozen).
app.include_router(users.router)
app.include_router(auth.router)
app.include_router(todos.router)
app.include_router(health.router)
app.include_router(admin.router)
if settings.METRICS_ENABLED:
    app.include_router(metrics_route.router)

# Added before CORS, so they run after it: CORS answers preflights first.
app.add_middleware(ConcretePathsFirst)
app.add_middleware(RequestBodyLimit, max_bytes=settings.MAX_REQUEST_BODY_BYTES)

if settings.CORS_ORIGINS:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_methods=['*'],
        allow_headers=['*'],
    )

# Outermost but one: it records what every layer inside answers (HeadAsGet,
# outside it, hands the layers inside a copy of the request's scope).
observability.install(app, settings)

# Outermost: every layer inside sees a GET.
app.add_middleware(HeadAsGet)
