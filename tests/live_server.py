"""The service as it runs in production: uvicorn in a process of its own.

For tests that need real connections, real concurrency and a process that
can be killed: migrations through the `alembic` command, the server through
the `uvicorn` command, both on the given database and the environment of
the tests (cheap Argon2, from tests/__init__.py).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 30
SHUTDOWN_TIMEOUT_SECONDS = 10
MIGRATION_TIMEOUT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.05

# Limits that would turn a crowd of test clients from one address into
# refusals: empty disables them (Settings).
DISABLED_LIMITS = {
    'LOGIN_RATE_LIMIT_PER_EMAIL': '',
    'LOGIN_RATE_LIMIT_PER_ADDRESS': '',
}
# What a healthy server never writes to its log.
LOG_ALARMS = ('Traceback', 'database is locked')
ALARM_EXCERPT_LINES = 40


def server_environment(database_url: str, settings: dict) -> dict:
    return {
        **os.environ,
        **DISABLED_LIMITS,
        'DATABASE_URL': database_url,
        'ENVIRONMENT': 'development',
        **settings,
    }


def migrate(database_url: str) -> None:
    """`alembic upgrade head`, as an operator runs it before starting."""
    migration = subprocess.run(
        [sys.executable, '-m', 'alembic', 'upgrade', 'head'],
        check=False,  # failure raises below, with alembic's own message
        cwd=REPO_ROOT,
        env=server_environment(database_url, {}),
        capture_output=True,
        text=True,
        timeout=MIGRATION_TIMEOUT_SECONDS,
    )
    if migration.returncode:
        raise RuntimeError(f'alembic upgrade head failed:\n{migration.stderr}')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class LiveServer:
    """One uvicorn process on a free port, its stderr kept in a file.

    Every start writes to the same log, so `first_alarm` covers the server's
    whole life, restarts included. `settings`: environment variables read
    by Settings, over the tests' own.
    """

    def __init__(self, database_url: str, log_path: Path, *, settings: dict):
        self.database_url = database_url
        self.log_path = log_path
        self.settings = settings
        self.process: subprocess.Popen | None = None
        self.base_url = ''

    def start(self) -> None:
        port = free_port()
        self.base_url = f'http://127.0.0.1:{port}'
        with self.log_path.open('ab') as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    '-m',
                    'uvicorn',
                    'fast_zero.app:app',
                    '--host',
                    '127.0.0.1',
                    '--port',
                    str(port),
                    '--no-access-log',
                ],
                cwd=REPO_ROOT,
                env=server_environment(self.database_url, self.settings),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.wait_until_answering()

    def wait_until_answering(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f'uvicorn exited with {self.process.returncode}:\n'
                    f'{self.log()}'
                )
            try:
                with urllib.request.urlopen(self.base_url, timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(POLL_INTERVAL_SECONDS)
        self.kill()
        raise RuntimeError(
            f'uvicorn did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n'
            f'{self.log()}'
        )

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would end it."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Shut down as `docker stop` would: SIGTERM, SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def first_alarm(self) -> str:
        """The log from its first alarming line on, a screenful; '' if
        the server never wrote one."""
        lines = self.log().splitlines()
        for number, line in enumerate(lines):
            if any(alarm in line for alarm in LOG_ALARMS):
                return '\n'.join(lines[number : number + ALARM_EXCERPT_LINES])
        return ''
