from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse

from fast_zero.database import engine
from fast_zero.routers import auth, health, todos, users
from fast_zero.schemas import Message
from fast_zero.settings import settings


@asynccontextmanager
async def lifespan(_app: FastAPI):
    yield
    await engine.dispose()


app = FastAPI(title='fast_zero', lifespan=lifespan)


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

if settings.CORS_ORIGINS:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_methods=['*'],
        allow_headers=['*'],
    )


@app.exception_handler(RequestValidationError)
async def validation_error_without_input(
    _request: Request, exc: RequestValidationError
):
    """422 as FastAPI answers it, but never echoing what was submitted."""
    errors = [
        {key: value for key, value in error.items() if key != 'input'}
        for error in exc.errors()
    ]
    return JSONResponse(
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
        content={'detail': jsonable_encoder(errors)},
    )
