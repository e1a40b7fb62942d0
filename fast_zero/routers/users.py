import logging
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fast_zero.crud import (
    delete_account,
    end_every_session,
    end_session,
    find_taken_field,
    find_user_for_update,
    live_sessions,
    open_session,
    public_user,
    users_page,
    utc_now,
)
from fast_zero.database import Session, release_connection
from fast_zero.login_limits import client_address
from fast_zero.models import User
from fast_zero.routing import PrefixedRouter
from fast_zero.schemas import (
    FilterPage,
    Message,
    PasswordChange,
    ResourceId,
    SessionList,
    Token,
    UserList,
    UserPublic,
    UserSchema,
    UserUpdate,
    error_responses,
)
from fast_zero.security import (
    Caller,
    CurrentUser,
    authorize_users_directory,
    credentials_exception,
    get_password_hash_async,
    issue_session_tokens,
    not_enough_permissions,
    verify_password_async,
)

logger = logging.getLogger(__name__)
router = PrefixedRouter(prefix='/users', tags=['users'])

DIRECTORY_ERRORS = error_responses(HTTPStatus.UNAUTHORIZED)
OWN_ACCOUNT_ERRORS = error_responses(HTTPStatus.UNAUTHORIZED)
# 409: the last active superuser cannot go.
DELETE_OWN_ERRORS = error_responses(
    HTTPStatus.UNAUTHORIZED, HTTPStatus.CONFLICT
)
# 404: a superuser's action on an unknown id (others get 403 for it).
DELETE_ERRORS = error_responses(
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
)
UPDATE_ERRORS = error_responses(
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
    HTTPStatus.SERVICE_UNAVAILABLE,  # the hashing pool is full
)

TAKEN_DETAIL = {
    'username': 'Username already exists',
    'email': 'Email already exists',
}
UPDATE_CONFLICT = HTTPException(
    status_code=HTTPStatus.CONFLICT, detail='Username or Email already exists'
)


def user_not_found() -> HTTPException:
    return HTTPException(
        status_code=HTTPStatus.NOT_FOUND, detail='User not found'
    )


def ensure_may_manage(caller: User | Caller, user_id: int) -> None:
    """403 unless the account is the caller's own or the caller is a
    superuser (for an unknown id too: it reveals nothing to others)."""
    if caller.id != user_id and not caller.is_superuser:
        raise not_enough_permissions


async def ensure_available_for(
    user: User, *, session: AsyncSession, username: str, email: str
) -> None:
    """409 if another user has the username or the email."""
    if await find_taken_field(
        session=session,
        username=username,
        email=email,
        exclude_user_id=user.id,
    ):
        raise UPDATE_CONFLICT


async def commit_account_changes(session: AsyncSession) -> None:
    """Commit, or roll back and 409 if a racing request took the name."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        # The 409 is the answer, not a failure: no chain to keep.
        raise UPDATE_CONFLICT from None


@router.post(
    '/',
    status_code=HTTPStatus.CREATED,
    response_model=UserPublic,
    responses=error_responses(
        HTTPStatus.CONFLICT, HTTPStatus.SERVICE_UNAVAILABLE
    ),
    operation_id='users-create_user',
)
async def create_user(user: UserSchema, session: Session) -> User:
    async def raise_if_taken() -> None:
        taken = await find_taken_field(
            session=session, username=user.username, email=user.email
        )
        if taken:
            raise HTTPException(
                status_code=HTTPStatus.CONFLICT, detail=TAKEN_DETAIL[taken]
            )

    await raise_if_taken()
    await release_connection(session)
    db_user = User(
        username=user.username,
        email=user.email,
        password=await get_password_hash_async(user.password),
    )
    session.add(db_user)
    try:
        await session.commit()
    except IntegrityError:
        # Another sign-up took the name or email since our check.
        await session.rollback()
        await raise_if_taken()
        raise UPDATE_CONFLICT from None
    return db_user


@router.get(
    '/',
    response_model=UserList,
    dependencies=[Depends(authorize_users_directory)],
    responses=DIRECTORY_ERRORS,
    operation_id='users-read_users',
)
async def read_users(
    session: Session, filter_users: Annotated[FilterPage, Query()]
) -> dict:
    users = await users_page(
        session=session, offset=filter_users.offset, limit=filter_users.limit
    )
    return {'users': users}


# The /me routes come before /{user_id}, which would take 'me' for an id.
@router.get(
    '/me',
    response_model=UserPublic,
    responses=OWN_ACCOUNT_ERRORS,
    operation_id='users-read_own_profile',
)
async def read_own_profile(current_user: Caller) -> Caller:
    return current_user


@router.patch(
    '/me',
    response_model=UserPublic,
    responses=error_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.CONFLICT),
    operation_id='users-update_own_profile',
)
async def update_own_profile(
    changes: UserUpdate, session: Session, current_user: CurrentUser
) -> User:
    """Change only the fields sent (an explicit null is a 422)."""
    fields = changes.model_dump(exclude_unset=True)
    await ensure_available_for(
        current_user,
        session=session,
        username=fields.get('username', current_user.username),
        email=fields.get('email', current_user.email),
    )
    for field, value in fields.items():
        setattr(current_user, field, value)
    await commit_account_changes(session)
    return current_user


@router.delete(
    '/me',
    response_model=Message,
    responses=DELETE_OWN_ERRORS,
    operation_id='users-delete_own_account',
)
async def delete_own_account(session: Session, current_user: Caller) -> dict:
    await delete_account(session=session, user_id=current_user.id)
    return {'message': 'User deleted'}


@router.put(
    '/me/password',
    response_model=Token,
    responses=error_responses(
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
    operation_id='users-change_password',
)
async def change_password(
    passwords: PasswordChange,
    session: Session,
    current_user: CurrentUser,
    request: Request,
) -> dict:
    """Change the password: every session ends (on every device), and a
    new one opens for the caller, whose tokens are sent."""
    await release_connection(session)
    if not await verify_password_async(
        passwords.current_password, current_user.password
    ):
        raise HTTPException(
            status_code=HTTPStatus.BAD_REQUEST, detail='Incorrect password'
        )
    current_user.password = await get_password_hash_async(
        passwords.new_password
    )
    now = utc_now()
    await end_every_session(session=session, user=current_user, now=now)
    opened = await open_session(
        session=session,
        user_id=current_user.id,
        user_agent=request.headers.get('user-agent'),
        address=client_address(request),
        now=now,
    )
    if opened is None:  # deleted or deactivated meanwhile
        raise credentials_exception
    await session.commit()
    return issue_session_tokens(current_user, opened)


@router.get(
    '/me/sessions',
    response_model=SessionList,
    responses=OWN_ACCOUNT_ERRORS,
    operation_id='users-list_own_sessions',
)
async def list_own_sessions(session: Session, current_user: Caller) -> dict:
    """Where you are logged in: the live sessions, newest first."""
    sessions = await live_sessions(
        session=session,
        user_id=current_user.id,
        current_session_id=current_user.session_id,
    )
    return {'sessions': sessions}


@router.delete(
    '/me/sessions',
    response_model=Message,
    responses=OWN_ACCOUNT_ERRORS,
    operation_id='users-end_own_sessions',
)
async def end_own_sessions(
    session: Session, current_user: CurrentUser
) -> dict:
    """Log out everywhere, this session too: every token dies."""
    await end_every_session(session=session, user=current_user)
    await session.commit()
    return {'message': 'Logged out everywhere'}


@router.delete(
    '/me/sessions/{session_id}',
    response_model=Message,
    responses=error_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND),
    operation_id='users-end_own_session',
)
async def end_own_session(
    session_id: ResourceId, session: Session, current_user: Caller
) -> dict:
    """End one of your sessions (another device's, or this one)."""
    ended = await end_session(
        session=session,
        session_id=session_id,
        user_id=current_user.id,
        now=utc_now(),
    )
    if not ended:
        raise HTTPException(
            status_code=HTTPStatus.NOT_FOUND, detail='Session not found'
        )
    await session.commit()
    return {'message': 'Session ended'}


@router.get(
    '/{user_id}',
    response_model=UserPublic,
    dependencies=[Depends(authorize_users_directory)],
    responses=error_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND),
    operation_id='users-read_user',
)
async def read_user(user_id: ResourceId, session: Session) -> dict:
    found = await public_user(session=session, user_id=user_id)
    if found is None:
        raise user_not_found()
    return found._asdict()


@router.put(
    '/{user_id}',
    response_model=UserPublic,
    responses=UPDATE_ERRORS,
    operation_id='users-update_user',
)
async def update_user(
    user_id: ResourceId,
    user: UserSchema,
    session: Session,
    current_user: CurrentUser,
) -> User:
    """Replace an account: your own, or anyone's for a superuser."""
    ensure_may_manage(current_user, user_id)
    target = current_user
    if user_id != current_user.id:
        other = await find_user_for_update(session=session, user_id=user_id)
        if other is None:
            raise user_not_found()
        target = other
    await ensure_available_for(
        target, session=session, username=user.username, email=user.email
    )
    await release_connection(session)
    new_password = not await verify_password_async(
        user.password, target.password
    )
    password_hash = await get_password_hash_async(user.password)
    # A new password ends every session; the same one not. After the
    # hashing (its write would hold SQLite's lock meanwhile), before the
    # changes (its statement would flush them: a taken name must fail at
    # the commit, which answers 409).
    if new_password:
        await end_every_session(session=session, user=target)
    target.username = user.username
    target.email = user.email
    target.password = password_hash
    await commit_account_changes(session)
    if target is not current_user:
        logger.info(
            'superuser %d replaced the account of user %d',
            current_user.id,
            target.id,
        )
    return target


@router.delete(
    '/{user_id}',
    response_model=Message,
    responses=DELETE_ERRORS,
    operation_id='users-delete_user',
)
async def delete_user(
    user_id: ResourceId, session: Session, current_user: Caller
) -> dict:
    """Delete an account: your own, or anyone's for a superuser."""
    ensure_may_manage(current_user, user_id)
    if not await delete_account(session=session, user_id=user_id):
        raise user_not_found()
    if user_id != current_user.id:
        logger.info('superuser %d deleted user %d', current_user.id, user_id)
    return {'message': 'User deleted'}
