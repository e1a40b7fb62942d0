"""The service as it runs in production: uvicorn in a process of its own.

For tests that need real connections, real concurrency and a process that
can be killed: migrations through the `alembic` command, the server through
the `uvicorn` command, both on the given database and the environment of
the tests (cheap Argon2, from tests/__init__.py). `UvicornProcess` and
`stop_process` also start and stop `task bench`'s servers (bench/).
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
# The live-server tests measure the service, not its observability
# (DESIGN J): a test that needs them sets them back on.
OBSERVABILITY_OFF = {'ACCESS_LOG': 'false', 'METRICS_ENABLED': 'false'}
# What a healthy server never writes to its log.
LOG_ALARMS = ('Traceback', 'database is locked')
ALARM_EXCERPT_LINES = 40


def server_environment(database_url: str, settings: dict) -> dict:
    return {
        **os.environ,
        **DISABLED_LIMITS,
        **OBSERVABILITY_OFF,
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


def stop_process(process: subprocess.Popen) -> None:
    """Shut down as `docker stop` would: SIGTERM, SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class UvicornProcess:
    """`uvicorn app` on a free port of 127.0.0.1, its output in a log file.

    The process helper of the live-server tests and of `task bench`:
    `options` go to uvicorn after the host, port and `--no-access-log`;
    `prefix` comes before the interpreter (`taskset -c 0`). The process
    runs in a session of its own, so a Ctrl-C reaches only the caller,
    which stops it. Every start appends to the same log.
    """

    def __init__(  # noqa: PLR0913 (a command line has that many parts)
        self,
        app: str,
        *,
        env: dict,
        cwd: Path,
        log_path: Path,
        options: tuple = (),
        prefix: tuple = (),
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ):
        self.app = app
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.options = options
        self.prefix = prefix
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.base_url = ''

    def start(self) -> None:
        port = free_port()
        self.base_url = f'http://127.0.0.1:{port}'
        with self.log_path.open('ab') as log:
            self.process = subprocess.Popen(
                [
                    *self.prefix,
                    sys.executable,
                    '-m',
                    'uvicorn',
                    self.app,
                    '--host',
                    '127.0.0.1',
                    '--port',
                    str(port),
                    '--no-access-log',
                    *self.options,
                ],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_until_answering()

    def wait_until_answering(self) -> None:
        """Poll GET / until it answers; RuntimeError with the log if the
        process exits or the time runs out."""
        deadline = time.monotonic() + self.startup_timeout
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
            f'uvicorn did not answer within {self.startup_timeout} s:\n'
            f'{self.log()}'
        )

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would end it."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')


class LiveServer(UvicornProcess):
    """The service on `database_url`, in the environment of the tests.

    `settings`: environment variables read by Settings, over the tests'
    own. `first_alarm` covers the server's whole life, restarts included.
    """

    def __init__(self, database_url: str, log_path: Path, *, settings: dict):
        super().__init__(
            'fast_zero.app:app',
            env=server_environment(database_url, settings),
            cwd=REPO_ROOT,
            log_path=log_path,
        )
        self.database_url = database_url

    def first_alarm(self) -> str:
        """The log from its first alarming line on, a screenful; '' if
        the server never wrote one."""
        lines = self.log().splitlines()
        for number, line in enumerate(lines):
            if any(alarm in line for alarm in LOG_ALARMS):
                return '\n'.join(lines[number : number + ALARM_EXCERPT_LINES])
        return ''
