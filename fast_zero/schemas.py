"""Request and response shapes. Length limits come from Settings."""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
)

from fast_zero.models import TodoState
from fast_zero.settings import settings

MAX_ID = 2**31 - 1  # ids are 32-bit integers on every backend
# PostgreSQL text cannot hold the NUL character: stored or searched text
# refuses it (422) on every backend, rather than failing there (500).
WITHOUT_NUL = r'^[^\x00]*$'

Username = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=settings.USERNAME_MAX_LENGTH,
        pattern=WITHOUT_NUL,
    ),
]
# Emails are stored and compared lower-cased, the whole address.
Email = Annotated[
    EmailStr,
    Field(
        max_length=settings.EMAIL_MAX_LENGTH,
        description=(
            'Special-use domains, which no mail reaches, are refused: '
            + ', '.join(f'.{name}' for name in SPECIAL_USE_DOMAIN_NAMES)
        ),
    ),
    AfterValidator(str.lower),
]
Password = Annotated[
    str,
    StringConstraints(
        min_length=settings.PASSWORD_MIN_LENGTH,
        max_length=settings.PASSWORD_MAX_LENGTH,
    ),
]
ResourceId = Annotated[int, Path(ge=1, le=MAX_ID)]


class Message(BaseModel):
    message: str


class ErrorMessage(BaseModel):
    detail: str


class Health(BaseModel):
    status: Literal['ok', 'error']
    database: Literal['ok', 'unreachable']
    # Absent when the database is unreachable.
    migrations: Literal['ok', 'pending', 'ahead'] | None = None


class UserSchema(BaseModel):
    username: Username
    email: Email
    password: Password


class UserUpdate(BaseModel):
    # Omitted fields stay as they are; an explicit null is a 422. The
    # None default only marks "omitted": the type must refuse null.
    username: Username = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[assignment]


class PasswordChange(BaseModel):
    current_password: Annotated[
        str, StringConstraints(max_length=settings.PASSWORD_MAX_LENGTH)
    ]
    new_password: Password


class UserPublic(BaseModel):
    # A plain `str`: the address was validated on the way in, and
    # re-validating it for every user in a list is costly.
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    email: str


class UserList(BaseModel):
    users: list[UserPublic]


class AccessToken(BaseModel):
    access_token: str
    token_type: str
    expires_in: int = Field(
        description='Seconds until the access token expires.'
    )


class Token(AccessToken):
    refresh_token: str = Field(
        description=(
            'Opaque; exchange it at POST /auth/token with '
            '`grant_type=refresh_token` for new tokens. Single use.'
        )
    )


class InvalidGrant(BaseModel):
    """RFC 6749's error answer (`error`), with our clients' `detail`."""

    error: Literal['invalid_grant']
    detail: str


class SessionPublic(BaseModel):
    id: int
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    address: str | None
    current: bool = Field(description="Whether it is the caller's session.")


class SessionList(BaseModel):
    sessions: list[SessionPublic]


class FilterPage(BaseModel):
    offset: int = Field(0, ge=0, le=MAX_ID)
    limit: int = Field(100, ge=1, le=100)


UserSearchText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=settings.EMAIL_MAX_LENGTH, pattern=WITHOUT_NUL
    ),
]


class FilterUsers(FilterPage):
    """`q` matches a substring of the username or the email, ignoring the
    case of ASCII letters; `%` and `_` match themselves."""

    q: UserSearchText | None = None


def as_utc(moment: datetime) -> datetime:
    """The timestamp columns hold UTC without a zone (SQLite's
    CURRENT_TIMESTAMP); JSON's date-time needs one."""
    return moment.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class AdminUser(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    email: str
    is_active: bool
    is_superuser: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime


class AdminUserList(BaseModel):
    users: list[AdminUser]
    total: int


class AccountFlags(BaseModel):
    # Omitted flags stay as they are; an explicit null is a 422 (the None
    # default only marks "omitted"). Strict: JSON booleans, not "yes" or 1.
    is_active: StrictBool = None  # type: ignore[assignment]
    is_superuser: StrictBool = None  # type: ignore[assignment]


TodoTitle = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=settings.TODO_TITLE_MAX_LENGTH,
        pattern=WITHOUT_NUL,
    ),
]
TodoDescription = Annotated[
    str,
    StringConstraints(
        max_length=settings.TODO_DESCRIPTION_MAX_LENGTH, pattern=WITHOUT_NUL
    ),
]
TodoFilterText = Annotated[
    str,
    StringConstraints(
        min_length=settings.TODO_FILTER_MIN_LENGTH,
        max_length=settings.TODO_FILTER_MAX_LENGTH,
        pattern=WITHOUT_NUL,
    ),
]


class TodoSchema(BaseModel):
    title: TodoTitle
    description: TodoDescription
    state: TodoState


class TodoPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    description: str
    state: TodoState


class TodoList(BaseModel):
    todos: list[TodoPublic]


class TodoUpdate(BaseModel):
    # Omitted fields stay as they are; an explicit null is rejected (422),
    # since None is not a valid value of any of them (hence the ignores).
    title: TodoTitle = None  # type: ignore[assignment]
    description: TodoDescription = None  # type: ignore[assignment]
    state: TodoState = None  # type: ignore[assignment]


class FilterTodo(FilterPage):
    """Substring filters match case-insensitively (ASCII letters)."""

    title: TodoFilterText | None = None
    description: TodoFilterText | None = None
    state: TodoState | None = None


def error_responses(*statuses: HTTPStatus) -> dict:
    """OpenAPI entries for the `{"detail": ...}` errors a route answers."""
    return {status.value: {'model': ErrorMessage} for status in statuses}
