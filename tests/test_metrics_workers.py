"""Metrics of several workers: the scrape of any one sums them all.

uvicorn with two worker processes, as `--workers 2` runs them, each
writing its values to files in PROMETHEUS_MULTIPROC_DIR (emptied first,
as the launcher does).
"""

import os
import urllib.request
from http import HTTPStatus
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fast_zero.cli import METRICS_DIRECTORY, empty_metrics_directory
from tests.live_server import LiveServer, migrate

REQUESTS = 20
WORKERS = 2


@pytest.fixture
def two_workers(tmp_path, fresh_database_url, monkeypatch):
    metrics_directory = tmp_path / 'metrics'
    metrics_directory.mkdir()
    (metrics_directory / 'counter_1.db').write_bytes(b'left by an old run')
    monkeypatch.setenv(METRICS_DIRECTORY, str(metrics_directory))
    empty_metrics_directory(WORKERS)
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


def test_launcher_empties_the_metrics_directory_of_its_values(
    tmp_path, monkeypatch
):
    (tmp_path / 'counter_123.db').write_bytes(b'old')
    (tmp_path / 'notes.txt').write_text('kept')
    monkeypatch.setenv(METRICS_DIRECTORY, str(tmp_path))

    empty_metrics_directory(1)

    assert [p.name for p in tmp_path.iterdir()] == ['notes.txt']


def test_launcher_gives_several_workers_a_metrics_directory(monkeypatch):
    # Set first, so that the variable the launcher sets is undone too.
    monkeypatch.setenv(METRICS_DIRECTORY, '')
    monkeypatch.delenv(METRICS_DIRECTORY)

    empty_metrics_directory(WORKERS)

    directory = Path(os.environ[METRICS_DIRECTORY])
    assert directory.is_dir()
    assert list(directory.iterdir()) == []
    directory.rmdir()


def test_one_worker_needs_no_metrics_directory(monkeypatch):
    monkeypatch.delenv(METRICS_DIRECTORY, raising=False)

    empty_metrics_directory(None)

    assert METRICS_DIRECTORY not in os.environ
