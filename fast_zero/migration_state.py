"""Whether a database's schema is the one this code expects (Alembic head).

The launcher (fast_zero/cli.py) checks before serving; under bare uvicorn,
/health reports it and a request that meets a missing table or column
answers 503 (fast_zero/errors.py) instead of a 500.
"""

import enum
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

# The checkout's alembic.ini: the service runs from its checkout (DESIGN G).
ALEMBIC_INI = Path(__file__).resolve().parent.parent / 'alembic.ini'

NOT_AT_HEAD = (
    'Database schema is not at the Alembic head: run alembic upgrade head'
)

# What PostgreSQL answers for a table or column that does not exist.
UNDEFINED_TABLE = '42P01'
UNDEFINED_COLUMN = '42703'
# What SQLite says, in the same cases.
SQLITE_MISSING_SCHEMA = ('no such table', 'no such column', 'has no column')


class SchemaState(enum.StrEnum):
    AT_HEAD = 'ok'
    # No revision, or an older one: `alembic upgrade head` brings it here.
    PENDING = 'pending'
    # A revision this code does not know: a newer release migrated it.
    AHEAD = 'ahead'


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic configuration, on `url` if given."""
    config = Config(ALEMBIC_INI)
    if url is not None:
        config.set_main_option('sqlalchemy.url', url.replace('%', '%%'))
    return config


@cache
def known_revisions() -> tuple[str | None, frozenset[str]]:
    """The head and every revision of this code's migrations (read once)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    revisions = frozenset(
        script.revision for script in scripts.walk_revisions()
    )
    return scripts.get_current_head(), revisions


def schema_state(revision: str | None) -> SchemaState:
    head, revisions = known_revisions()
    if revision == head:
        return SchemaState.AT_HEAD
    if revision is None or revision in revisions:
        return SchemaState.PENDING
    return SchemaState.AHEAD


def is_missing_schema_error(error: DBAPIError) -> bool:
    """Whether the database says a table or column does not exist."""
    sqlstate = getattr(error.orig, 'sqlstate', None)
    if sqlstate is not None:
        return sqlstate in {UNDEFINED_TABLE, UNDEFINED_COLUMN}
    message = str(error.orig)
    return any(marker in message for marker in SQLITE_MISSING_SCHEMA)
