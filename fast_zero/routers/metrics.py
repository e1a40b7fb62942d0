"""GET /metrics: Prometheus' text format, outside the OpenAPI schema.

Open in development. In production only with `Authorization: Bearer
<METRICS_TOKEN>`, and not at all without METRICS_TOKEN: anything else is
the 404 of a path that does not exist.
"""

import hmac
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response

from fast_zero import metrics
from fast_zero.settings import settings

router = APIRouter()


def may_scrape(authorization: str | None) -> bool:
    if settings.ENVIRONMENT != 'production':
        return True
    if settings.METRICS_TOKEN is None or authorization is None:
        return False
    expected = f'Bearer {settings.METRICS_TOKEN.get_secret_value()}'
    return hmac.compare_digest(
        authorization.encode('latin-1'), expected.encode()
    )


# Sync: FastAPI runs it in a thread, since the scrape of several workers
# reads their files.
@router.get('/metrics', include_in_schema=False)
def read_metrics(
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    if not may_scrape(authorization):
        raise HTTPException(status_code=HTTPStatus.NOT_FOUND)
    return Response(metrics.latest(), media_type=metrics.CONTENT_TYPE)
