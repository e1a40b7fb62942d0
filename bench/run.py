"""End-to-end benchmark of fast_zero: `task bench` (`python bench/run.py`).

Creates a fresh SQLite database in a temporary directory (or uses the
PostgreSQL database given with `--database-url`), applies the migrations,
seeds 1000 users and 100 todos, starts `uvicorn fast_zero.app:app` and a
bare one-route FastAPI app beside it, and drives both with `wrk`. wrk is
pinned to core 1 and the server to core 0 (`taskset`), so the set-up is the
same from run to run on a two-core machine. Access logs are off.

Prints one table (median of `--runs` runs; error counts are totals over all
runs), writes the same to bench/results/latest.json and checks the targets
of the performance issue. See bench/README.md.
"""

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import report
import scenarios
import seeding
import wrk
from environment import fail, observed_env, server_env

from tests.live_server import UvicornProcess, stop_process

SERVER_CORE = '0'
STARTUP_TIMEOUT_SECONDS = 60
BENCH_DIR = Path(__file__).resolve().parent


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--duration', type=int, default=5, help='seconds per scenario (5)'
    )
    parser.add_argument(
        '--runs', type=int, default=3, help='runs of the scenario set (3)'
    )
    parser.add_argument(
        '--database-url',
        help='benchmark this (empty, e.g. PostgreSQL) database instead of '
        'a fresh SQLite file; it is migrated and seeded, and left so',
    )
    parser.add_argument(
        '--workers',
        type=int,
        default=1,
        help='uvicorn workers (1); with more, the server is not pinned',
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.runs < 1 or args.workers < 1:
        parser.error('--duration, --runs and --workers must be >= 1')
    return args


def start_server(  # noqa: PLR0913 (and the log's name)
    app: str, env: dict, workdir: Path, args, cleanup, *, log_name: str = ''
):
    """uvicorn serving `app`, pinned to core 0 when it has one worker;
    returns once GET / answers. bench/ is on its path (bare_app.py)."""
    server = UvicornProcess(
        app,
        env=env,
        cwd=workdir,  # outside the repository: `.env` is not read
        log_path=workdir / f'{log_name or app.partition(":")[0]}.log',
        options=('--workers', str(args.workers), '--app-dir', str(BENCH_DIR)),
        prefix=('taskset', '-c', SERVER_CORE) if args.workers == 1 else (),
        startup_timeout=STARTUP_TIMEOUT_SECONDS,
    )
    cleanup.callback(server.stop)
    try:
        server.start()
    except RuntimeError as error:
        fail(str(error))
    return server


def log_in(server: UvicornProcess, email: str, password: str) -> str:
    """POST /auth/token; returns the access token."""
    body = urllib.parse.urlencode({'username': email, 'password': password})
    request = urllib.request.Request(
        server.base_url + '/auth/token', data=body.encode(), method='POST'
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)['access_token']
    except urllib.error.HTTPError as error:
        fail(f'logging in as {email} failed: {error.code} {error.read()!r}')


def run_once(plan, loads: dict, args, cleanup, number: int) -> dict:
    """One run of the whole scenario set; returns rows by scenario key.
    `loads`: the base URL and wrk's environment of each scenario."""
    rows = {}
    for group in plan.groups():
        running = []
        for scenario in group:
            base_url, env = loads[scenario.key]
            process = wrk.start_wrk(scenario, base_url, env, args.duration)
            cleanup.callback(stop_process, process)
            running.append((scenario, process))
        for scenario, process in running:
            row = rows[scenario.key] = wrk.finish_wrk(process, scenario)
            print(
                f'  run {number} {scenario.key:>3} {scenario.name:<36}'
                f' {row["rps"]:9.1f} req/s  p99 {row["p99_ms"]:8.2f} ms',
                flush=True,
            )
    report.add_ratios(rows, plan)
    return rows


def benchmark(args, workdir: Path, cleanup) -> None:
    """Set up, run the scenario sets, report."""
    database_url = (
        args.database_url or f'sqlite+aiosqlite:///{workdir / "bench.db"}'
    )
    env = server_env(database_url)
    print('migrating and seeding...', flush=True)
    seeding.migrate(env)
    seed = seeding.seed_database(database_url, env, workdir)
    print('starting the servers...', flush=True)
    bare = start_server('bare_app:app', env, workdir, args, cleanup)
    server = start_server('fast_zero.app:app', env, workdir, args, cleanup)
    observed = start_server(
        'fast_zero.app:app',
        observed_env(env),
        workdir,
        args,
        cleanup,
        log_name='observed',
    )
    token = log_in(server, seed.emails[0], seed.passwords[0])
    plan = scenarios.plan(
        other_id=seed.ids[1],
        login_form={'username': seed.emails[2], 'password': seed.passwords[2]},
    )
    loads = {
        s.key: (
            (bare if s.bare else observed if s.observed else server).base_url,
            wrk.script_env(s, token, seed),
        )
        for s in plan.all()
    }
    runs = [
        run_once(plan, loads, args, cleanup, number)
        for number in range(1, args.runs + 1)
    ]
    rss = report.peak_rss_kib(server.process.pid)
    report.report(args, seed, runs, plan, rss)


def main(argv=None) -> None:
    """Entry point: cleans up servers and the temporary directory on any
    exit, Ctrl-C and SIGTERM included."""
    args = parse_args(argv)
    wrk.check_tools()
    # SIGTERM unwinds like Ctrl-C, through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with contextlib.ExitStack() as cleanup:
        workdir = Path(
            cleanup.enter_context(
                tempfile.TemporaryDirectory(
                    prefix='fast_zero-bench-', ignore_cleanup_errors=True
                )
            )
        )
        try:
            benchmark(args, workdir, cleanup)
        except KeyboardInterrupt:
            sys.exit('bench: interrupted')


if __name__ == '__main__':
    main()
