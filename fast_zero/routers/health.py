import asyncio
from http import HTTPStatus

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from fast_zero.crud import ping
from fast_zero.database import Session
from fast_zero.schemas import Health
from fast_zero.settings import settings

router = APIRouter(tags=['health'])

UNREACHABLE = {'status': 'error', 'database': 'unreachable'}


@router.get(
    '/health',
    response_model=Health,
    responses={HTTPStatus.SERVICE_UNAVAILABLE.value: {'model': Health}},
)
async def health(session: Session) -> JSONResponse | dict:
    """200 after a real round trip to the database; 503 if none in time."""
    try:
        async with asyncio.timeout(settings.HEALTH_CHECK_TIMEOUT_SECONDS):
            await ping(session)
    except (TimeoutError, OSError, SQLAlchemyError):
        return JSONResponse(
            status_code=HTTPStatus.SERVICE_UNAVAILABLE, content=UNREACHABLE
        )
    return {'status': 'ok', 'database': 'ok'}
