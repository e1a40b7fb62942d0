"""Metrics of several workers: the scrape of any one sums them all.

uvicorn with two worker processes, as `--workers 2` runs them, each
writing its values to files in PROMETHEUS_MULTIPROC_DIR (emptied first,
as the launcher does).
"""

import urllib.request
from http import HTTPStatus

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fast_zero.metrics import prepare_multiprocess_directory
from tests.live_server import LiveServer, migrate

REQUESTS = 20
WORKERS = 2


@pytest.fixture
def two_workers(tmp_path, fresh_database_url):
    metrics_directory = tmp_path / 'metrics'
    metrics_directory.mkdir()
    (metrics_directory / 'counter_1.db').write_bytes(b'left by an old run')
    prepare_multiprocess_directory(str(metrics_directory))
    migrate(fresh_database_url)
    server = LiveServer(
        fresh_database_url,
        tmp_path / 'server.log',
        settings={
            'METRICS_ENABLED': 'true',
            'PROMETHEUS_MULTIPROC_DIR': str(metrics_directory),
        },
    )
    server.options = ('--workers', str(WORKERS))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def get(url):
    # A connection per request: the kernel hands each to either worker.
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def scrape(server):
    status, text = get(server.base_url + '/metrics')
    assert status == HTTPStatus.OK
    return list(text_string_to_metric_families(text))


def total(families, name):
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == name
    )


def test_scrape_sums_the_requests_of_every_worker(two_workers):
    statuses = {get(two_workers.base_url + '/')[0] for _ in range(REQUESTS)}
    first = scrape(two_workers)
    second = scrape(two_workers)

    assert statuses == {HTTPStatus.OK}
    # The server's readiness probe (one GET /) counts too; scrapes do not.
    assert total(first, 'http_requests_total') == REQUESTS + 1
    assert total(second, 'http_requests_total') == REQUESTS + 1
    assert total(first, 'http_request_duration_seconds_count') == (
        REQUESTS + 1
    )
    # The gauges are summed over the live workers: only the scrape runs.
    assert total(second, 'http_requests_in_progress') == 1
