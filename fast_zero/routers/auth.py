from http import HTTPStatus
from typing import Annotated, Literal

from fastapi import Depends, Form, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError

from fast_zero.crud import (
    end_session,
    get_user_by_email,
    open_session,
    rotate_refresh_token,
    unrotated_session_end,
    user_exists,
    utc_now,
)
from fast_zero.database import Session, release_connection
from fast_zero.errors import InvalidGrantError
from fast_zero.login_limits import LoginLimiterDep, client_address
from fast_zero.routing import PrefixedRouter
from fast_zero.schemas import (
    AccessToken,
    InvalidGrant,
    Message,
    Token,
    error_responses,
)
from fast_zero.security import (
    DUMMY_PASSWORD_HASH,
    Caller,
    issue_access_token,
    issue_session_tokens,
    token_refused,
    verify_password_and_update_async,
)
from fast_zero.settings import settings

router = PrefixedRouter(prefix='/auth', tags=['auth'])

UNAUTHORIZED = error_responses(HTTPStatus.UNAUTHORIZED)
TOKEN_ERRORS = {
    HTTPStatus.BAD_REQUEST.value: {
        'model': InvalidGrant,
        'description': 'Refresh grant: the refresh token is unknown, '
        'already used, expired, or its session ended.',
    },
    **error_responses(
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.FORBIDDEN,
        HTTPStatus.TOO_MANY_REQUESTS,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
}
GRANT_FIELDS = {
    'password': ('username', 'password'),
    'refresh_token': ('refresh_token',),
}
TOKEN_REQUEST_EXAMPLES = {
    'password': {
        'summary': 'Log in (password grant)',
        'value': {
            'grant_type': 'password',
            'username': 'alice@example.com',
            'password': 's3cret-pass',
        },
    },
    'refresh_token': {
        'summary': 'Refresh (refresh token grant)',
        'value': {
            'grant_type': 'refresh_token',
            'refresh_token': 'the refresh_token of the last answer',
        },
    },
}


class TokenRequestForm:
    """POST /auth/token's form: a password login or a refresh (RFC 6749).

    As OAuth2PasswordRequestForm, whose clients (the docs' Authorize
    dialog) keep working: the email keeps OAuth2's name, `username`. Each
    grant requires its own fields (422 without them).
    """

    def __init__(
        self,
        grant_type: Annotated[
            Literal['password', 'refresh_token'],
            Form(description='Absent: `password`.'),
        ] = 'password',
        username: Annotated[
            str | None,
            Form(
                description='Your email address (the login is by email; '
                'password grant).'
            ),
        ] = None,
        password: Annotated[
            str | None,
            Form(
                description='The password (password grant).',
                json_schema_extra={'format': 'password'},
            ),
        ] = None,
        refresh_token: Annotated[
            str | None,
            Form(description='The last refresh token (refresh grant).'),
        ] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username or ''
        self.password = password or ''
        self.refresh_token = refresh_token or ''
        missing = [
            {
                'type': 'missing',
                'loc': ('body', field),
                'msg': 'Field required',
                'input': None,
            }
            for field in GRANT_FIELDS[grant_type]
            if not getattr(self, field)
        ]
        if missing:
            raise RequestValidationError(missing)


OAuth2Form = Annotated[TokenRequestForm, Depends()]
INACTIVE_USER = HTTPException(
    status_code=HTTPStatus.FORBIDDEN, detail='Inactive user'
)


@router.post(
    '/token',
    response_model=Token,
    responses=TOKEN_ERRORS,
    operation_id='auth-login_for_access_token',
    openapi_extra={
        'requestBody': {
            'content': {
                'application/x-www-form-urlencoded': {
                    'examples': TOKEN_REQUEST_EXAMPLES
                }
            }
        }
    },
)
async def login_for_access_token(
    form_data: OAuth2Form,
    session: Session,
    request: Request,
    response: Response,
    login_limiter: LoginLimiterDep,
) -> dict:
    """Log in, or refresh: an access token and a refresh token.

    **Password grant** (`grant_type` absent or `password`): log in with
    your **email** (in the form's `username` field, as OAuth2 names it)
    and password. It opens a session of its own (see
    `GET /users/me/sessions`). Too many failed logins for the email or from
    the client's address answer 429 before any lookup or hashing. A
    deactivated account's right password answers 403.

    **Refresh grant** (`grant_type=refresh_token`): the last
    `refresh_token` received. It answers a new access token and a new
    refresh token; the one sent is spent. Sending a spent one again ends
    its session (a copy in other hands). Never past the session's end:
    then log in again.
    """
    # Tokens are never to be stored by caches (RFC 6749, 5.1).
    response.headers['Cache-Control'] = 'no-store'
    if form_data.grant_type == 'refresh_token':
        return await refresh_grant(session, form_data.refresh_token)
    return await password_grant(
        session, form_data, request=request, login_limiter=login_limiter
    )


async def password_grant(
    session: Session,
    form_data: TokenRequestForm,
    *,
    request: Request,
    login_limiter: LoginLimiterDep,
) -> dict:
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
    # Only now, with the password verified: no account enumeration.
    if not user.is_active:
        await login_limiter.record_failure(address=address)
        raise INACTIVE_USER
    opened = await open_session(
        session=session,
        user_id=user.id,
        user_agent=request.headers.get('user-agent'),
        address=address,
        now=utc_now(),
    )
    if opened is None:
        # Deactivated or deleted while the hash ran: that change wins.
        if await user_exists(session=session, user_id=user.id):
            await login_limiter.record_failure(address=address)
            raise INACTIVE_USER
        raise incorrect
    await login_limiter.record_success(email=email)
    if updated_hash:
        # Hashed with outdated parameters: store the current kind.
        user.password = updated_hash
    await session.commit()
    return issue_session_tokens(user, opened)


async def refresh_grant(session: Session, refresh_token: str) -> dict:
    rotated = await rotate_refresh_token(
        session=session, refresh_token=refresh_token, now=utc_now()
    )
    if rotated is None:
        raise InvalidGrantError
    return {
        **issue_access_token(
            user_id=rotated.user_id,
            token_key=rotated.token_key,
            session_id=rotated.session_id,
            session_end=rotated.expires_at,
        ),
        'refresh_token': rotated.refresh_token,
    }


@router.post(
    '/refresh_token',
    response_model=AccessToken,
    responses=UNAUTHORIZED,
    operation_id='auth-refresh_access_token',
)
async def refresh_access_token(user: Caller, session: Session) -> dict:
    """The course's refresh: a fresh access token for the same session,
    never valid past the session's end.

    Refused (401) once the session has used the refresh grant of
    POST /auth/token: from then on, only its refresh token refreshes.
    """
    session_end = await unrotated_session_end(
        session=session, session_id=user.session_id
    )
    if session_end is None:
        raise token_refused('revoked')
    return issue_access_token(
        user_id=user.id,
        token_key=user.token_key,
        session_id=user.session_id,
        session_end=session_end,
    )


@router.post(
    '/logout',
    response_model=Message,
    responses=UNAUTHORIZED,
    operation_id='auth-logout',
)
async def logout(user: Caller, session: Session) -> dict:
    """End this session: its tokens die, other devices stay logged in."""
    await end_session(
        session=session,
        session_id=user.session_id,
        user_id=user.id,
        now=utc_now(),
    )
    await session.commit()
    return {'message': 'Logged out'}
