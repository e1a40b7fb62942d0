from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse

from fast_zero.database import engine
from fast_zero.errors import (
    EXCEPTION_HANDLERS,
    ConcretePathsFirst,
    RequestBodyLimit,
    document_error_answers,
)
from fast_zero.routers import auth, health, todos, users
from fast_zero.schemas import Message
from fast_zero.settings import settings


@asynccontextmanager
async def lifespan(_app: FastAPI):
    yield
    await engine.dispose()


app = FastAPI(
    title='fast_zero',
    lifespan=lifespan,
    exception_handlers=EXCEPTION_HANDLERS,
)
document_error_answers(app)


@app.get('/', status_code=HTTPStatus.OK, response_model=Message)
async def read_root():
    return {'message': 'Olá Mundo!'}


@app.get('/exercicio-html', response_class=HTMLResponse)
async def exercicio_html():
    return """
    <html>
      <head>
        <title>Nosso olá mundo!</title>
      </head>
      <body>
        <h1> Olá Mundo </h1>
      </body>
    </html>"""


# After the root routes: Starlette tries routes in order, and `GET /` is
# the framework's per-request floor (one regex match, not a dozen).
app.include_router(users.router)
app.include_router(auth.router)
app.include_router(todos.router)
app.include_router(health.router)

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
