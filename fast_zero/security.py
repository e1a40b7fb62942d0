"""Passwords, access tokens and the `get_current_user` dependency."""

import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http import HTTPStatus
from typing import Annotated, TypeGuard

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
    refreshUrl='auth/token',
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
    return sign_access_token(
        data, now=datetime.now(tz=UTC), not_after=not_after
    )[0]


def sign_access_token(
    data: dict, *, now: datetime, not_after: datetime | None
) -> tuple[str, int]:
    """The token `create_access_token` makes, and its `exp` timestamp."""
    expire = now + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    if not_after is not None:
        expire = min(expire, not_after)
    expires_at = int(expire.timestamp())
    to_encode = {**data, 'exp': expires_at, 'iat': int(now.timestamp())}
    token = jwt.encode(
        to_encode, settings.SECRET_KEY, algorithm=settings.ALGORITHM
    )
    return token, expires_at


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
    session_id: int
    issued_at: int
    expires_at: int


def issue_access_token(
    *, user_id: int, token_key: str, session_id: int, session_end: datetime
) -> dict:
    """An access token of a session, `{access_token, token_type,
    expires_in}`, never valid past the session's end (naive UTC)."""
    now = datetime.now(tz=UTC)
    token, expires_at = sign_access_token(
        {'sub': str(user_id), 'key': token_key, 'sid': session_id},
        now=now,
        not_after=crud.as_utc(session_end),
    )
    return {
        'access_token': token,
        'token_type': 'bearer',
        'expires_in': expires_at - int(now.timestamp()),
    }


def issue_session_tokens(user: User, opened: crud.OpenedSession) -> dict:
    """The answer of a login: an access token and the refresh token."""
    return {
        **issue_access_token(
            user_id=user.id,
            token_key=user.token_key,
            session_id=opened.session_id,
            session_end=opened.expires_at,
        ),
        'refresh_token': opened.refresh_token,
    }


def decode_token(token: str | None) -> TokenClaims:
    """The claims of a valid token, or the 401 every bad token gets."""
    if not token:
        raise token_refused('missing')
    claims = verified_claims(token, settings.SECRET_KEY, settings.ALGORITHM)
    if not claims.issued_at <= time.time() < claims.expires_at:
        raise token_refused('expired')
    return claims


def is_valid_id(value: object) -> TypeGuard[int]:
    """An id as every table has them: an integer from 1 to MAX_ID."""
    return type(value) is int and 1 <= value <= MAX_ID


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
    # Tokens issued before sessions existed carry no `sid`: refused.
    session_id = payload.get('sid')
    issued_at, expires_at = payload['iat'], payload['exp']
    if (
        not USER_ID_PATTERN.fullmatch(subject)
        or int(subject) > MAX_ID
        or not isinstance(token_key, str)
        or not is_valid_id(session_id)
        or not all(type(value) is int for value in (issued_at, expires_at))
    ):
        raise token_refused('malformed')
    return TokenClaims(
        user_id=int(subject),
        token_key=token_key,
        session_id=session_id,
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
