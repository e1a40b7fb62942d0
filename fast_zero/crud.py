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

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# pydantic reads TypedDicts (TodoPage) only from typing_extensions before
# Python 3.12.
from typing_extensions import TypedDict

from fast_zero.migration_state import is_missing_schema_error
from fast_zero.models import (
    WITHOUT_TODOS,
    RefreshToken,
    Todo,
    User,
    UserSession,
    new_token_key,
)
from fast_zero.settings import settings

if TYPE_CHECKING:
    from fast_zero.schemas import FilterTodo
    from fast_zero.security import TokenClaims

# mypy cannot see the `__table__` that mapping adds to a dataclass.
users: Table = User.__table__  # type: ignore[attr-defined]
todos: Table = Todo.__table__  # type: ignore[attr-defined]
sessions: Table = UserSession.__table__  # type: ignore[attr-defined]
refresh_tokens: Table = RefreshToken.__table__  # type: ignore[attr-defined]


class Caller(NamedTuple):
    """Who calls, for routes that need no ORM object (45 us less)."""

    id: int
    username: str
    email: str
    token_key: str
    is_superuser: bool
    # The token's session.
    session_id: int


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


# The token check.

# Times of sessions are naive UTC (`utc_now`), written by the application,
# so they compare against one clock on every backend.
NOW = bindparam('now', type_=DateTime())
USER_ID = bindparam('user_id', type_=Integer())
# An UPDATE's parameters cannot be named as its table's columns.
OWNER_ID = bindparam('owner_id', type_=Integer())


def is_live(now: ColumnElement) -> ColumnElement[bool]:
    """Whether a session is neither ended nor expired at `now`."""
    return and_(sessions.c.revoked_at.is_(None), sessions.c.expires_at > now)


# The user, with the token's session theirs and live: one statement.
# It also says whether the session's last use is due for a touch, compared
# in SQL: a flag costs less than a time read back (per row of a todo page).
TOKEN_SESSION_IS_LIVE = and_(
    sessions.c.id == bindparam('session_id'),
    sessions.c.user_id == USER_ID,
    is_live(NOW),
)
TOUCH_BEFORE = bindparam('touch_before', type_=DateTime())
SESSION_IS_STALE = (sessions.c.last_used_at < TOUCH_BEFORE).label('stale')
CURRENT_USER_QUERY = (
    select(User, SESSION_IS_STALE)
    .options(*WITHOUT_TODOS)
    .join(sessions, sessions.c.user_id == User.id)
    .where(User.id == USER_ID, User.is_active, TOKEN_SESSION_IS_LIVE)
)
CALLER_QUERY = (
    select(
        users.c.id,
        users.c.username,
        users.c.email,
        users.c.token_key,
        users.c.is_superuser,
        SESSION_IS_STALE,
    )
    .join(sessions, sessions.c.user_id == users.c.id)
    .where(users.c.id == USER_ID, users.c.is_active, TOKEN_SESSION_IS_LIVE)
)


# A session's last use is written at most this often.
TOUCH_INTERVAL = timedelta(minutes=settings.SESSION_TOUCH_MINUTES)


def utc_now() -> datetime:
    """Now, as session times are stored: UTC without a time zone."""
    return datetime.now(tz=UTC).replace(tzinfo=None)


def as_utc(moment: datetime) -> datetime:
    """A stored (naive UTC) time as an aware one."""
    return moment.replace(tzinfo=UTC)


def token_check_parameters(claims: TokenClaims, now: datetime) -> dict:
    return {
        'user_id': claims.user_id,
        'session_id': claims.session_id,
        'now': now,
        'touch_before': now - TOUCH_INTERVAL,
    }


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
    it), if active, the token's key theirs and its session live; else
    None."""
    now = utc_now()
    rows = await session.execute(
        CURRENT_USER_QUERY, token_check_parameters(claims, now)
    )
    found = rows.first()
    if found is None or not is_current_key(found[0].token_key, claims):
        return None
    user, stale = found
    if stale:
        await touch_session(
            session=session, session_id=claims.session_id, now=now
        )
    return user


async def find_caller(
    *, session: AsyncSession, claims: TokenClaims
) -> Caller | None:
    """The user the claims name, if active, the token's key theirs and its
    session live; else None."""
    now = utc_now()
    rows = await session.execute(
        CALLER_QUERY, token_check_parameters(claims, now)
    )
    row = rows.first()
    if row is None or not is_current_key(row.token_key, claims):
        return None
    if row.stale:
        await touch_session(
            session=session, session_id=claims.session_id, now=now
        )
    return Caller(
        row.id,
        row.username,
        row.email,
        row.token_key,
        row.is_superuser,
        claims.session_id,
    )


async def user_exists(*, session: AsyncSession, user_id: int) -> bool:
    found = await session.scalar(
        select(users.c.id).where(users.c.id == bindparam('user_id')),
        {'user_id': user_id},
    )
    return found is not None


# Sessions and refresh tokens.

USER_AGENT_MAX_LENGTH = 200
CONTROL_CHARACTERS = re.compile(r'[\x00-\x1f\x7f-\x9f]')


def clean_user_agent(user_agent: str | None) -> str:
    """The User-Agent as shown in the session list: printable, short."""
    return CONTROL_CHARACTERS.sub('', user_agent or '')[:USER_AGENT_MAX_LENGTH]


def new_refresh_token() -> tuple[str, str]:
    """A fresh opaque refresh token and the hash stored for it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    # SHA-256, not Argon2: the token is 256 random bits, nothing to guess,
    # and a lookup must find it by its hash.
    return hashlib.sha256(token.encode(errors='replace')).hexdigest()


class OpenedSession(NamedTuple):
    session_id: int
    expires_at: datetime
    refresh_token: str


class RotatedSession(NamedTuple):
    """What a refresh grant needs to answer: the session and its owner."""

    session_id: int
    user_id: int
    token_key: str
    expires_at: datetime
    refresh_token: str


class SessionRow(TypedDict):
    """A live session of the session list."""

    id: int
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    address: str | None
    current: bool


DEAD_SESSIONS = select(sessions.c.id).where(
    sessions.c.user_id == USER_ID, not_(is_live(NOW))
)
DELETE_DEAD_SESSION_TOKENS = delete(refresh_tokens).where(
    refresh_tokens.c.session_id.in_(DEAD_SESSIONS)
)
DELETE_DEAD_SESSIONS = delete(sessions).where(
    sessions.c.user_id == USER_ID, not_(is_live(NOW))
)
# Opens a session only for a user who still exists and is active: a
# deactivation that lands while a login hashes wins.
INSERT_SESSION = (
    insert(sessions)
    .from_select(
        [
            'user_id',
            'created_at',
            'last_used_at',
            'expires_at',
            'user_agent',
            'address',
        ],
        select(
            users.c.id,
            NOW,
            NOW,
            bindparam('expires_at', type_=DateTime()),
            bindparam('user_agent', type_=String()),
            bindparam('address', type_=String()),
        ).where(users.c.id == USER_ID, users.c.is_active),
    )
    .returning(sessions.c.id)
)
LIVE_SESSIONS_BEYOND_LIMIT = (
    select(sessions.c.id)
    .where(sessions.c.user_id == USER_ID, is_live(NOW))
    .order_by(sessions.c.last_used_at.desc(), sessions.c.id.desc())
    .offset(bindparam('limit'))
)
INSERT_REFRESH_TOKEN = insert(refresh_tokens).values(
    session_id=bindparam('session_id'),
    token_hash=bindparam('token_hash'),
    created_at=NOW,
)
END_SESSION = (
    update(sessions)
    .where(
        sessions.c.id == bindparam('session_id'),
        sessions.c.user_id == OWNER_ID,
        is_live(NOW),
    )
    .values(revoked_at=NOW)
    .returning(sessions.c.id)
)
END_USER_SESSIONS = (
    update(sessions)
    .where(sessions.c.user_id == OWNER_ID, sessions.c.revoked_at.is_(None))
    .values(revoked_at=NOW)
)
# The one statement that decides a rotation: of concurrent refreshes with
# one token, only the one whose UPDATE changed the row wins (both
# backends serialize writers on the row).
SPEND_REFRESH_TOKEN = (
    update(refresh_tokens)
    .where(
        refresh_tokens.c.token_hash == bindparam('presented_hash'),
        refresh_tokens.c.spent_at.is_(None),
        # Correlated: one lookup of the token's session by its key.
        exists().where(
            sessions.c.id == refresh_tokens.c.session_id, is_live(NOW)
        ),
    )
    .values(spent_at=NOW)
    .returning(refresh_tokens.c.session_id)
)
ROTATED_SESSION = (
    select(sessions.c.user_id, users.c.token_key, sessions.c.expires_at)
    .join(users, users.c.id == sessions.c.user_id)
    .where(sessions.c.id == bindparam('session_id'))
)
REFRESH_TOKEN_STATE = (
    select(
        refresh_tokens.c.session_id,
        refresh_tokens.c.spent_at,
        sessions.c.user_id,
    )
    .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
    .where(refresh_tokens.c.token_hash == bindparam('token_hash'))
)
# The session's end, unless it ever used the refresh grant.
UNROTATED_SESSION_END = select(sessions.c.expires_at).where(
    sessions.c.id == bindparam('session_id'),
    ~exists().where(
        refresh_tokens.c.session_id == sessions.c.id,
        refresh_tokens.c.spent_at.is_not(None),
    ),
)
TOUCH_SESSION = (
    update(sessions)
    .where(
        sessions.c.id == bindparam('session_id'),
        sessions.c.last_used_at < bindparam('threshold', type_=DateTime()),
    )
    .values(last_used_at=NOW)
)
LIVE_SESSIONS = (
    select(
        sessions.c.id,
        sessions.c.created_at,
        sessions.c.last_used_at,
        sessions.c.expires_at,
        sessions.c.user_agent,
        sessions.c.address,
    )
    .where(sessions.c.user_id == USER_ID, is_live(NOW))
    .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
)


async def add_refresh_token(
    *, session: AsyncSession, session_id: int, now: datetime
) -> str:
    token, token_hash = new_refresh_token()
    await session.execute(
        INSERT_REFRESH_TOKEN,
        {'session_id': session_id, 'token_hash': token_hash, 'now': now},
    )
    return token


async def open_session(
    *,
    session: AsyncSession,
    user_id: int,
    user_agent: str | None,
    address: str | None,
    now: datetime,
) -> OpenedSession | None:
    """Open a session and its first refresh token; None if the user is
    gone or inactive. The caller commits.

    First deletes the user's ended and expired sessions; past
    MAX_SESSIONS_PER_USER live ones, ends the least recently used.
    """
    dead = {'user_id': user_id, 'now': now}
    # Tokens first: engines without foreign keys enforced do not cascade.
    await session.execute(DELETE_DEAD_SESSION_TOKENS, dead)
    await session.execute(DELETE_DEAD_SESSIONS, dead)
    expires_at = now + settings.SESSION_MAX_AGE
    session_id = await session.scalar(
        INSERT_SESSION,
        {
            'user_id': user_id,
            'now': now,
            'expires_at': expires_at,
            'user_agent': clean_user_agent(user_agent),
            'address': address,
        },
    )
    if session_id is None:
        return None
    beyond_limit = await session.scalars(
        LIVE_SESSIONS_BEYOND_LIMIT,
        {
            'user_id': user_id,
            'now': now,
            'limit': settings.MAX_SESSIONS_PER_USER,
        },
    )
    for evicted_id in beyond_limit.all():
        await end_session(
            session=session, session_id=evicted_id, user_id=user_id, now=now
        )
    refresh_token = await add_refresh_token(
        session=session, session_id=session_id, now=now
    )
    return OpenedSession(session_id, expires_at, refresh_token)


async def end_session(
    *, session: AsyncSession, session_id: int, user_id: int, now: datetime
) -> bool:
    """End one of the user's live sessions; False if there is none so.

    Its access and refresh tokens are refused from then on. The caller
    commits.
    """
    ended = await session.scalar(
        END_SESSION,
        {'session_id': session_id, 'owner_id': user_id, 'now': now},
    )
    return ended is not None


async def end_every_session(
    *, session: AsyncSession, user: User, now: datetime | None = None
) -> None:
    """End all the user's sessions and revoke every token issued so far.

    The one place that changes `users.token_key`. The caller commits, in
    the transaction of the change that ends the sessions (a new password,
    a deactivation), so both happen or neither.
    """
    await session.execute(
        END_USER_SESSIONS, {'owner_id': user.id, 'now': now or utc_now()}
    )
    user.token_key = new_token_key()
    session.add(user)


async def rotate_refresh_token(
    *, session: AsyncSession, refresh_token: str, now: datetime
) -> RotatedSession | None:
    """Spend a refresh token for the next one, and commit; None if it is
    unknown, spent, or its session ended.

    A spent one presented again past REFRESH_REUSE_GRACE_SECONDS of its
    rotation is reuse (a copy in other hands): its session ends. Within
    them, it is a client's concurrent refresh that lost: refused only.
    """
    token_hash = hash_refresh_token(refresh_token)
    session_id = await session.scalar(
        SPEND_REFRESH_TOKEN, {'presented_hash': token_hash, 'now': now}
    )
    if session_id is None:
        await end_session_if_reused(
            session=session, token_hash=token_hash, now=now
        )
        await session.commit()
        return None
    rows = await session.execute(ROTATED_SESSION, {'session_id': session_id})
    owner = rows.first()
    if owner is None:  # the account was deleted meanwhile
        await session.commit()
        return None
    user_id, token_key, expires_at = owner
    next_token = await add_refresh_token(
        session=session, session_id=session_id, now=now
    )
    await session.commit()
    return RotatedSession(
        session_id, user_id, token_key, expires_at, next_token
    )


async def end_session_if_reused(
    *, session: AsyncSession, token_hash: str, now: datetime
) -> None:
    rows = await session.execute(
        REFRESH_TOKEN_STATE, {'token_hash': token_hash}
    )
    state = rows.first()
    # A token never issued ends nothing: anyone could send one.
    if state is None or state.spent_at is None:
        return
    grace = timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS)
    if now - state.spent_at > grace:
        await end_session(
            session=session,
            session_id=state.session_id,
            user_id=state.user_id,
            now=now,
        )


async def unrotated_session_end(
    *, session: AsyncSession, session_id: int
) -> datetime | None:
    """When the session ends (naive UTC); None if it ever used the refresh
    grant (or is gone)."""
    return await session.scalar(
        UNROTATED_SESSION_END, {'session_id': session_id}
    )


async def touch_session(
    *, session: AsyncSession, session_id: int, now: datetime
) -> None:
    """Record the session's use now, and commit, if the last record is
    older than SESSION_TOUCH_MINUTES.

    The token check says when that is due (`stale`), so authenticated
    requests do not each write; the UPDATE checks again, so workers racing
    to touch one session write once.
    """
    await session.execute(
        TOUCH_SESSION,
        {
            'session_id': session_id,
            'threshold': now - TOUCH_INTERVAL,
            'now': now,
        },
    )
    await session.commit()


async def live_sessions(
    *, session: AsyncSession, user_id: int, current_session_id: int
) -> list[SessionRow]:
    """The user's live sessions, newest first."""
    rows = await session.execute(
        LIVE_SESSIONS, {'user_id': user_id, 'now': utc_now()}
    )
    return [
        {
            'id': id_,
            'created_at': as_utc(created_at),
            'last_used_at': as_utc(last_used_at),
            'expires_at': as_utc(expires_at),
            'user_agent': user_agent,
            'address': address,
            'current': id_ == current_session_id,
        }
        for (
            id_,
            created_at,
            last_used_at,
            expires_at,
            user_agent,
            address,
        ) in rows.all()
    ]


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
    own_sessions = select(sessions.c.id).where(sessions.c.user_id == user_id)
    await session.execute(
        delete(refresh_tokens).where(
            refresh_tokens.c.session_id.in_(own_sessions)
        )
    )
    await session.execute(
        delete(sessions).where(sessions.c.user_id == user_id)
    )
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
) -> Select[int, str, str, str, bool]:
    """The list query for one combination of filters (built once each).

    It also checks the token as the token check does (joining the user
    and the session), so a page with todos needs no other query. (A plain
    SQL comparison of the key suffices: it travels in a signed token, so it
    cannot be probed without the secret.) Each row also says whether the
    session is due for a touch.
    """
    columns = todos.c
    query = (
        select(
            columns.id,
            columns.title,
            columns.description,
            columns.state,
            SESSION_IS_STALE,
        )
        .join(users, users.c.id == columns.user_id)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(
            columns.user_id == USER_ID,
            users.c.token_key == bindparam('token_key'),
            users.c.is_active,
            TOKEN_SESSION_IS_LIVE,
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
    key is no longer the user's, its session ended or the user is gone."""
    now = utc_now()
    query = todo_page_query(
        title=filters.title is not None,
        description=filters.description is not None,
        state=filters.state is not None,
    )
    rows = await session.execute(
        query,
        {
            **token_check_parameters(claims, now),
            'token_key': claims.token_key,
            'title': like_literal(filters.title or ''),
            'description': like_literal(filters.description or ''),
            'state': filters.state,
            'offset': filters.offset,
            'limit': filters.limit,
        },
    )
    found = rows.all()
    page: list[TodoRow] = [
        {'id': id_, 'title': title, 'description': about, 'state': state}
        for id_, title, about, state, _stale in found
    ]
    # A page with todos proved the token; an empty one may also mean a
    # revoked token: checked apart (which touches the session itself).
    if not page:
        if await find_caller(session=session, claims=claims) is None:
            return None
        return {'todos': page}
    if found[0].stale:
        await touch_session(
            session=session, session_id=claims.session_id, now=now
        )
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
