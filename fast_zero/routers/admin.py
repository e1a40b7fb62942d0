"""Administrator routes: every account, active or not, for superusers.

Each action is logged at INFO: who (the superuser's id), what, on whom
(the user's id; never an email, which is personal data).
"""

import logging
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, Query

from fast_zero.crud import (
    AdminUserPage,
    admin_users_page,
    change_account_flags,
    delete_account,
)
from fast_zero.database import Session
from fast_zero.models import User
from fast_zero.routers.users import user_not_found
from fast_zero.routing import PrefixedRouter
from fast_zero.schemas import (
    AccountFlags,
    AdminUser,
    AdminUserList,
    FilterUsers,
    Message,
    ResourceId,
    error_responses,
)
from fast_zero.security import Superuser, get_superuser

logger = logging.getLogger(__name__)
router = PrefixedRouter(
    prefix='/admin',
    tags=['admin'],
    dependencies=[Depends(get_superuser)],
    responses=error_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN),
)

# 409: the last active superuser cannot be deactivated, demoted or deleted.
ACCOUNT_ERRORS = error_responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT)


@router.get(
    '/users', response_model=AdminUserList, operation_id='admin-list_users'
)
async def list_users(
    session: Session,
    admin: Superuser,
    filter_users: Annotated[FilterUsers, Query()],
) -> AdminUserPage:
    """Every user, in id order; `total` counts those matching `q`."""
    page = await admin_users_page(
        session=session,
        offset=filter_users.offset,
        limit=filter_users.limit,
        search=filter_users.q,
    )
    logger.info('superuser %d listed users', admin.id)
    return page


@router.patch(
    '/users/{user_id}',
    response_model=AdminUser,
    responses=ACCOUNT_ERRORS,
    operation_id='admin-update_account_flags',
)
async def update_account_flags(
    user_id: ResourceId,
    flags: AccountFlags,
    session: Session,
    admin: Superuser,
) -> User:
    """Activate or deactivate, promote or demote. Deactivating ends every
    session of the user at once."""
    changes = flags.model_dump(exclude_unset=True)
    user = await change_account_flags(
        session=session, user_id=user_id, **changes
    )
    if user is None:
        raise user_not_found()
    if changes:
        logger.info(
            'superuser %d set %s of user %d',
            admin.id,
            ' '.join(f'{flag}={value}' for flag, value in changes.items()),
            user_id,
        )
    return user


@router.delete(
    '/users/{user_id}',
    response_model=Message,
    responses=ACCOUNT_ERRORS,
    operation_id='admin-delete_user',
)
async def delete_user(
    user_id: ResourceId, session: Session, admin: Superuser
) -> dict:
    """Delete the user and their todos."""
    if not await delete_account(session=session, user_id=user_id):
        raise user_not_found()
    logger.info('superuser %d deleted user %d', admin.id, user_id)
    return {'message': 'User deleted'}
