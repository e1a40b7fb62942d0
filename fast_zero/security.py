"""Passwords, access tokens and the `get_current_user` dependency."""

import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http import HTTPStatus
from typing import Annotated, Protocol

import jwt
from fastapi import Depends, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pwdlib.exceptions import UnknownHashError

from fast_zero import crud, metrics
from fast_zero.database import Session
from fast_zero.hashing import build_password_hash, run_hashing
from fast_zero.models import User
from fast_zero.observability import remember_caller
from fast_zero.schemas import MAX_ID
from fast_zero.settings import settings

USER_ID_PATTERN = re.compile(r'[1-9][0-9]{0,9}')

password_hash = build_password_hash()
# auto_error=False: a missing token gets the same 401 body as a bad one.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl='auth/token',
    refreshUrl='auth/refresh_token',
    auto_error=False,
    # What /docs' Authorize dialog shows above its `username` field.
    description='Log in with your email in the `username` field.',
)


def get_password_hash(password: str) -> str:
    return password_hash.hash(password)


def verify_password(plain_password: str, hashed_password: str) -> bool:
    """Whether the password matches; a hash we cannot read never does."""
    try:
        return password_hash.verify(plain_password, hashed_password)
    except UnknownHashError:
        return False


# Logins for unknown emails verify against this, so they cost the same as
# logins for known ones (no user enumeration by timing).
DUMMY_PASSWORD_HASH = get_password_hash(secrets.token_urlsafe(16))


def verify_password_and_update(
    plain_password: str, hashed_password: str
) -> tuple[bool, str | None]:
    """Verify; on success, a new hash if the stored one is outdated.

    Outdated: made with other Argon2 parameters (or another algorithm)
    than the current settings. Callers store the new hash.
    """
    try:
        return password_hash.verify_and_update(plain_password, hashed_password)
    except UnknownHashError:
        return False, None


async def get_password_hash_async(password: str) -> str:
    return await run_hashing(get_password_hash, password)


async def verify_password_async(
    plain_password: str, hashed_password: str
) -> bool:
    return await run_hashing(verify_password, plain_password, hashed_password)


async def verify_password_and_update_async(
    plain_password: str, hashed_password: str
) -> tuple[bool, str | None]:
    return await run_hashing(
        verify_password_and_update, plain_password, hashed_password
    )


def create_access_token(
    data: dict, *, not_after: datetime | None = None
) -> str:
    """A signed JWT with `data`, `iat` and `exp`: 30 min away by default,
    never past `not_after`."""
    to_encode = data.copy()
    now = datetime.now(tz=UTC)
    expire = now + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    if not_after is not None:
        expire = min(expire, not_after)
    to_encode.update({'exp': expire, 'iat': now})
    return jwt.encode(
        to_encode, settings.SECRET_KEY, algorithm=settings.ALGORITHM
    )


credentials_exception = HTTPException(
    status_code=HTTPStatus.UNAUTHORIZED,
    detail='Could not validate credentials',
    headers={'WWW-Authenticate': 'Bearer'},
)


def token_refused(reason: str) -> HTTPException:
    """The 401 every bad token gets, counted by why (`missing`,
    `malformed`, `expired`, `revoked`) for /metrics."""
    metrics.TOKENS_REFUSED[reason].inc()
    return credentials_exception


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    token_key: str
    # When the password login this token descends from happened.
    auth_time: datetime
    issued_at: int
    expires_at: int


class TokenHolder(Protocol):
    """A user as tokens need it: a `User` or a `Caller`."""

    @property
    def id(self) -> int: ...

    @property
    def token_key(self) -> str: ...


def issue_access_token(
    user: TokenHolder, *, auth_time: datetime | None = None
) -> dict:
    """The login answer: a token bound to the user's current token key.

    `auth_time` is the password login a refreshed token descends from;
    no token outlives it by more than SESSION_MAX_AGE.
    """
    auth_time = auth_time or datetime.now(tz=UTC)
    claims = {
        'sub': str(user.id),
        'key': user.token_key,
        'auth_time': int(auth_time.timestamp()),
    }
    return {
        'access_token': create_access_token(
            claims, not_after=auth_time + settings.SESSION_MAX_AGE
        ),
        'token_type': 'bearer',
    }


def decode_token(token: str | None) -> TokenClaims:
    """The claims of a valid token, or the 401 every bad token gets."""
    if not token:
        raise token_refused('missing')
    claims = verified_claims(token, settings.SECRET_KEY, settings.ALGORITHM)
    if not claims.issued_at <= time.time() < claims.expires_at:
        raise token_refused('expired')
    return claims


# Each request presents its token again: remember the tokens whose
# signature and claims checked out (the time checks above run every call).
@lru_cache(maxsize=1024)
def verified_claims(token: str, key: str, algorithm: str) -> TokenClaims:
    """The claims of a token signed with `key`, whatever the time."""
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={
                'require': ['exp', 'iat', 'sub'],
                'verify_exp': False,
                'verify_iat': False,
            },
        )
    except jwt.InvalidTokenError:
        # One uniform 401: nothing about why the token failed rides along.
        raise token_refused('malformed') from None
    subject, token_key = payload['sub'], payload.get('key')
    issued_at, expires_at = payload['iat'], payload['exp']
    auth_time = payload.get('auth_time', issued_at)
    if (
        not USER_ID_PATTERN.fullmatch(subject)
        or int(subject) > MAX_ID
        or not isinstance(token_key, str)
        or not all(
            type(value) is int for value in (issued_at, expires_at, auth_time)
        )
    ):
        raise token_refused('malformed')
    return TokenClaims(
        user_id=int(subject),
        token_key=token_key,
        auth_time=datetime.fromtimestamp(auth_time, tz=UTC),
        issued_at=issued_at,
        expires_at=expires_at,
    )


BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


async def get_token_claims(token: BearerToken) -> TokenClaims:
    """The claims of a well-signed, unexpired token; a route using them
    alone checks the token key itself."""
    claims = decode_token(token)
    remember_caller(claims.user_id)
    return claims


TokenClaimsDep = Annotated[TokenClaims, Depends(get_token_claims)]


# The two dependencies below read the token themselves rather than through
# `get_token_claims`: each level of dependency costs FastAPI about 10 us.
async def get_current_user(session: Session, token: BearerToken) -> User:
    """The user a token names, as an ORM object: for routes that change it."""
    user = await crud.find_current_user(
        session=session, claims=decode_token(token)
    )
    if user is None:
        raise token_refused('revoked')
    remember_caller(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_caller(session: Session, token: BearerToken) -> crud.Caller:
    """The caller, for routes that only need to know who calls."""
    claims = decode_token(token)
    caller = await crud.find_caller(session=session, claims=claims)
    if caller is None:
        raise token_refused('revoked')
    remember_caller(caller.id)
    return caller


Caller = Annotated[crud.Caller, Depends(get_caller)]

not_enough_permissions = HTTPException(
    status_code=HTTPStatus.FORBIDDEN, detail='Not enough permissions'
)


async def get_superuser(caller: Caller) -> crud.Caller:
    """The caller, if a superuser; else 403."""
    if not caller.is_superuser:
        raise not_enough_permissions
    return caller


Superuser = Annotated[crud.Caller, Depends(get_superuser)]


async def authorize_users_directory(
    session: Session, token: BearerToken
) -> None:
    """Let anyone list users only where the directory is public."""
    if not settings.users_directory_public:
        await get_caller(session, token)
