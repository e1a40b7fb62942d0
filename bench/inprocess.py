"""In-process timing of the service's routes: `python bench/inprocess.py`.

For comparing code changes, and for profiling; `task bench` stays the
measure of record. No HTTP server and no load generator: the event loop
(uvloop, as uvicorn uses) calls the ASGI app directly, `--concurrency`
requests at a time, on a database migrated and seeded as `task bench`
seeds it. Prints the CPU time per request in microseconds (the whole
process, SQLite's threads included), the best of `--repeat` rounds, and the
median over the rounds of each round's p50 and p99 wall-clock latency
(how the connection pool shares its few connections among `--concurrency`
requests shows there). Pin it to one core (`taskset -c 0 python
bench/inprocess.py`) to match the bench.

`--profile KEY` prints cProfile's busiest functions for one route (the
counts of coroutines and greenlets are resumptions, not calls).
"""

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

import seeding  # the same database set-up as `task bench`
from environment import REPO_ROOT, fail, server_env

ROUTES = {
    'root': ('GET', '/', ''),
    'users': ('GET', '/users/', 'limit=100'),
    'offset': ('GET', '/users/', 'offset=900&limit=10'),
    'user': ('GET', '/users/500', ''),
    'forbidden': ('DELETE', '/users/{other_id}', ''),
    'me': ('GET', '/users/me', ''),
    'todos': ('GET', '/todos/', 'limit=100'),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'routes', nargs='*', help=f'any of {", ".join(ROUTES)} (all)'
    )
    parser.add_argument('--concurrency', type=int, default=64)
    parser.add_argument('--requests', type=int, default=3000)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--profile', choices=ROUTES)
    args = parser.parse_args(argv)
    unknown = set(args.routes) - set(ROUTES)
    if unknown:
        parser.error(f'unknown routes: {", ".join(sorted(unknown))}')
    return args


async def call(app, request: tuple, body: bytes = b'') -> tuple:
    """One request (method, path, query, headers) through the ASGI app:
    (status, body)."""
    method, path, query, headers = request
    scope = {
        'type': 'http',
        'asgi': {'version': '3.0'},
        'http_version': '1.1',
        'method': method,
        'scheme': 'http',
        'path': path,
        'raw_path': path.encode(),
        'query_string': query.encode(),
        'root_path': '',
        'headers': [(b'host', b'bench'), *headers],
        'client': ('127.0.0.1', 50000),
        'server': ('127.0.0.1', 80),
        'state': {},
    }
    answer = {'status': None, 'body': b''}

    async def receive():
        return {'type': 'http.request', 'body': body, 'more_body': False}

    async def send(message):
        if message['type'] == 'http.response.start':
            answer['status'] = message['status']
        else:
            answer['body'] += message.get('body', b'')

    await app(scope, receive, send)
    return answer['status'], answer['body']


async def log_in(app, email: str, password: str) -> str:
    form = urlencode({'username': email, 'password': password}).encode()
    headers = [(b'content-type', b'application/x-www-form-urlencoded')]
    request = ('POST', '/auth/token', '', headers)
    status, body = await call(app, request, form)
    if status != HTTPStatus.OK:
        fail(f'login failed: {status} {body!r}')
    return json.loads(body)['access_token']


async def time_route(app, request: tuple, args) -> tuple:
    """One round: CPU microseconds per request, the statuses, and each
    request's wall-clock latency in milliseconds."""
    statuses = Counter()
    latencies = []
    per_client = args.requests // args.concurrency

    async def client():
        for _ in range(per_client):
            sent = time.perf_counter()
            status, _body = await call(app, request)
            latencies.append((time.perf_counter() - sent) * 1000)
            statuses[int(status)] += 1

    start = time.process_time()
    await asyncio.gather(*(client() for _ in range(args.concurrency)))
    spent = time.process_time() - start
    return spent / (per_client * args.concurrency) * 1e6, statuses, latencies


def percentile(values: list, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(app, seed, args) -> None:
    token = await log_in(app, seed.emails[0], seed.passwords[0])
    headers = [(b'authorization', f'Bearer {token}'.encode())]
    for key in args.routes or ROUTES:
        method, path, query = ROUTES[key]
        request = (method, path.format(other_id=seed.ids[1]), query, headers)
        await time_route(app, request, args)  # warm-up
        rounds = [
            await time_route(app, request, args) for _ in range(args.repeat)
        ]
        best = min(micros for micros, _, _ in rounds)
        statuses = sum((counts for _, counts, _ in rounds), Counter())
        p50, p99 = (
            statistics.median(percentile(times, q) for _, _, times in rounds)
            for q in (0.50, 0.99)
        )
        print(
            f'{key:10} {best:8.1f} us/request  latency p50 {p50:7.1f} ms '
            f'p99 {p99:7.1f} ms  statuses {dict(statuses)}'
        )
    if args.profile:
        method, path, query = ROUTES[args.profile]
        request = (method, path.format(other_id=seed.ids[1]), query, headers)
        profiler = cProfile.Profile()
        profiler.enable()
        await time_route(app, request, args)
        profiler.disable()
        pstats.Stats(profiler).sort_stats('tottime').print_stats(30)


async def serve(seed, args) -> None:
    from fast_zero.app import app  # noqa: PLC0415 (after the environment)

    async with app.router.lifespan_context(app):
        await measure(app, seed, args)


def run_loop(coroutine) -> None:
    """Run on uvloop, as uvicorn does, when it is installed."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def main(argv=None) -> None:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix='fast_zero-inprocess-'))
    try:
        database_url = f'sqlite+aiosqlite:///{workdir / "bench.db"}'
        env = server_env(database_url)
        seeding.migrate(env)
        seed = seeding.seed_database(database_url, env, workdir)
        # As the bench's server: its settings, and no `.env` read.
        os.environ.update(env)
        os.chdir(workdir)
        sys.path.insert(0, str(REPO_ROOT))
        run_loop(serve(seed, args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
