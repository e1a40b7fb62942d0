from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import raiseload

from fast_zero.crud import find_taken_field
from fast_zero.database import Session
from fast_zero.models import Todo, User
from fast_zero.schemas import (
    FilterPage,
    Message,
    ResourceId,
    UserList,
    UserPublic,
    UserSchema,
    error_responses,
)
from fast_zero.security import (
    CurrentUser,
    authorize_users_directory,
    get_password_hash_async,
)

router = APIRouter(prefix='/users', tags=['users'])

DIRECTORY_ERRORS = error_responses(HTTPStatus.UNAUTHORIZED)
OWNER_ERRORS = error_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)

TAKEN_DETAIL = {
    'username': 'Username already exists',
    'email': 'Email already exists',
}
UPDATE_CONFLICT_DETAIL = 'Username or Email already exists'


def ensure_own_account(current_user: User, user_id: int) -> None:
    if current_user.id != user_id:
        raise HTTPException(
            status_code=HTTPStatus.FORBIDDEN, detail='Not enough permissions'
        )


@router.post(
    '/',
    status_code=HTTPStatus.CREATED,
    response_model=UserPublic,
    responses=error_responses(HTTPStatus.CONFLICT),
)
async def create_user(user: UserSchema, session: Session):
    async def raise_if_taken():
        taken = await find_taken_field(
            session=session, username=user.username, email=user.email
        )
        if taken:
            raise HTTPException(
                status_code=HTTPStatus.CONFLICT, detail=TAKEN_DETAIL[taken]
            )

    await raise_if_taken()
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
        raise HTTPException(
            status_code=HTTPStatus.CONFLICT, detail=UPDATE_CONFLICT_DETAIL
        )
    return db_user


@router.get(
    '/',
    response_model=UserList,
    dependencies=[Depends(authorize_users_directory)],
    responses=DIRECTORY_ERRORS,
)
async def read_users(
    session: Session, filter_users: Annotated[FilterPage, Query()]
):
    users = await session.scalars(
        select(User)
        .options(raiseload(User.todos))
        .order_by(User.id)
        .offset(filter_users.offset)
        .limit(filter_users.limit)
    )
    return {'users': users.all()}


@router.get(
    '/{user_id}',
    response_model=UserPublic,
    dependencies=[Depends(authorize_users_directory)],
    responses=error_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND),
)
async def read_user(user_id: ResourceId, session: Session):
    user = await session.get(User, user_id, options=[raiseload(User.todos)])
    if user is None:
        raise HTTPException(
            status_code=HTTPStatus.NOT_FOUND, detail='User not found'
        )
    return user


@router.put(
    '/{user_id}',
    response_model=UserPublic,
    responses=error_responses(
        HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.CONFLICT
    ),
)
async def update_user(
    user_id: ResourceId,
    user: UserSchema,
    session: Session,
    current_user: CurrentUser,
):
    ensure_own_account(current_user, user_id)
    conflict = HTTPException(
        status_code=HTTPStatus.CONFLICT, detail=UPDATE_CONFLICT_DETAIL
    )
    if await find_taken_field(
        session=session,
        username=user.username,
        email=user.email,
        exclude_user_id=current_user.id,
    ):
        raise conflict

    current_user.username = user.username
    current_user.email = user.email
    current_user.password = await get_password_hash_async(user.password)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise conflict
    return current_user


@router.delete('/{user_id}', response_model=Message, responses=OWNER_ERRORS)
async def delete_user(
    user_id: ResourceId, session: Session, current_user: CurrentUser
):
    ensure_own_account(current_user, user_id)
    # Todos first: the database cascades too, but only where foreign keys
    # are enforced (SQLite needs a PRAGMA that a test engine may lack).
    await session.execute(delete(Todo).where(Todo.user_id == current_user.id))
    await session.execute(delete(User).where(User.id == current_user.id))
    await session.commit()
    return {'message': 'User deleted'}
