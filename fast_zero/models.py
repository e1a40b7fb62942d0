import secrets
from datetime import datetime
from enum import Enum

from sqlalchemy import ForeignKey, Index, MetaData, false, func, true
from sqlalchemy.orm import (
    Mapped,
    mapped_as_dataclass,
    mapped_column,
    raiseload,
    registry,
    relationship,
)

# Predictable constraint names, so migrations can drop or alter them on
# every backend (SQLite's batch mode included).
NAMING_CONVENTION = {
    'ix': 'ix_%(column_0_label)s',
    'uq': 'uq_%(table_name)s_%(column_0_name)s',
    'ck': 'ck_%(table_name)s_%(constraint_name)s',
    'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s',
    'pk': 'pk_%(table_name)s',
}

table_registry = registry(
    metadata=MetaData(naming_convention=NAMING_CONVENTION)
)


def new_token_key() -> str:
    """A fresh random key; tokens carry it and die when it changes."""
    return secrets.token_hex(16)


# The course's declaration: StrEnum would change str(TodoState.done).
class TodoState(str, Enum):  # noqa: UP042
    draft = 'draft'
    todo = 'todo'
    doing = 'doing'
    done = 'done'
    trash = 'trash'


@mapped_as_dataclass(table_registry)
class User:
    __tablename__ = 'users'
    # Fetch server-made timestamps with RETURNING, so no attribute is left
    # expired (an expired attribute would lazy-load: MissingGreenlet).
    __mapper_args__ = {'eager_defaults': True}

    id: Mapped[int] = mapped_column(init=False, primary_key=True)
    username: Mapped[str] = mapped_column(unique=True)
    password: Mapped[str]
    email: Mapped[str] = mapped_column(unique=True)
    token_key: Mapped[str] = mapped_column(
        init=False, default_factory=new_token_key
    )
    # Set by an administrator (routes under /admin, the `fast-zero` CLI),
    # never by the user's own requests. A deactivated user's tokens are
    # refused and their logins answer 403.
    is_active: Mapped[bool] = mapped_column(
        init=False, default=True, server_default=true()
    )
    is_superuser: Mapped[bool] = mapped_column(
        init=False, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(
        init=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        init=False, server_default=func.now(), onupdate=func.now()
    )
    # As the course declares it, so `await session.refresh(user)` then
    # `user.todos` works. Hot paths opt out with `WITHOUT_TODOS` (below):
    # loading every todo with every user costs 30-40% of their throughput.
    todos: Mapped[list['Todo']] = relationship(
        init=False,
        cascade='all, delete-orphan',
        lazy='selectin',
        passive_deletes=True,
    )


@mapped_as_dataclass(table_registry)
class Todo:
    __tablename__ = 'todos'
    # The list query filters on user_id and orders by id.
    __table_args__ = (Index('ix_todos_user_id_id', 'user_id', 'id'),)
    __mapper_args__ = {'eager_defaults': True}

    id: Mapped[int] = mapped_column(init=False, primary_key=True)
    title: Mapped[str]
    description: Mapped[str]
    state: Mapped[TodoState]
    user_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE')
    )
    created_at: Mapped[datetime] = mapped_column(
        init=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        init=False, server_default=func.now(), onupdate=func.now()
    )


@mapped_as_dataclass(table_registry)
class UserSession:
    """One password login on one device; its tokens die with it.

    Naive UTC times, written by the application (not the database), so
    expiry compares against the same clock on every backend.
    """

    __tablename__ = 'user_sessions'
    # Ids are never reused (SQLite's AUTOINCREMENT; PostgreSQL's sequences
    # never are): an access token names its session by id, and must not
    # come back to life with a later session that took a pruned one's id.
    __table_args__ = {'sqlite_autoincrement': True}

    id: Mapped[int] = mapped_column(init=False, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'), index=True
    )
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    user_agent: Mapped[str]
    address: Mapped[str | None]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


@mapped_as_dataclass(table_registry)
class RefreshToken:
    """A refresh token of a session, stored only as its SHA-256."""

    __tablename__ = 'refresh_tokens'

    id: Mapped[int] = mapped_column(init=False, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey('user_sessions.id', ondelete='CASCADE'), index=True
    )
    token_hash: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime]
    # When it was exchanged for the next one; presented again, it is reuse.
    spent_at: Mapped[datetime | None] = mapped_column(default=None)


# For the hot paths that never touch a user's todos (the token check):
# skip their selectin load, and fail loudly if code touches them anyway.
WITHOUT_TODOS = (raiseload(User.todos),)
