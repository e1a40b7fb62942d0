"""Operator commands on accounts: create-user, set-active, set-superuser.

Part of the `fast-zero` command (fast_zero/cli.py adds them to its app).
Each prints the database it acts on (URL, password hidden) on stderr
before changing anything, since `.env` and a relative SQLite path depend
on the working directory. Exit codes:
0 done, 1 refused (one line on stderr saying why; nothing written), 2 usage.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)
Result = TypeVar('Result')

accounts = typer.Typer(
    add_completion=False, pretty_exceptions_show_locals=False
)

TAKEN_DETAIL = {
    'username': 'Username already exists',
    'email': 'Email already exists',
}


class Switch(StrEnum):
    true = 'true'
    false = 'false'


def say(line: str) -> None:
    typer.echo(f'fast_zero: {line}', err=True)


def refuse(reason: str) -> NoReturn:
    say(reason)
    raise typer.Exit(code=1)


def announce_database() -> str:
    """DATABASE_URL, after saying it on stderr with its password hidden
    (or exit 1 for invalid settings), as every `fast-zero` command does."""
    # Imported here, as below: fast_zero.cli imports this module.
    from fast_zero.cli import database_url  # noqa: PLC0415

    return database_url()


def invalid_fields(error: ValidationError) -> str:
    """One line naming each invalid field; never the value sent."""
    return '; '.join(
        f'{".".join(str(part) for part in item["loc"])}: {item["msg"]}'
        for item in error.errors(include_input=False)
    )


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = typer.get_text_stream('stdin').readline()
        return line.removesuffix('\n').removesuffix('\r')
    return typer.prompt('Password', hide_input=True, confirmation_prompt=True)


def run_on_database(
    url: str, work: Callable[[AsyncSession], Awaitable[Result]]
) -> Result:
    """`await work(session)` on a connection of its own to `url`."""
    from fast_zero.database import build_engine  # noqa: PLC0415

    async def run() -> Result:
        engine = build_engine(url, pooled=False)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OSError, SQLAlchemyError) as error:
        from fast_zero.cli import first_line  # noqa: PLC0415

        refuse(f'the database refused: {first_line(error)}')


@accounts.command('create-user')
def create_user(
    email: Annotated[str, typer.Option(help='The new user’s email.')],
    username: Annotated[str, typer.Option(help='The new user’s username.')],
    superuser: Annotated[
        bool, typer.Option('--superuser', help='Make them a superuser.')
    ] = False,
    password_stdin: Annotated[
        bool,
        typer.Option(
            '--password-stdin',
            help='Read the password from standard input, up to the first '
            'newline (for scripts). Otherwise it is asked for, unechoed.',
        ),
    ] = False,
) -> None:
    """Create a user, validated as sign-up validates it."""
    from fast_zero.crud import find_taken_field  # noqa: PLC0415
    from fast_zero.models import User  # noqa: PLC0415
    from fast_zero.schemas import UserSchema  # noqa: PLC0415
    from fast_zero.security import get_password_hash  # noqa: PLC0415

    url = announce_database()
    try:
        fields = UserSchema(
            username=username,
            email=email,
            password=read_password(password_stdin),
        )
    except ValidationError as error:
        refuse(f'invalid user: {invalid_fields(error)}')
    # The configured Argon2 cost, as for a sign-up.
    hashed = get_password_hash(fields.password)

    async def add(session: AsyncSession) -> int | str:
        """The new user's id, or why there is none."""
        taken = await find_taken_field(
            session=session, username=fields.username, email=fields.email
        )
        if taken:
            return TAKEN_DETAIL[taken]
        user = User(
            username=fields.username, email=fields.email, password=hashed
        )
        user.is_superuser = superuser
        session.add(user)
        try:
            await session.commit()
        except IntegrityError:  # taken since the check
            await session.rollback()
            return 'Username or Email already exists'
        return user.id

    outcome = run_on_database(url, add)
    if isinstance(outcome, str):
        refuse(outcome)
    role = 'superuser' if superuser else 'user'
    logger.info('operator created %s %d', role, outcome)
    say(f'created {role} {outcome}')


def set_flag(email: str, **flag: bool) -> None:
    """Set one account flag of the user with `email`, as the PATCH
    /admin/users route does (same rule: an active superuser remains)."""
    from fast_zero.crud import (  # noqa: PLC0415
        LastActiveSuperuser,
        change_account_flags,
        get_user_by_email,
    )

    url = announce_database()

    async def change(session: AsyncSession) -> int | None:
        user = await get_user_by_email(session=session, email=email.lower())
        if user is None:
            return None
        await change_account_flags(session=session, user_id=user.id, **flag)
        return user.id

    try:
        user_id = run_on_database(url, change)
    except LastActiveSuperuser as error:
        refuse(error.detail)
    if user_id is None:
        refuse('no user has that email')
    [(name, value)] = flag.items()
    logger.info('operator set %s=%s of user %d', name, value, user_id)
    say(f'user {user_id}: {name}={str(value).lower()}')


@accounts.command('set-active')
def set_active(
    email: Annotated[str, typer.Argument(help='The user’s email.')],
    active: Annotated[Switch, typer.Argument(help='true or false.')],
) -> None:
    """Activate or deactivate a user. Deactivating ends every session."""
    set_flag(email, is_active=active == Switch.true)


@accounts.command('set-superuser')
def set_superuser(
    email: Annotated[str, typer.Argument(help='The user’s email.')],
    superuser: Annotated[Switch, typer.Argument(help='true or false.')],
) -> None:
    """Promote a user to superuser, or demote one."""
    set_flag(email, is_superuser=superuser == Switch.true)
