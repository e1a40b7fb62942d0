"""GET /metrics: request counts and latencies by route, the service's own
gauges and counters, and who may scrape."""

import asyncio
import os
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import jwt
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from fast_zero import metrics
from fast_zero.database import build_engine
from fast_zero.hashing import HashingBusy, HashingPool
from fast_zero.observability import RequestObserver
from fast_zero.security import create_access_token
from fast_zero.settings import settings
from tests.helpers import CREDENTIALS_ERROR, auth, login
from tests.test_hashing_capacity import Gate, wait_for
from tests.test_observability import hello_app

METRICS_TOKEN = 'metrics-token-for-the-tests-0123456789'


def sample(name, **labels):
    """A value of this process's registry (0 for a series not yet seen)."""
    return metrics.registry.get_sample_value(name, labels) or 0


def scraped(client, **request):
    """{(name, labels): value} of one scrape."""
    response = client.get('/metrics', **request)
    assert response.status_code == HTTPStatus.OK
    assert response.headers['content-type'].startswith('text/plain')
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def requests_total(values, method, route, status):
    key = (
        'http_requests_total',
        (('method', method), ('route', route), ('status', str(int(status)))),
    )
    return values.get(key, 0)


# Requests


def test_requests_are_counted_by_route_template_and_status(client, user):
    found = 3
    before = scraped(client)

    for _ in range(found):
        client.get(f'/users/{user.id}')
    client.get('/users/999')
    client.get('/no/such/path')

    after = scraped(client)

    def new(method, route, status):
        return requests_total(after, method, route, status) - (
            requests_total(before, method, route, status)
        )

    assert new('GET', '/users/{user_id}', HTTPStatus.OK) == found
    assert new('GET', '/users/{user_id}', HTTPStatus.NOT_FOUND) == 1
    assert new('GET', '<unmatched>', HTTPStatus.NOT_FOUND) == 1
    assert not any(
        dict(labels).get('route', '').startswith('/users/9')
        for _name, labels in after
    )


def test_scrapes_are_not_counted(client):
    before = scraped(client)
    after = scraped(client)

    assert requests_total(after, 'GET', '/metrics', 200) == 0
    assert after.keys() >= before.keys()
    assert not any(
        dict(labels).get('route') == '/metrics' for _n, labels in after
    )


def test_duration_histogram_has_few_buckets_and_counts_each_request(client):
    labels = {'method': 'GET', 'route': '/'}
    count = sample('http_request_duration_seconds_count', **labels)

    client.get('/')
    client.get('/')

    assert sample('http_request_duration_seconds_count', **labels) == count + 2
    assert (
        sample('http_request_duration_seconds_bucket', le='+Inf', **labels)
        == count + 2
    )
    buckets = [
        key
        for key in scraped(client)
        if key[0] == 'http_request_duration_seconds_bucket'
        and dict(key[1])['route'] == '/'
    ]
    assert len(buckets) == len(metrics.DURATION_BUCKETS) + 1


def test_requests_in_progress_counts_the_scrape_itself(client):
    values = scraped(client)

    assert values[('http_requests_in_progress', ())] == 1
    assert sample('http_requests_in_progress') == 0


def test_unknown_methods_share_one_label(client):
    before = sample(
        'http_requests_total',
        method='OTHER',
        route='<unmatched>',
        status='405',
    )

    response = client.request('BREW', '/')

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert (
        sample(
            'http_requests_total',
            method='OTHER',
            route='<unmatched>',
            status='405',
        )
        == before + 1
    )


def test_metrics_off_counts_nothing():
    observer = RequestObserver(hello_app(), access_log=True, metrics=False)
    labels = {'method': 'GET', 'route': '/hello', 'status': '200'}
    before = sample('http_requests_total', **labels)

    response = TestClient(observer).get('/hello')

    assert response.status_code == HTTPStatus.OK
    assert sample('http_requests_total', **labels) == before == 0


# Tokens refused, by reason


def expired_token(user, token):
    """The token of the same session, expired a minute ago."""
    claims = jwt.decode(
        token, settings.SECRET_KEY, algorithms=[settings.ALGORITHM]
    )
    past = datetime.now(tz=UTC) - timedelta(minutes=1)
    return create_access_token(
        {'sub': str(user.id), 'key': user.token_key, 'sid': claims['sid']},
        not_after=past,
    )


@pytest.mark.parametrize(
    ('reason', 'headers'),
    [
        ('missing', lambda user, token: {}),
        ('malformed', lambda user, token: auth('not-a-jwt')),
        ('expired', lambda user, token: auth(expired_token(user, token))),
        ('revoked', lambda user, token: auth(token)),
    ],
)
def test_refused_tokens_are_counted_by_reason(
    client, user, token, reason, headers
):
    if reason == 'revoked':
        client.post('/auth/logout', headers=auth(token))
    before = {
        r: sample('fast_zero_tokens_refused_total', reason=r)
        for r in metrics.TOKEN_REFUSAL_REASONS
    }

    response = client.get('/users/me', headers=headers(user, token))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    after = {
        r: sample('fast_zero_tokens_refused_total', reason=r)
        for r in metrics.TOKEN_REFUSAL_REASONS
    }
    assert after == {**before, reason: before[reason] + 1}


def test_revoked_token_on_the_todo_list_is_counted(client, user, token):
    client.post('/auth/logout', headers=auth(token))
    before = sample('fast_zero_tokens_refused_total', reason='revoked')

    response = client.get('/todos/', headers=auth(token))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert sample('fast_zero_tokens_refused_total', reason='revoked') == (
        before + 1
    )


# Logins


def test_login_failures_and_429s_are_counted(client, user):
    failures = sample('fast_zero_login_failures_total')
    limited = sample('fast_zero_login_rate_limited_total')
    allowed = int(settings.LOGIN_RATE_LIMIT_PER_EMAIL.split('/')[0])

    statuses = [
        login(client, user.email, 'wrong-password').status_code
        for _ in range(allowed + 2)
    ]

    assert (
        statuses
        == [HTTPStatus.UNAUTHORIZED] * allowed
        + [HTTPStatus.TOO_MANY_REQUESTS] * 2
    )
    assert sample('fast_zero_login_failures_total') == failures + allowed
    assert sample('fast_zero_login_rate_limited_total') == limited + 2


def test_a_successful_login_is_no_failure(client, user):
    failures = sample('fast_zero_login_failures_total')

    response = login(client, user.email, user.clean_password)

    assert response.status_code == HTTPStatus.OK
    assert sample('fast_zero_login_failures_total') == failures


# The hashing pool


@pytest.mark.asyncio
async def test_hashing_jobs_running_waiting_and_refused():
    pool = HashingPool(threads=1, queue_size=1)
    running = sample('fast_zero_hashing_jobs_running')
    waiting = sample('fast_zero_hashing_jobs_waiting')
    refused = sample('fast_zero_hashing_jobs_refused_total')
    first, second = Gate(), Gate()
    try:
        first_job = asyncio.create_task(pool.run(first.job))
        assert await wait_for(first.entered.is_set)
        second_job = asyncio.create_task(pool.run(second.job))
        assert await wait_for(
            lambda: sample('fast_zero_hashing_jobs_waiting') == waiting + 1
        )
        with pytest.raises(HashingBusy):
            await pool.run(str)

        assert sample('fast_zero_hashing_jobs_running') == running + 1
        assert sample('fast_zero_hashing_jobs_refused_total') == refused + 1
    finally:
        first.release.set()
        second.release.set()
        await asyncio.gather(first_job, second_job)
        pool.shutdown()
    assert sample('fast_zero_hashing_jobs_running') == running
    assert sample('fast_zero_hashing_jobs_waiting') == waiting


@pytest.mark.asyncio
async def test_a_job_cancelled_before_it_ran_stops_waiting():
    pool = HashingPool(threads=1, queue_size=1)
    waiting = sample('fast_zero_hashing_jobs_waiting')
    gate = Gate()
    try:
        running_job = asyncio.create_task(pool.run(gate.job))
        assert await wait_for(gate.entered.is_set)
        queued_job = asyncio.create_task(pool.run(str, 'never'))
        assert await wait_for(
            lambda: sample('fast_zero_hashing_jobs_waiting') == waiting + 1
        )
        queued_job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued_job

        assert sample('fast_zero_hashing_jobs_waiting') == waiting
    finally:
        gate.release.set()
        await running_job
        pool.shutdown()


# The database pool


@pytest.mark.asyncio
async def test_database_connections_in_use(fresh_database_url):
    engine = build_engine(fresh_database_url)
    in_use = sample('fast_zero_database_connections_in_use')
    try:
        async with engine.connect():
            assert sample('fast_zero_database_connections_in_use') == (
                in_use + 1
            )
            async with engine.connect():
                assert sample('fast_zero_database_connections_in_use') == (
                    in_use + 2
                )
        assert sample('fast_zero_database_connections_in_use') == in_use
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_each_pool_is_watched_once(fresh_database_url):
    engine = build_engine(fresh_database_url)
    metrics.watch_connection_pool(engine)  # again
    in_use = sample('fast_zero_database_connections_in_use')
    try:
        async with engine.connect():
            assert sample('fast_zero_database_connections_in_use') == (
                in_use + 1
            )
    finally:
        await engine.dispose()


# Who may scrape


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setattr(settings, 'ENVIRONMENT', 'production')


def test_metrics_are_open_in_development(client):
    response = client.get('/metrics')

    assert response.status_code == HTTPStatus.OK
    assert 'http_requests_total' in response.text


def test_production_without_metrics_token_has_no_metrics(client, production):
    response = client.get('/metrics', headers=auth('anything'))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {'detail': 'Not Found'}


@pytest.mark.parametrize(
    'headers',
    [
        {},
        auth('wrong'),
        auth(METRICS_TOKEN + 'x'),
        {'Authorization': METRICS_TOKEN},
        {'Authorization': f'Basic {METRICS_TOKEN}'},
        {'Authorization': 'Bearer é'.encode()},
    ],
)
def test_production_refuses_a_wrong_metrics_token_with_404(
    client, production, monkeypatch, headers
):
    monkeypatch.setattr(settings, 'METRICS_TOKEN', SecretStr(METRICS_TOKEN))

    response = client.get('/metrics', headers=headers)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {'detail': 'Not Found'}


def test_production_scrape_with_the_metrics_token(
    client, production, monkeypatch
):
    monkeypatch.setattr(settings, 'METRICS_TOKEN', SecretStr(METRICS_TOKEN))

    values = scraped(client, headers=auth(METRICS_TOKEN))

    assert ('http_requests_in_progress', ()) in values


def test_metrics_are_not_in_the_openapi_schema(client):
    assert '/metrics' not in client.get('/openapi.json').json()['paths']


def test_metrics_token_is_never_shown(monkeypatch):
    monkeypatch.setenv('METRICS_TOKEN', METRICS_TOKEN)

    shown = repr(settings.__class__()) + str(settings.__class__())

    assert METRICS_TOKEN not in shown


# Several workers (tests/test_metrics_workers.py runs them for real)


def test_scrape_of_several_workers_reads_only_their_directory(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(metrics, 'MULTIPROCESS_DIRECTORY', str(tmp_path))

    assert metrics.latest() == b''  # no worker wrote a value yet


def test_a_stopping_worker_leaves_the_live_sums(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, 'MULTIPROCESS_DIRECTORY', str(tmp_path))
    mine = tmp_path / f'gauge_livesum_{os.getpid()}.db'
    other = tmp_path / f'gauge_livesum_{os.getpid() + 1}.db'
    counts = tmp_path / f'counter_{os.getpid()}.db'
    for path in (mine, other, counts):
        path.write_bytes(b'')

    metrics.mark_process_done()

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        other.name,
        counts.name,
    ])


def test_one_process_marks_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, 'MULTIPROCESS_DIRECTORY', None)

    metrics.mark_process_done()

    assert list(tmp_path.iterdir()) == []
