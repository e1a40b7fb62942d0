"""The `fast-zero` command: serve the API, migrate its database, and
manage accounts (create-user, set-active, set-superuser: admin_cli.py).

`fast-zero serve` (what `task run` runs) refuses to start, with one line
on stderr and exit code 1, when the settings are invalid or the database
cannot be brought to the migrations' head; otherwise it migrates and
serves. Bare `uvicorn` / `fastapi run` check nothing at start: they answer
503 where the schema is not at head (fast_zero/errors.py).
"""

import asyncio
import os
import tempfile
import threading
from logging.config import dictConfig
from pathlib import Path
from typing import Annotated, NoReturn

import typer
import uvicorn
from alembic import command
from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from fast_zero.admin_cli import accounts
from fast_zero.migration_state import (
    SchemaState,
    alembic_config,
    schema_state,
)
from fast_zero.refusals import InvalidSettings, refusal

APP_IMPORT_STRING = 'fast_zero.app:app'
# Where several workers keep their metrics (prometheus_client).
METRICS_DIRECTORY = 'PROMETHEUS_MULTIPROC_DIR'
UPGRADE_COMMAND = 'alembic upgrade head'
THREAD_JOIN_SECONDS = 5

app = typer.Typer(
    name='fast-zero',
    help='Serve the fast_zero API and manage its database.',
    no_args_is_help=True,
    add_completion=False,
    # Typer would print every local variable of a traceback: secrets too.
    pretty_exceptions_show_locals=False,
)
app.add_typer(accounts)


def say(line: str) -> None:
    typer.echo(line, err=True)


def refuse(setting: str, rule: str, fix: str) -> NoReturn:
    say(refusal(setting, rule, fix))
    raise typer.Exit(code=1)


def database_url() -> str:
    """DATABASE_URL, once every setting is known to be valid."""
    try:
        # Imported here: the settings are read (and refused) on import.
        from fast_zero.settings import settings  # noqa: PLC0415
    except InvalidSettings as error:
        for line in error.refusals:
            say(line)
        raise typer.Exit(code=1) from None
    url = settings.DATABASE_URL
    say(f'fast_zero: database: {make_url(url).render_as_string()}')
    return url


def first_line(error: Exception) -> str:
    """What went wrong, without SQLAlchemy's statement and parameters."""
    reason = error.orig if isinstance(error, DBAPIError) else error
    return (str(reason).strip().splitlines() or [type(reason).__name__])[0]


def read_revision(url: str) -> str | None:
    # Imported here: these modules read the settings on import.
    from fast_zero.crud import database_revision  # noqa: PLC0415
    from fast_zero.database import build_engine  # noqa: PLC0415

    async def read() -> str | None:
        threads_before = set(threading.enumerate())
        engine = build_engine(url, pooled=False)
        try:
            async with engine.connect() as connection:
                return await database_revision(connection)
        finally:
            await engine.dispose()
            # aiosqlite ends the thread of a connection that failed to open
            # later, answering to this loop: closed by then, the thread
            # would print a traceback under the refusal's one line.
            for thread in set(threading.enumerate()) - threads_before:
                await asyncio.to_thread(thread.join, THREAD_JOIN_SECONDS)

    try:
        return asyncio.run(read())
    except (OSError, SQLAlchemyError) as error:
        refuse(
            'DATABASE_URL',
            f'the database does not answer ({first_line(error)})',
            'check DATABASE_URL and that the database is running',
        )


def use_app_log_format() -> None:
    """uvicorn's and Alembic's loggers in the app's format (LOG_FORMAT),
    rather than alembic.ini's, which would put a handler on the root
    logger and keep the app from setting up its own (fast_zero/logs.py)."""
    # Imported here: these modules read the settings on import.
    from fast_zero.logs import launcher_log_config  # noqa: PLC0415
    from fast_zero.settings import settings  # noqa: PLC0415

    dictConfig(launcher_log_config(settings))


def empty_metrics_directory(workers: int | None) -> None:
    """An empty PROMETHEUS_MULTIPROC_DIR before the workers start (files of
    an earlier run would add to this one's); with several workers and no
    such directory, a new temporary one.

    Before anything imports fast_zero.metrics: its files, made at import,
    would be removed.
    """
    directory = os.environ.get(METRICS_DIRECTORY)
    if directory is None:
        if (workers or 1) == 1:
            return
        directory = tempfile.mkdtemp(prefix='fast_zero-metrics-')
        os.environ[METRICS_DIRECTORY] = directory
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    # prometheus_client's files only, whatever else the directory holds.
    for values in path.glob('*.db'):
        values.unlink()


def upgrade_to_head(url: str) -> None:
    """`alembic upgrade head` through the project's alembic.ini (its
    logging set up by the launcher: `use_app_log_format`)."""
    config = alembic_config(url)
    config.attributes['configure_logger'] = False
    try:
        command.upgrade(config, 'head')
    except (OSError, SQLAlchemyError, CommandError) as error:
        refuse(
            'DATABASE_URL',
            f'the migrations failed ({first_line(error)})',
            f'fix the database, then run {UPGRADE_COMMAND}',
        )


def refuse_unknown_revision(revision: str | None) -> NoReturn:
    refuse(
        'DATABASE_URL',
        f'the database is at revision {revision}, which this code does not '
        'know (a newer release migrated it)',
        'migrate it with that release',
    )


@app.command()
def migrate() -> None:
    """Apply every migration (alembic upgrade head)."""
    url = database_url()
    use_app_log_format()
    revision = read_revision(url)
    if schema_state(revision) == SchemaState.AHEAD:
        refuse_unknown_revision(revision)
    upgrade_to_head(url)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help='Address to listen on.')] = (
        '127.0.0.1'
    ),
    port: Annotated[int, typer.Option(help='Port to listen on.')] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            envvar='WEB_CONCURRENCY',
            help='Worker processes (default: WEB_CONCURRENCY, else 1).',
            min=1,
        ),
    ] = None,
) -> None:
    """Check the settings, migrate the database, then serve the API."""
    url = database_url()
    empty_metrics_directory(workers)
    use_app_log_format()
    prepare_database(url)
    from fast_zero.logs import launcher_log_config  # noqa: PLC0415
    from fast_zero.settings import settings  # noqa: PLC0415

    uvicorn.run(
        APP_IMPORT_STRING,
        host=host,
        port=port,
        workers=workers,
        log_config=launcher_log_config(settings),
        # The app writes its own access record when ACCESS_LOG is on.
        access_log=not settings.ACCESS_LOG,
    )


def prepare_database(url: str) -> None:
    """Migrate a database behind the head; serve one ahead, warning."""
    revision = read_revision(url)
    state = schema_state(revision)
    if state == SchemaState.AHEAD:
        # A newer release migrated it (a rolling deploy, a rollback of the
        # code): refusing would take the service down.
        say(
            f'fast_zero: WARNING: the database is at revision {revision}, '
            'which this code does not know (a newer release migrated it); '
            'serving anyway'
        )
    elif state == SchemaState.PENDING:
        upgrade_to_head(url)
