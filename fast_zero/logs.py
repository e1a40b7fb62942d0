"""Log records: one format for the app's loggers, a request id on each.

The app's loggers (`fast_zero.*`, and SQLAlchemy's, which logs on the
request's behalf) get a handler at start-up when none is configured for
them, so a bare `uvicorn` honours LOG_FORMAT too; nothing touches the root
logger, so pytest's caplog and a course reader's own logging keep working.
Records go through a queue to a thread that writes them: the event loop
never waits on a write to stderr.
"""

import logging
import re
import sys
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from logging.handlers import QueueHandler, QueueListener
from queue import Empty, SimpleQueue
from typing import Any, TextIO

from pydantic_core import to_json

from fast_zero.settings import Settings

# The id of the request being answered; the hashing pool's threads run
# in a copy of the request's context, so they see it too.
request_id_var: ContextVar[str | None] = ContextVar('request_id', default=None)

APP_LOGGERS = ('fast_zero', 'sqlalchemy')
# SQLAlchemy logs statements at INFO and their parameters at DEBUG: a
# password hash or a token key would be among them.
# The pool (ours is a SQLAlchemy pool) logs connections at INFO and DEBUG.
QUIET_LOGGERS = {
    'sqlalchemy.engine': logging.WARNING,
    'sqlalchemy.pool': logging.WARNING,
    'fast_zero.fair_pool': logging.WARNING,
}
UVICORN_ACCESS_LOGGER = 'uvicorn.access'
# How late a log line may reach stderr (BatchWriter).
WRITE_INTERVAL = 0.1

# `token=` in a query string (a reset or verification link): the value is
# a secret, whichever line the URL ends up in.
TOKEN_IN_QUERY = re.compile(r'(token=)[^&\s"\']+', re.IGNORECASE)
REDACTED = r'\1[REDACTED]'


# The writer of the handler `app_logging` installed, while it runs.
running_writer: 'BatchWriter | None' = None


def redact(text: str) -> str:
    if 'token=' not in text.lower():
        return text
    return TOKEN_IN_QUERY.sub(REDACTED, text)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record a handler takes
    (the access record, built later in another thread, carries its own)."""

    @staticmethod
    def filter(record: logging.LogRecord) -> bool:
        if not hasattr(record, 'request_id'):
            record.request_id = request_id_var.get()
        return True


class UtcTimestamps:
    """ISO 8601 UTC times with milliseconds; the part down to the second
    is formatted once per second, not once per record."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._prefix = ''

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime(
                '%Y-%m-%dT%H:%M:%S', time.gmtime(second)
            )
            self._second = second
        return f'{self._prefix}.{int(created % 1 * 1000):03d}Z'


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the
    request id, the record's `fields` (the access record's) and the
    traceback, if any."""

    def __init__(self) -> None:
        super().__init__()
        self.timestamp = UtcTimestamps()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            'time': self.timestamp(record.created),
            'level': record.levelname,
            'logger': record.name,
            'message': redact(record.getMessage()),
        }
        request_id = getattr(record, 'request_id', None)
        if request_id is not None:
            entry['request_id'] = request_id
        fields = getattr(record, 'fields', None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry['traceback'] = redact(self.formatException(record.exc_info))
        # pydantic's serializer (FastAPI's own): a sixth of json.dumps' time.
        return to_json(entry, fallback=str).decode()


class ConsoleFormatter(logging.Formatter):
    """A readable line: time level logger [request id] message key=value."""

    def __init__(self) -> None:
        super().__init__()
        self.timestamp = UtcTimestamps()

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, 'request_id', None) or '-'
        line = (
            f'{self.timestamp(record.created)} {record.levelname:<7} '
            f'{record.name} [{request_id}] {redact(record.getMessage())}'
        )
        fields = getattr(record, 'fields', None)
        if fields:
            line += ''.join(f' {key}={value}' for key, value in fields.items())
        if record.exc_info:
            line += '\n' + redact(self.formatException(record.exc_info))
        return line


FORMATTERS = {'json': JsonFormatter, 'console': ConsoleFormatter}


def build_formatter(log_format: str) -> logging.Formatter:
    return FORMATTERS[log_format]()


class LineQueueHandler(QueueHandler):
    """Queues each record as its formatted line (traceback included)."""

    def prepare(self, record: logging.LogRecord) -> str:
        return self.format(record)

    def handle(self, record: logging.LogRecord) -> bool:
        # No lock: the queue is thread-safe, the formatters keep no state
        # that matters.
        if self.filter(record):
            self.emit(record)
            return True
        return False


# A job for the writer's thread: a function and its arguments.
Job = tuple[Callable[..., None], *tuple[Any, ...]]


class BatchWriter(QueueListener):
    """A thread that writes the queued lines to `stream`, all those
    queued since its last look in one write, every `interval` seconds.

    It polls rather than blocks on the queue: a thread woken by every
    record costs the event loop a GIL hand-off and two context switches
    per record (measured: 80 us per request on one core, more than the
    whole of `GET /`). Lines reach the stream at most `interval` late.

    The queue also takes jobs (`in_writer_thread`): the access records are
    built and formatted here, a batch at a time, rather than on the event
    loop (measured: 11 us less per request, in-process).
    """

    def __init__(
        self,
        queue: SimpleQueue[str | Job],
        stream: TextIO,
        *,
        interval: float,
    ) -> None:
        super().__init__(queue)
        self.lines = queue
        self.stream = stream
        self.interval = interval
        self.batch: list[str] = []

    # The queue holds lines (LineQueueHandler) and jobs, not records.
    def dequeue(self, block: bool) -> str | Job:  # type: ignore[override]
        while True:
            try:
                return self.lines.get_nowait()
            except Empty:
                self.write_batch()
                time.sleep(self.interval)

    def handle(self, item: str | Job) -> None:  # type: ignore[override]
        if isinstance(item, str):
            self.batch.append(item)
        else:
            function, *arguments = item
            function(*arguments)

    def write_batch(self) -> None:
        if self.batch:
            self.stream.write('\n'.join(self.batch) + '\n')
            self.stream.flush()
            self.batch.clear()

    def stop(self) -> None:
        super().stop()
        self.drain()

    def drain(self) -> None:
        """Handle and write what is queued, here and now (the lines of
        the jobs that ran just before the thread stopped, too)."""
        while True:
            try:
                item = self.lines.get_nowait()
            except Empty:
                break
            self.handle(item)
        self.write_batch()


def queued_handler(
    log_format: str, stream: TextIO
) -> tuple[LineQueueHandler, BatchWriter]:
    """A handler that formats a record and queues the line, and the
    listener whose thread writes the lines to `stream`."""
    queue: SimpleQueue[str | Job] = SimpleQueue()
    handler = LineQueueHandler(queue)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(build_formatter(log_format))
    return handler, BatchWriter(queue, stream, interval=WRITE_INTERVAL)


def silence_uvicorn_access_log() -> None:
    """uvicorn writes its access line only while this logger has a handler
    (it asks per connection); the app writes its own."""
    access = logging.getLogger(UVICORN_ACCESS_LOGGER)
    access.handlers = []
    access.propagate = False


@contextmanager
def app_logging(
    settings: Settings, *, stream: TextIO | None = None
) -> Generator[None, None, None]:
    """The app's logging while it runs (the lifespan's).

    Levels always; handlers only for the app's loggers that have none
    (their own or inherited), removed again at the end, after the queued
    lines are written.
    """
    logging.getLogger('fast_zero').setLevel(settings.LOG_LEVEL)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    if settings.ACCESS_LOG:
        silence_uvicorn_access_log()
    bare = [
        logger
        for logger in map(logging.getLogger, APP_LOGGERS)
        if not logger.hasHandlers()
    ]
    with handler_on(bare, settings.log_format, stream or sys.stderr):
        yield


@contextmanager
def handler_on(
    loggers: list[logging.Logger], log_format: str, stream: TextIO
) -> Generator[None, None, None]:
    """One queued handler on `loggers` for a while; at the end, every line
    queued is written."""
    if not loggers:
        yield
        return
    global running_writer  # noqa: PLW0603 (the process's one writer)
    handler, writer = queued_handler(log_format, stream)
    for logger in loggers:
        logger.addHandler(handler)
    writer.start()
    running_writer = writer
    try:
        yield
    finally:
        running_writer = None
        writer.stop()
        for logger in loggers:
            logger.removeHandler(handler)
        writer.drain()


def in_writer_thread(function: Callable[..., None], *arguments: Any) -> None:
    """`function(*arguments)` in the writer's thread, soon, when the app's
    own handler writes the logs; else now."""
    writer = running_writer
    if writer is None:
        function(*arguments)
    else:
        writer.lines.put_nowait((function, *arguments))


def launcher_log_config(settings: Settings) -> dict:
    """uvicorn's and Alembic's loggers in the app's format (for the
    launcher, `fast-zero serve`).

    uvicorn's access log only when the app writes none (ACCESS_LOG=false).
    """
    formatter = f'{__name__}.{FORMATTERS[settings.log_format].__name__}'
    return {
        'version': 1,
        'disable_existing_loggers': False,
        'filters': {'request_id': {'()': f'{__name__}.RequestIdFilter'}},
        'formatters': {'app': {'()': formatter}},
        'handlers': {
            'stderr': {
                'class': 'logging.StreamHandler',
                'stream': 'ext://sys.stderr',
                'formatter': 'app',
                'filters': ['request_id'],
            }
        },
        'loggers': {
            'uvicorn': {
                'handlers': ['stderr'],
                'level': settings.LOG_LEVEL,
                'propagate': False,
            },
            UVICORN_ACCESS_LOGGER: {
                'handlers': [] if settings.ACCESS_LOG else ['stderr'],
                'level': 'INFO',
                'propagate': False,
            },
            # `Running upgrade ...`: what the launcher's migrations did.
            'alembic': {
                'handlers': ['stderr'],
                'level': 'INFO',
                'propagate': False,
            },
        },
    }


class RateLimitedWarning:
    """At most one WARNING per `interval` seconds for one kind of event;
    the next one says how many were suppressed meanwhile.

    For events an attacker can cause at will (a full hashing pool, the
    login limits): the log shows them without being flooded.
    """

    def __init__(
        self,
        logger: logging.Logger,
        message: str,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.message = message
        self.interval = interval
        self.clock = clock
        self.last_logged: float | None = None
        self.suppressed = 0

    def __call__(self) -> None:
        now = self.clock()
        if (
            self.last_logged is not None
            and now - self.last_logged < self.interval
        ):
            self.suppressed += 1
            return
        self.logger.warning(
            self.message, extra={'fields': {'suppressed': self.suppressed}}
        )
        self.last_logged = now
        self.suppressed = 0
