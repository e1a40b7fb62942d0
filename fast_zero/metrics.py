"""Prometheus metrics of the process (or of every worker), for /metrics.

With several workers each process writes its values to files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode), read and
summed at scrape time; the launcher (`fast-zero serve`, fast_zero/cli.py)
empties that directory before starting them. Gauges are `livesum`: the sum
over the workers alive. Every value here is kept up to date as it changes,
never computed at scrape time, since the scraped worker sees only itself.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROCESS_DIRECTORY = os.environ.get('PROMETHEUS_MULTIPROC_DIR')
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Request methods outside these share one label: a client picks the method.
KNOWN_METHODS = frozenset({
    'GET',
    'HEAD',
    'POST',
    'PUT',
    'PATCH',
    'DELETE',
    'OPTIONS',
})
OTHER_METHOD = 'OTHER'
# Few buckets: each costs a time series per method and route.
DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5)
TOKEN_REFUSAL_REASONS = ('missing', 'malformed', 'expired', 'revoked')

registry = CollectorRegistry()

http_requests = Counter(
    'http_requests',
    'Requests answered, by method, route template and status',
    ['method', 'route', 'status'],
    registry=registry,
)
http_request_duration = Histogram(
    'http_request_duration_seconds',
    'Time to answer a request, by method and route template',
    ['method', 'route'],
    buckets=DURATION_BUCKETS,
    registry=registry,
)
http_requests_in_progress = Gauge(
    'http_requests_in_progress',
    'Requests being answered',
    multiprocess_mode='livesum',
    registry=registry,
)
hashing_jobs_running = Gauge(
    'fast_zero_hashing_jobs_running',
    'Password hashes running in the hashing pool',
    multiprocess_mode='livesum',
    registry=registry,
)
hashing_jobs_waiting = Gauge(
    'fast_zero_hashing_jobs_waiting',
    'Password hashes waiting for a thread of the hashing pool',
    multiprocess_mode='livesum',
    registry=registry,
)
hashing_jobs_refused = Counter(
    'fast_zero_hashing_jobs_refused',
    'Password hashes refused with 503: the hashing pool was full',
    registry=registry,
)
login_failures = Counter(
    'fast_zero_login_failures',
    'Logins refused for a wrong email or password',
    registry=registry,
)
login_rate_limited = Counter(
    'fast_zero_login_rate_limited',
    'Logins refused with 429 by the failed-login limits',
    registry=registry,
)
database_connections_in_use = Gauge(
    'fast_zero_database_connections_in_use',
    'Connections checked out of the database pool',
    multiprocess_mode='livesum',
    registry=registry,
)
tokens_refused = Counter(
    'fast_zero_tokens_refused',
    'Requests refused with 401 for their token, by reason',
    ['reason'],
    registry=registry,
)
TOKENS_REFUSED = {
    reason: tokens_refused.labels(reason) for reason in TOKEN_REFUSAL_REASONS
}

# The labelled children of each (method, route, status): looking them up
# through `labels()` costs more than the increments themselves.
_request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(
    method: str, route: str, status: int, seconds: float
) -> None:
    key = (method, route, status)
    series = _request_series.get(key)
    if series is None:
        label = method if method in KNOWN_METHODS else OTHER_METHOD
        series = _request_series[key] = (
            http_requests.labels(label, route, str(status)),
            http_request_duration.labels(label, route),
        )
    series[0].inc()
    series[1].observe(seconds)


def watch_connection_pool(engine: AsyncEngine) -> None:
    """Keep `database_connections_in_use` up to date for the engine."""
    pool = engine.sync_engine.pool
    if not event.contains(pool, 'checkout', _connection_checked_out):
        event.listen(pool, 'checkout', _connection_checked_out)
        event.listen(pool, 'checkin', _connection_checked_in)


def _connection_checked_out(*_args: object) -> None:
    database_connections_in_use.inc()


def _connection_checked_in(*_args: object) -> None:
    database_connections_in_use.dec()


def latest() -> bytes:
    """The scrape: this process's values, or every worker's summed."""
    if MULTIPROCESS_DIRECTORY is None:
        return generate_latest(registry)
    scrape_registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(
        scrape_registry, path=MULTIPROCESS_DIRECTORY
    )
    return generate_latest(scrape_registry)


def mark_process_done() -> None:
    """At a worker's shutdown: its gauges leave the live sums."""
    if MULTIPROCESS_DIRECTORY is not None:
        multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIRECTORY)
