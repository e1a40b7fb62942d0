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
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, NamedTuple, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

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
    is_superuser: bool


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

# The token check: a deactivated user's tokens are refused by the same
# statement, at once, on every worker.
CURRENT_USER_QUERY = (
    select(User)
    .options(*WITHOUT_TODOS)
    .where(User.id == bindparam('user_id'), User.is_active)
)
CALLER_QUERY = select(
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.token_key,
    users.c.is_superuser,
).where(users.c.id == bindparam('user_id'), users.c.is_active)


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
    """The user the claims name, if active and the token's key is still
    theirs."""
    caller = await find_active_user(session=session, user_id=claims.user_id)
    if caller is None or not is_current_key(caller.token_key, claims):
        return None
    return caller


async def find_active_user(
    *, session: AsyncSession, user_id: int
) -> Caller | None:
    """The user, if they exist and are active.

    A login reads them again after the password hash (which takes a
    while) and signs its token with the key read: a deactivation that
    landed meanwhile wins.
    """
    rows = await session.execute(CALLER_QUERY, {'user_id': user_id})
    row = rows.first()
    return None if row is None else Caller._make(row)


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


async def delete_account(*, session: AsyncSession, user_id: int) -> bool:
    """Delete the user and everything that is theirs, and commit.

    False if there is no such user. Raises LastActiveSuperuser, deleting
    nothing, for the last active superuser. The foreign keys cascade, but
    the dependents are deleted here too: engines built outside
    `build_engine` (course readers' conftests) run SQLite with foreign keys
    off, and SQLite reuses the highest freed id, so a later account would
    inherit the todos left behind.
    """
    await lock_active_superusers(session)
    deleted = await session.scalar(
        delete(User)
        .where(User.id == bindparam('user_id'), LEAVES_AN_ACTIVE_SUPERUSER)
        .returning(User.id)
        .execution_options(synchronize_session='fetch'),
        {'user_id': user_id},
    )
    if deleted is None:
        await refuse_last_active_superuser(session=session, user_id=user_id)
        return False
    await session.execute(delete(Todo).where(Todo.user_id == user_id))
    await session.commit()
    return True


# Administration: account flags, and the rule that an active superuser
# always remains.


class LastActiveSuperuser(Exception):
    """The change would leave no active superuser (answered 409)."""

    detail = 'At least one active superuser must remain'


IS_ACTIVE_SUPERUSER = and_(users.c.is_active, users.c.is_superuser)
other_users = users.alias('other_users')
# Written for statements on `users` about the user bound as `user_id`.
LEAVES_AN_ACTIVE_SUPERUSER = or_(
    not_(IS_ACTIVE_SUPERUSER),
    exists().where(
        other_users.c.id != bindparam('user_id'),
        other_users.c.is_active,
        other_users.c.is_superuser,
    ),
)
ACTIVE_SUPERUSERS_FOR_UPDATE = (
    select(users.c.id)
    .where(IS_ACTIVE_SUPERUSER)
    .order_by(users.c.id)
    .with_for_update()
)


async def lock_active_superusers(session: AsyncSession) -> None:
    """Hold the active superusers' rows until the transaction ends.

    PostgreSQL: two transactions that each check "another active
    superuser remains" and then change one would both pass on the rows as
    they were; the lock makes the second wait and re-read. SQLite has no
    row locks and needs none: its conditional statement (the first write of
    its transaction) runs under the database's write lock, on the latest
    rows.
    """
    if session.get_bind().dialect.name != 'sqlite':
        await session.execute(ACTIVE_SUPERUSERS_FOR_UPDATE)


async def refuse_last_active_superuser(
    *, session: AsyncSession, user_id: int
) -> None:
    """After a guarded statement changed no row: LastActiveSuperuser if the
    user exists (the guard refused), else nothing (no such user).

    Commits, as nothing was changed: that ends the transaction and its
    locks without expiring the session's objects, as a rollback would.
    """
    found = await session.scalar(
        select(users.c.id).where(users.c.id == user_id)
    )
    await session.commit()
    if found is not None:
        raise LastActiveSuperuser


async def find_user_for_update(
    *, session: AsyncSession, user_id: int
) -> User | None:
    """The user as stored now (not as the session remembers it)."""
    return await session.get(
        User, user_id, options=WITHOUT_TODOS, populate_existing=True
    )


async def change_account_flags(
    *,
    session: AsyncSession,
    user_id: int,
    is_active: bool | None = None,
    is_superuser: bool | None = None,
) -> User | None:
    """Set the flags given (None: as it is), and commit.

    The user as stored afterwards, or None if there is no such user.
    Deactivating ends every session of the user. Raises
    LastActiveSuperuser, changing nothing, if no active superuser would
    remain.
    """
    await lock_active_superusers(session)
    user = await find_user_for_update(session=session, user_id=user_id)
    if user is None:
        await session.commit()  # ends the transaction and its locks
        return None
    was_active = user.is_active
    flags = {
        'is_active': was_active if is_active is None else is_active,
        'is_superuser': (
            user.is_superuser if is_superuser is None else is_superuser
        ),
    }
    if flags == {'is_active': was_active, 'is_superuser': user.is_superuser}:
        await session.commit()
        return user
    statement = (
        update(users).where(users.c.id == bindparam('user_id')).values(flags)
    )
    if not (flags['is_active'] and flags['is_superuser']):
        statement = statement.where(LEAVES_AN_ACTIVE_SUPERUSER)
    changed = await session.scalar(
        statement.returning(users.c.id), {'user_id': user_id}
    )
    if changed is None:
        await refuse_last_active_superuser(session=session, user_id=user_id)
        return None  # deleted meanwhile
    changed_user = await find_user_for_update(session=session, user_id=user_id)
    # The row is written and locked by this transaction: it is there.
    assert changed_user is not None
    if was_active and not changed_user.is_active:
        await end_every_session(session=session, user=changed_user)
    await session.commit()
    return changed_user


ADMIN_USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.is_active,
    users.c.is_superuser,
    users.c.created_at,
    users.c.updated_at,
)


class AdminUserRow(TypedDict):
    id: int
    username: str
    email: str
    is_active: bool
    is_superuser: bool
    created_at: datetime
    updated_at: datetime


class AdminUserPage(TypedDict):
    users: list[AdminUserRow]
    total: int


async def admin_users_page(
    *, session: AsyncSession, offset: int, limit: int, search: str | None
) -> AdminUserPage:
    """A page of every user, in id order, and how many match in all.

    `search` matches a substring of the username or the email, ignoring
    the case of ASCII letters; LIKE's wildcards in it match themselves.
    """
    matching: ColumnElement[bool] = true()
    if search is not None:
        pattern = like_literal(search)
        matching = or_(
            users.c.username.icontains(pattern, escape=LIKE_ESCAPE),
            users.c.email.icontains(pattern, escape=LIKE_ESCAPE),
        )
    total = await session.scalar(
        select(func.count()).select_from(users).where(matching)
    )
    assert total is not None  # a count always has a row
    rows = await session.execute(
        select(*ADMIN_USER_COLUMNS)
        .where(matching)
        .order_by(users.c.id)
        .offset(offset)
        .limit(limit)
    )
    return {
        'users': [cast(AdminUserRow, row._asdict()) for row in rows],
        'total': total,
    }


# Todos.

LIKE_ESCAPE = '/'


@cache
def todo_page_query(
    *, title: bool, description: bool, state: bool
) -> Select[int, str, str, str]:
    """The list query for one combination of filters (built once each).

    It also checks the token's key and that the user is active (joining
    the user), so a page with todos needs no other query. (A plain SQL
    comparison suffices: the key travels in a signed token, so it cannot
    be probed without the secret.)
    """
    columns = todos.c
    query = (
        select(columns.id, columns.title, columns.description, columns.state)
        .join(users, users.c.id == columns.user_id)
        .where(
            columns.user_id == bindparam('user_id'),
            users.c.token_key == bindparam('token_key'),
            users.c.is_active,
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
