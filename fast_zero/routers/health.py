import asyncio
from http import HTTPStatus

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from fast_zero.crud import database_revision
from fast_zero.database import Session
from fast_zero.migration_state import SchemaState, schema_state
from fast_zero.schemas import Health
from fast_zero.settings import settings

router = APIRouter(tags=['health'])

UNREACHABLE = {'status': 'error', 'database': 'unreachable'}
MIGRATIONS_PENDING = {
    'status': 'error',
    'database': 'ok',
    'migrations': SchemaState.PENDING,
}


@router.get(
    '/health',
    response_model=Health,
    responses={HTTPStatus.SERVICE_UNAVAILABLE.value: {'model': Health}},
    operation_id='health-read_health',
)
async def health(session: Session) -> JSONResponse | dict:
    """200 after a real round trip to the database, whose schema is at the
    migrations' head (or ahead: a newer release migrated it); 503 if the
    database does not answer in time or needs `alembic upgrade head`."""
    try:
        async with asyncio.timeout(settings.HEALTH_CHECK_TIMEOUT_SECONDS):
            revision = await database_revision(session)
    except (TimeoutError, OSError, SQLAlchemyError):
        return JSONResponse(
            status_code=HTTPStatus.SERVICE_UNAVAILABLE, content=UNREACHABLE
        )
    migrations = schema_state(revision)
    if migrations == SchemaState.PENDING:
        return JSONResponse(
            status_code=HTTPStatus.SERVICE_UNAVAILABLE,
            content=MIGRATIONS_PENDING,
        )
    return {'status': 'ok', 'database': 'ok', 'migrations': migrations}
