"""Every query of the service, and the shape of the rows it returns.

Routers call the functions below by name; none writes SQL of its own.

Hot paths run statements built once, at import, with their values bound
per call (`bindparam`): composing a select and computing its cache key
cost more per request than running it on SQLite (measured with
`task bench`), and a prebuilt statement keeps its key. They select table
columns (Core), not ORM entities: no per-row object to load. Rows leave
this module typed: a single row as a NamedTuple, a list page as plain
dicts (a TypedDict), which pydantic validates and serializes several
times faster than rows or objects.
"""

from __future__ import annotations

import hmac
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Select, Table, bindparam, delete, or_, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# pydantic reads TypedDicts (TodoPage) only from typing_extensions before
# Python 3.12.
from typing_extensions import TypedDict

from fast_zero.migration_state import is_missing_schema_error
from fast_zero.models import WITHOUT_TODOS, Todo, User, new_token_key

if TYPE_CHECKING:
    from fast_zero.schemas import FilterTodo
    from fast_zero.security import TokenClaims

# mypy cannot see the `__table__` that mapping adds to a dataclass.
users: Table = User.__table__  # type: ignore[attr-defined]
todos: Table = Todo.__table__  # type: ignore[attr-defined]


class Caller(NamedTuple):
    """Who calls, for routes that need no ORM object (45 us less)."""

    id: int
    username: str
    email: str
    token_key: str


class PublicUser(NamedTuple):
    id: int
    username: str
    email: str


class PublicUserRow(TypedDict):
    """A user of a directory page."""

    id: int
    username: str
    email: str


class TodoRow(TypedDict):
    """A todo of a list page, as read from the table."""

    id: int
    title: str
    description: str
    state: str


class TodoPage(TypedDict):
    """TodoList's JSON, written from rows without re-validating them."""

    todos: list[TodoRow]


# Sessions and tokens.

CURRENT_USER_QUERY = (
    select(User).options(*WITHOUT_TODOS).where(User.id == bindparam('user_id'))
)
CALLER_QUERY = select(
    users.c.id, users.c.username, users.c.email, users.c.token_key
).where(users.c.id == bindparam('user_id'))


def is_current_key(token_key: str, claims: TokenClaims) -> bool:
    """Whether the token carries the user's current key.

    The key rotates whenever every session ends (`end_every_session`) and
    is new for each account: a token issued before then is refused, and
    one can never act as a later account that reuses a freed id.
    """
    return hmac.compare_digest(claims.token_key, token_key)


async def find_current_user(
    *, session: AsyncSession, claims: TokenClaims
) -> User | None:
    """The user the claims name, as an ORM object (for routes that change
    it), if the token's key is still theirs; else None."""
    user = await session.scalar(
        CURRENT_USER_QUERY, {'user_id': claims.user_id}
    )
    if user is None or not is_current_key(user.token_key, claims):
        return None
    return user


async def find_caller(
    *, session: AsyncSession, claims: TokenClaims
) -> Caller | None:
    """The user the claims name, if the token's key is still theirs."""
    rows = await session.execute(CALLER_QUERY, {'user_id': claims.user_id})
    row = rows.first()
    if row is None or not is_current_key(row.token_key, claims):
        return None
    return Caller._make(row)


async def end_every_session(*, session: AsyncSession, user: User) -> None:
    """Revoke every token issued to the user so far.

    The one place that changes `users.token_key`. The caller commits, in
    the transaction of the change that ends the sessions (a new password,
    a logout), so both happen or neither.
    """
    user.token_key = new_token_key()
    session.add(user)


# Users.

PUBLIC_USER_COLUMNS = (users.c.id, users.c.username, users.c.email)
USERS_PAGE_QUERY = (
    select(*PUBLIC_USER_COLUMNS)
    .order_by(users.c.id)
    .offset(bindparam('offset'))
    .limit(bindparam('limit'))
)
PUBLIC_USER_QUERY = select(*PUBLIC_USER_COLUMNS).where(
    users.c.id == bindparam('user_id')
)


async def users_page(
    *, session: AsyncSession, offset: int, limit: int
) -> list[PublicUserRow]:
    rows = await session.execute(
        USERS_PAGE_QUERY, {'offset': offset, 'limit': limit}
    )
    return [
        {'id': id_, 'username': username, 'email': email}
        for id_, username, email in rows.all()
    ]


async def public_user(
    *, session: AsyncSession, user_id: int
) -> PublicUser | None:
    rows = await session.execute(PUBLIC_USER_QUERY, {'user_id': user_id})
    row = rows.first()
    return None if row is None else PublicUser._make(row)


async def get_user_by_email(
    *, session: AsyncSession, email: str
) -> User | None:
    if '\x00' in email:
        # No stored email has a NUL, and PostgreSQL text cannot hold one.
        return None
    return await session.scalar(select(User).where(User.email == email))


async def find_taken_field(
    *,
    session: AsyncSession,
    username: str,
    email: str,
    exclude_user_id: int | None = None,
) -> str | None:
    """'username' or 'email' if another user already has it, else None."""
    query = select(User.username).where(
        or_(User.username == username, User.email == email)
    )
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    # At most two rows: usernames and emails are each unique.
    usernames = (await session.scalars(query)).all()
    if username in usernames:
        return 'username'
    return 'email' if usernames else None


async def delete_account(*, session: AsyncSession, user_id: int) -> None:
    """Delete the user and everything that is theirs, and commit.

    The foreign keys cascade, but the dependents are deleted here too:
    engines built outside `build_engine` (course readers' conftests) run
    SQLite with foreign keys off, and SQLite reuses the highest freed id,
    so a later account would inherit the todos left behind.
    """
    await session.execute(delete(Todo).where(Todo.user_id == user_id))
    await session.execute(delete(User).where(User.id == user_id))
    await session.commit()


# Todos.

LIKE_ESCAPE = '/'


@cache
def todo_page_query(
    *, title: bool, description: bool, state: bool
) -> Select[int, str, str, str]:
    """The list query for one combination of filters (built once each).

    It also checks the token's key (joining the user), so a page with
    todos needs no other query. (A plain SQL comparison suffices: the key
    travels in a signed token, so it cannot be probed without the secret.)
    """
    columns = todos.c
    query = (
        select(columns.id, columns.title, columns.description, columns.state)
        .join(users, users.c.id == columns.user_id)
        .where(
            columns.user_id == bindparam('user_id'),
            users.c.token_key == bindparam('token_key'),
        )
    )
    if title:
        query = query.where(
            columns.title.icontains(bindparam('title'), escape=LIKE_ESCAPE)
        )
    if description:
        query = query.where(
            columns.description.icontains(
                bindparam('description'), escape=LIKE_ESCAPE
            )
        )
    if state:
        query = query.where(columns.state == bindparam('state'))
    return (
        query
        .order_by(columns.id)
        .offset(bindparam('offset'))
        .limit(bindparam('limit'))
    )


def like_literal(value: str) -> str:
    """`value` with LIKE's wildcards escaped: it matches only itself."""
    for special in (LIKE_ESCAPE, '%', '_'):
        value = value.replace(special, LIKE_ESCAPE + special)
    return value


async def todo_page(
    *, session: AsyncSession, claims: TokenClaims, filters: FilterTodo
) -> TodoPage | None:
    """One page of the caller's todos, in id order; None if the token's
    key is no longer the user's (or the user is gone)."""
    query = todo_page_query(
        title=filters.title is not None,
        description=filters.description is not None,
        state=filters.state is not None,
    )
    rows = await session.execute(
        query,
        {
            'user_id': claims.user_id,
            'token_key': claims.token_key,
            'title': like_literal(filters.title or ''),
            'description': like_literal(filters.description or ''),
            'state': filters.state,
            'offset': filters.offset,
            'limit': filters.limit,
        },
    )
    page: list[TodoRow] = [
        {'id': id_, 'title': title, 'description': about, 'state': state}
        for id_, title, about, state in rows.all()
    ]
    # A page with todos proved the key; an empty one may also mean a
    # revoked token: checked apart.
    if not page and await find_caller(session=session, claims=claims) is None:
        return None
    return {'todos': page}


async def find_own_todo(
    *, session: AsyncSession, todo_id: int, user_id: int
) -> Todo | None:
    return await session.scalar(
        select(Todo).where(Todo.id == todo_id, Todo.user_id == user_id)
    )


async def delete_own_todo(
    *, session: AsyncSession, todo_id: int, user_id: int
) -> bool:
    """Delete the user's todo and commit; False if they have none so."""
    deleted = await session.scalar(
        delete(Todo)
        .where(Todo.id == todo_id, Todo.user_id == user_id)
        .returning(Todo.id)
    )
    if deleted is None:
        return False
    await session.commit()
    return True


# Health and the launcher.

MIGRATION_REVISION_QUERY = text('SELECT version_num FROM alembic_version')


async def database_revision(
    connection: AsyncSession | AsyncConnection,
) -> str | None:
    """The Alembic revision recorded in the database (one round trip);
    None if it has none. Other database errors (unreachable...) raise."""
    try:
        return (await connection.execute(MIGRATION_REVISION_QUERY)).scalar()
    except DBAPIError as error:
        if is_missing_schema_error(error):
            return None  # never migrated: no alembic_version table
        raise
