"""Database work for the routers: small queries, each written once."""

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fast_zero.models import User


async def get_user_by_email(
    *, session: AsyncSession, email: str
) -> User | None:
    if '\x00' in email:
        # No stored email has a NUL, and PostgreSQL text cannot hold one.
        return None
    return await session.scalar(select(User).where(User.email == email))


async def find_taken_field(
    *,
    session: AsyncSession,
    username: str,
    email: str,
    exclude_user_id: int | None = None,
) -> str | None:
    """'username' or 'email' if another user already has it, else None."""
    query = select(User.username).where(
        or_(User.username == username, User.email == email)
    )
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    # At most two rows: usernames and emails are each unique.
    usernames = (await session.scalars(query)).all()
    if username in usernames:
        return 'username'
    return 'email' if usernames else None
