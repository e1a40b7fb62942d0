import pytest
from sqlalchemy import select

from fast_zero.models import Todo, User


# DESIGN I: the course compares asdict(user) with its own field list,
# which cannot hold once the models carry more columns; the fields it
# names are compared one by one.
@pytest.mark.asyncio
async def test_create_user(session, mock_db_time):
    with mock_db_time(model=User) as time:
        new_user = User(
            username='alice', password='secret', email='teste@test'
        )
        session.add(new_user)
        await session.commit()

    user = await session.scalar(select(User).where(User.username == 'alice'))

    assert (user.id, user.username, user.password, user.email) == (
        1,
        'alice',
        'secret',
        'teste@test',
    )
    assert user.created_at == time


@pytest.mark.asyncio
async def test_create_todo(session, user):
    todo = Todo(
        title='Test Todo',
        description='Test Desc',
        state='draft',
        user_id=user.id,
    )
    session.add(todo)
    await session.commit()

    todo = await session.scalar(select(Todo))

    assert (todo.title, todo.state, todo.user_id) == (
        'Test Todo',
        'draft',
        user.id,
    )
