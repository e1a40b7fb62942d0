"""Where the benchmark's programs run: the repository, the servers'
environment, and how a step that goes wrong stops the benchmark."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# For tests/live_server.py, the process helper the bench shares with the
# live-server tests (importing `tests` sets their cheap Argon2 defaults in
# this process's environment, which server_env leaves out).
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

# Environment variables passed through to the servers; everything else is
# left out, so no setting of the caller's shell (a cheap ARGON2_* cost, a
# private users directory...) changes what is measured. The FAST_ZERO_STOCK_*
# switches are for measuring a project component against SQLAlchemy's own
# (bench/README.md).
PASSED_ENV = (
    'PATH',
    'HOME',
    'LANG',
    'LC_ALL',
    'TMPDIR',
    'VIRTUAL_ENV',
    'FAST_ZERO_STOCK_SQLITE_DRIVER',
    'FAST_ZERO_STOCK_POOL',
)
PASSED_ENV_PREFIXES = ('PG',)  # libpq: PGPASSWORD, PGSSLMODE...


def fail(message: str) -> None:
    """Stop the benchmark with a message (cleanup still runs)."""
    raise SystemExit(f'bench: {message}')


def server_env(database_url: str) -> dict:
    """A clean environment for the servers: production hashing strength
    (the Settings defaults), development mode, no login rate limits, and
    access logs and metrics off (DESIGN J; `observed_env` turns them on)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in PASSED_ENV or name.startswith(PASSED_ENV_PREFIXES)
    }
    env.update({
        'PYTHONPATH': str(REPO_ROOT),
        'DATABASE_URL': database_url,
        'ENVIRONMENT': 'development',
        'LOGIN_RATE_LIMIT_PER_EMAIL': '',
        'LOGIN_RATE_LIMIT_PER_ADDRESS': '',
        'ACCESS_LOG': 'false',
        'METRICS_ENABLED': 'false',
    })
    return env


def observed_env(env: dict) -> dict:
    """`env` with the access log (JSON, as in production) and metrics on."""
    return {
        **env,
        'ACCESS_LOG': 'true',
        'METRICS_ENABLED': 'true',
        'LOG_FORMAT': 'json',
    }


def run_python(args: list, *, what: str, **options) -> str:
    """Run this interpreter with `args`; its stdout, or fail naming `what`."""
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=False,
        **options,
    )
    if result.returncode:
        fail(f'{what} failed:\n{result.stderr}')
    return result.stdout
