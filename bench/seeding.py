"""The benchmark's database: migrated, then 1000 users and 100 todos.

One seeder for every backend, through SQLAlchemy's synchronous engine. It
reads the tables' columns, fills `created_at`/`updated_at` with
CURRENT_TIMESTAMP and refuses to guess any other required column.
"""

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from environment import REPO_ROOT, fail, run_python
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

USER_COUNT = 1000
TODO_COUNT = 100
TODO_STATES = ('draft', 'todo', 'doing', 'done', 'trash')
# Users 1-3 get real passwords: 1 holds the token and the todos, 2 is the
# other user of the 403 scenario, 3 is the one the login storm logs in as.
REAL_USERS = 3
TIMESTAMP_COLUMNS = ('created_at', 'updated_at')
HASH_SCRIPT = Path(__file__).with_name('hash_passwords.py')
# Seeding needs no event loop: the synchronous driver of each backend.
SYNC_DRIVERS = {
    'aiosqlite': 'pysqlite',
    'asyncpg': 'psycopg',
    'psycopg_async': 'psycopg',
    'aiomysql': 'pymysql',
    'asyncmy': 'pymysql',
}


@dataclass
class Seed:
    """What the scenarios need to know about the seeded database."""

    emails: list
    passwords: list
    ids: list  # ids of the users with real passwords
    database_url: str
    id_range: tuple
    argon2: str  # the parameters field of the production hash


def migrate(env: dict) -> None:
    """`alembic upgrade head` against the benchmark's database."""
    run_python(
        ['-m', 'alembic', 'upgrade', 'head'],
        what='alembic upgrade head',
        cwd=REPO_ROOT,
        env=env,
    )


def hash_passwords(passwords: list, env: dict, workdir: Path) -> list:
    """Hash with the service's own code and settings, in the servers'
    environment (and outside the repository, so `.env` is not read)."""
    hashes = run_python(
        [str(HASH_SCRIPT)],
        what='hashing the seed passwords',
        input=json.dumps(passwords),
        cwd=workdir,
        env=env,
    )
    return json.loads(hashes)


def insert_statement(table: str, columns: list, given: list) -> str:
    """INSERT of the `given` columns (as :name parameters), plus
    CURRENT_TIMESTAMP in timestamp columns; refuses a required column it
    does not know how to fill.

    `columns` is (name, required) pairs, required meaning NOT NULL, no
    default and not the primary key.
    """
    names, placeholders = [], []
    for name, required in columns:
        if name in given:
            names.append(name)
            placeholders.append(f':{name}')
        elif name in TIMESTAMP_COLUMNS:
            names.append(name)
            placeholders.append('CURRENT_TIMESTAMP')
        elif required:
            fail(
                f'cannot seed {table}: column {name} is NOT NULL without '
                'a default; teach bench/seeding.py (seed_rows) about it'
            )
    return (
        f'INSERT INTO {table} ({", ".join(names)}) '
        f'VALUES ({", ".join(placeholders)})'
    )


def seed_rows(hashes: list) -> tuple:
    """The users (real passwords first) and the todos of user 1."""
    users = [
        {
            'username': f'user{number:04d}',
            'email': f'user{number:04d}@example.com',
            'password': hashes[min(number, REAL_USERS + 1) - 1],
            'token_key': secrets.token_hex(16),
        }
        for number in range(1, USER_COUNT + 1)
    ]
    todos = [
        {
            'title': f'Todo {number:03d}',
            'description': f'Description of todo number {number}',
            'state': TODO_STATES[number % len(TODO_STATES)],
        }
        for number in range(1, TODO_COUNT + 1)
    ]
    return users, todos


def sync_url(url: str):
    """The URL with a synchronous driver."""
    url = make_url(url)
    driver = SYNC_DRIVERS.get(url.get_driver_name(), url.get_driver_name())
    return url.set(drivername=f'{url.get_backend_name()}+{driver}')


def insert_statements(engine, users: list, todos: list) -> dict:
    """The INSERT of each table, for the columns the seed rows give."""
    inspector = inspect(engine)
    given = {'users': list(users[0]), 'todos': [*todos[0], 'user_id']}
    statements = {}
    for table, names in given.items():
        primary = inspector.get_pk_constraint(table)['constrained_columns']
        columns = [
            (
                column['name'],
                not column['nullable']
                and column.get('default') is None
                and column['name'] not in primary,
            )
            for column in inspector.get_columns(table)
        ]
        statements[table] = insert_statement(table, columns, names)
    return statements


def insert_rows(url: str, users: list, todos: list) -> dict:
    """Insert the users, and the todos for the first one; returns the
    users' ids by email."""
    engine = create_engine(sync_url(url))
    try:
        statements = insert_statements(engine, users, todos)
        with engine.begin() as connection:
            if connection.scalar(text('SELECT count(*) FROM users')):
                fail('the database already has users: give it an empty one')
            connection.execute(text(statements['users']), users)
            ids = dict(
                connection.execute(text('SELECT email, id FROM users')).all()
            )
            owner = ids[users[0]['email']]
            connection.execute(
                text(statements['todos']),
                [{**todo, 'user_id': owner} for todo in todos],
            )
    finally:
        engine.dispose()
    return ids


def seed_database(database_url: str, env: dict, workdir: Path) -> Seed:
    """Fill the migrated database: 1000 users, 100 todos for user 1."""
    passwords = [f'bench-password-{n}' for n in range(1, REAL_USERS + 1)]
    # One more hash, shared by all the users nobody logs in as.
    hashes = hash_passwords([*passwords, 'never-used'], env, workdir)
    users, todos = seed_rows(hashes)
    ids = insert_rows(database_url, users, todos)
    emails = [user['email'] for user in users[:REAL_USERS]]
    return Seed(
        emails=emails,
        database_url=database_url,
        passwords=passwords,
        ids=[ids[email] for email in emails],
        id_range=(min(ids.values()), max(ids.values())),
        argon2=hashes[0].split('$')[3],
    )
