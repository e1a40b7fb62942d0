"""wrk: one load generator per scenario, pinned to core 1, driven by
bench/scenario.lua."""

import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from environment import fail
from scenarios import Scenario
from seeding import Seed

WRK_CORE = '1'
WRK_TIMEOUT = '2s'
SCRIPT = Path(__file__).with_name('scenario.lua')
RESULT_MARKER = 'BENCH_RESULT '
SOCKET_ERRORS = ('connect', 'read', 'write', 'timeout')

WRK_MISSING = (
    'wrk not found: install it with `apt-get install wrk` (Debian/Ubuntu) '
    '— the PyPI package named wrk is unrelated'
)
TASKSET_MISSING = (
    'taskset not found: install it with `apt-get install util-linux`'
)


def check_tools() -> None:
    """Refuse to start without wrk and taskset."""
    if shutil.which('wrk') is None:
        fail(WRK_MISSING)
    if shutil.which('taskset') is None:
        fail(TASKSET_MISSING)


def script_env(scenario: Scenario, token: str, seed: Seed) -> dict:
    """What scenario.lua reads: the request and where to print."""
    headers = {}
    if scenario.token:
        headers['Authorization'] = f'Bearer {token}'
    env = {
        **os.environ,
        'BENCH_METHOD': scenario.method,
        'BENCH_MARKER': RESULT_MARKER,
    }
    if scenario.form:
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
        env['BENCH_BODY'] = urllib.parse.urlencode(scenario.form)
    env['BENCH_HEADERS'] = ''.join(f'{k}: {v}\n' for k, v in headers.items())
    if scenario.spread_ids:
        env['BENCH_ID_PATH'] = scenario.path
        env['BENCH_ID_MIN'], env['BENCH_ID_MAX'] = map(str, seed.id_range)
    return env


def start_wrk(
    scenario: Scenario, base_url: str, env: dict, duration: int
) -> subprocess.Popen:
    """wrk for one scenario, running in the background."""
    path = '/' if scenario.spread_ids else scenario.path
    command = [
        'taskset',
        '-c',
        WRK_CORE,
        'wrk',
        f'-t{scenario.threads}',
        f'-c{scenario.connections}',
        f'-d{duration}s',
        '--timeout',
        WRK_TIMEOUT,
        '-s',
        str(SCRIPT),
        base_url + path,
    ]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a Ctrl-C reaches only bench/run.py
    )


def finish_wrk(process: subprocess.Popen, scenario: Scenario) -> dict:
    """Wait for wrk and turn its result line into this scenario's row."""
    stdout, stderr = process.communicate()
    lines = [
        line[len(RESULT_MARKER) :]
        for line in stdout.splitlines()
        if line.startswith(RESULT_MARKER)
    ]
    if process.returncode or not lines:
        fail(f'wrk failed for {scenario.name}:\n{stdout}\n{stderr}')
    raw = json.loads(lines[-1])
    statuses = {int(code): count for code, count in raw['statuses'].items()}
    seconds = raw['duration_us'] / 1e6
    return {
        'rps': raw['requests'] / seconds,
        'p50_ms': raw['p50_us'] / 1000,
        'p99_ms': raw['p99_us'] / 1000,
        'errors': sum(raw[kind] for kind in SOCKET_ERRORS),
        'socket_errors': {kind: raw[kind] for kind in SOCKET_ERRORS},
        'unexpected': sum(
            count
            for code, count in statuses.items()
            if code not in scenario.expected
        ),
        'statuses': statuses,
    }
