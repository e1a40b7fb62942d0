from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm

from fast_zero.crud import get_user_by_email
from fast_zero.database import Session
from fast_zero.schemas import Token, error_responses
from fast_zero.security import (
    DUMMY_PASSWORD_HASH,
    create_access_token,
    verify_password_async,
)
from fast_zero.settings import settings

router = APIRouter(prefix='/auth', tags=['auth'])

OAuth2Form = Annotated[OAuth2PasswordRequestForm, Depends()]


@router.post(
    '/token',
    response_model=Token,
    responses=error_responses(HTTPStatus.UNAUTHORIZED),
)
async def login_for_access_token(form_data: OAuth2Form, session: Session):
    """Log in with the email (in the form's `username`) and password."""
    incorrect = HTTPException(
        status_code=HTTPStatus.UNAUTHORIZED,
        detail='Incorrect email or password',
    )
    if len(form_data.password) > settings.PASSWORD_MAX_LENGTH:
        raise incorrect  # no account has it; do not spend a hash on it
    user = await get_user_by_email(
        session=session, email=form_data.username.lower()
    )
    # Verify even for an unknown email, so the answer takes as long.
    hashed_password = user.password if user else DUMMY_PASSWORD_HASH
    verified = await verify_password_async(form_data.password, hashed_password)
    if user is None or not verified:
        raise incorrect

    access_token = create_access_token({'sub': str(user.id)})
    return {'access_token': access_token, 'token_type': 'bearer'}
