import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_engine_from_config

from fast_zero.database import configure_sqlite, is_sqlite
from fast_zero.models import table_registry
from fast_zero.settings import Settings

config = context.config

# A URL set by the caller (e.g. tests, on the Config object) wins over
# the settings, which read DATABASE_URL from the environment and `.env`.
if not config.get_main_option('sqlalchemy.url'):
    config.set_main_option(
        'sqlalchemy.url', Settings().DATABASE_URL.replace('%', '%%')
    )

if config.config_file_name is not None and config.attributes.get(
    'configure_logger', True
):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = table_registry.metadata


def migration_options(url: str) -> dict:
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    return {
        'target_metadata': target_metadata,
        'render_as_batch': is_sqlite(url),
    }


def run_migrations_offline() -> None:
    url = config.get_main_option('sqlalchemy.url')
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={'paramstyle': 'named'},
        **migration_options(url),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        **migration_options(str(connection.engine.url)),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connectable = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix='sqlalchemy.',
        poolclass=pool.NullPool,
    )
    if is_sqlite(str(connectable.url)):
        configure_sqlite(
            connectable, busy_timeout_ms=30_000, foreign_keys=False
        )

    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)

    await connectable.dispose()


def run_migrations_online() -> None:
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
