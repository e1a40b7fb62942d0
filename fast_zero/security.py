"""Passwords, access tokens and the `get_current_user` dependency."""

import re
import secrets
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pwdlib.exceptions import UnknownHashError
from sqlalchemy.orm import raiseload

from fast_zero.database import Session
from fast_zero.hashing import build_password_hash, run_hashing
from fast_zero.models import User
from fast_zero.settings import settings

MAX_ID = 2**31 - 1
USER_ID_PATTERN = re.compile(r'[1-9][0-9]{0,9}')

password_hash = build_password_hash()
# auto_error=False: a missing token gets the same 401 body as a bad one.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl='auth/token', auto_error=False)


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


async def get_password_hash_async(password: str) -> str:
    return await run_hashing(get_password_hash, password)


async def verify_password_async(
    plain_password: str, hashed_password: str
) -> bool:
    return await run_hashing(verify_password, plain_password, hashed_password)


def create_access_token(data: dict) -> str:
    to_encode = data.copy()
    now = datetime.now(tz=timezone.utc)
    expire = now + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    to_encode.update({'exp': expire, 'iat': now})
    return jwt.encode(
        to_encode, settings.SECRET_KEY, algorithm=settings.ALGORITHM
    )


credentials_exception = HTTPException(
    status_code=HTTPStatus.UNAUTHORIZED,
    detail='Could not validate credentials',
    headers={'WWW-Authenticate': 'Bearer'},
)


def decode_user_id(token: str | None) -> int:
    """The user id a valid token names, or the 401 every bad token gets."""
    if not token:
        raise credentials_exception
    try:
        payload = jwt.decode(
            token,
            settings.SECRET_KEY,
            algorithms=[settings.ALGORITHM],
            options={'require': ['exp', 'sub']},
        )
    except jwt.InvalidTokenError:
        raise credentials_exception
    subject = payload['sub']
    if not USER_ID_PATTERN.fullmatch(subject) or int(subject) > MAX_ID:
        raise credentials_exception
    return int(subject)


async def get_current_user(
    session: Session, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    user = await session.get(
        User, decode_user_id(token), options=[raiseload(User.todos)]
    )
    if user is None:
        raise credentials_exception
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def authorize_users_directory(
    session: Session, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    """Let anyone list users only where the directory is public."""
    if not settings.users_directory_public:
        await get_current_user(session, token)
