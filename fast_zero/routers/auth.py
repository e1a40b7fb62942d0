from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm

from fast_zero.crud import (
    end_every_session,
    find_active_user,
    get_user_by_email,
)
from fast_zero.database import Session, release_connection
from fast_zero.login_limits import LoginLimiterDep, client_address
from fast_zero.routing import PrefixedRouter
from fast_zero.schemas import Message, Token, error_responses
from fast_zero.security import (
    DUMMY_PASSWORD_HASH,
    Caller,
    CurrentUser,
    TokenClaimsDep,
    issue_access_token,
    token_refused,
    verify_password_and_update_async,
)
from fast_zero.settings import settings

router = PrefixedRouter(prefix='/auth', tags=['auth'])


class LoginForm(OAuth2PasswordRequestForm):
    """OAuth2's password form, saying that its `username` is the email.

    The field keeps OAuth2's name (clients and the docs' Authorize dialog
    send `username`); its description is what readers of /docs see.
    """

    # The arguments are the fields OAuth2 defines.
    def __init__(  # noqa: PLR0913, PLR0917
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern='^password$')] = None,
        username: Annotated[
            str,
            Form(description='Your email address (the login is by email).'),
        ],
        password: Annotated[
            str, Form(json_schema_extra={'format': 'password'})
        ],
        scope: Annotated[str, Form()] = '',
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[
            str | None, Form(json_schema_extra={'format': 'password'})
        ] = None,
    ):
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


OAuth2Form = Annotated[LoginForm, Depends()]
UNAUTHORIZED = error_responses(HTTPStatus.UNAUTHORIZED)
LOGIN_ERRORS = error_responses(
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.TOO_MANY_REQUESTS,
    HTTPStatus.SERVICE_UNAVAILABLE,
)
INACTIVE_USER = HTTPException(
    status_code=HTTPStatus.FORBIDDEN, detail='Inactive user'
)


@router.post(
    '/token',
    response_model=Token,
    responses=LOGIN_ERRORS,
    operation_id='auth-login_for_access_token',
)
async def login_for_access_token(
    form_data: OAuth2Form,
    session: Session,
    request: Request,
    login_limiter: LoginLimiterDep,
) -> dict:
    """Log in with your **email** (in the form's `username` field, as
    OAuth2 names it) and password.

    Too many failed logins for the email or from the client's address
    answer 429 before any lookup or hashing. A deactivated account's
    right password answers 403.
    """
    email = form_data.username.lower()
    address = client_address(request)
    await login_limiter.start_attempt(email=email, address=address)
    incorrect = HTTPException(
        status_code=HTTPStatus.UNAUTHORIZED,
        detail='Incorrect email or password',
    )
    if len(form_data.password) > settings.PASSWORD_MAX_LENGTH:
        # No account has it; do not spend a hash on it.
        await login_limiter.record_failure(address=address)
        raise incorrect
    user = await get_user_by_email(session=session, email=email)
    await release_connection(session)
    # Verify even for an unknown email, so the answer takes as long.
    verified, updated_hash = await verify_password_and_update_async(
        form_data.password, user.password if user else DUMMY_PASSWORD_HASH
    )
    if user is None or not verified:
        await login_limiter.record_failure(address=address)
        raise incorrect
    # Only now, with the password verified: no account enumeration. The
    # re-read catches a deactivation that landed while the hash ran.
    active = user.is_active and await find_active_user(
        session=session, user_id=user.id
    )
    if not active:
        await login_limiter.record_failure(address=address)
        raise INACTIVE_USER
    await login_limiter.record_success(email=email)
    if updated_hash:
        # Hashed with outdated parameters: store the current kind.
        user.password = updated_hash
        await session.commit()
    return issue_access_token(active)


@router.post(
    '/refresh_token',
    response_model=Token,
    responses=UNAUTHORIZED,
    operation_id='auth-refresh_access_token',
)
async def refresh_access_token(user: Caller, claims: TokenClaimsDep) -> dict:
    """A fresh token, never beyond SESSION_MAX_AGE from the login."""
    session_end = claims.auth_time + settings.SESSION_MAX_AGE
    if datetime.now(tz=UTC) >= session_end:
        raise token_refused('expired')
    return issue_access_token(user, auth_time=claims.auth_time)


@router.post(
    '/logout',
    response_model=Message,
    responses=UNAUTHORIZED,
    operation_id='auth-logout',
)
async def logout(user: CurrentUser, session: Session) -> dict:
    """Revoke every token of the user issued until now."""
    await end_every_session(session=session, user=user)
    await session.commit()
    return {'message': 'Logged out'}
