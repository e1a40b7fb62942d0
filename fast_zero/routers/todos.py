from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import delete, select

from fast_zero.database import Session
from fast_zero.models import Todo
from fast_zero.schemas import (
    FilterTodo,
    Message,
    ResourceId,
    TodoList,
    TodoPublic,
    TodoSchema,
    TodoUpdate,
    error_responses,
)
from fast_zero.security import CurrentUser

router = APIRouter(
    prefix='/todos',
    tags=['todos'],
    responses=error_responses(HTTPStatus.UNAUTHORIZED),
)

NOT_FOUND = error_responses(HTTPStatus.NOT_FOUND)
# The list reads table columns: a Core select, no per-row ORM loading.
todos_table = Todo.__table__


def task_not_found() -> HTTPException:
    # Also for another user's todo: never reveal that it exists.
    return HTTPException(
        status_code=HTTPStatus.NOT_FOUND, detail='Task not found.'
    )


@router.post('/', status_code=HTTPStatus.CREATED, response_model=TodoPublic)
async def create_todo(todo: TodoSchema, user: CurrentUser, session: Session):
    db_todo = Todo(
        title=todo.title,
        description=todo.description,
        state=todo.state,
        user_id=user.id,
    )
    session.add(db_todo)
    await session.commit()
    return db_todo


@router.get('/', response_model=TodoList)
async def list_todos(
    session: Session,
    user: CurrentUser,
    todo_filter: Annotated[FilterTodo, Query()],
):
    query = select(
        todos_table.c.id,
        todos_table.c.title,
        todos_table.c.description,
        todos_table.c.state,
    ).where(todos_table.c.user_id == user.id)
    if todo_filter.title:
        query = query.where(
            todos_table.c.title.icontains(todo_filter.title, autoescape=True)
        )
    if todo_filter.description:
        query = query.where(
            todos_table.c.description.icontains(
                todo_filter.description, autoescape=True
            )
        )
    if todo_filter.state:
        query = query.where(todos_table.c.state == todo_filter.state)
    rows = await session.execute(
        query
        .order_by(todos_table.c.id)
        .offset(todo_filter.offset)
        .limit(todo_filter.limit)
    )
    # Plain dicts, as for the user list: pydantic validates them fastest.
    return {
        'todos': [
            {'id': id_, 'title': title, 'description': text, 'state': state}
            for id_, title, text, state in rows
        ]
    }


@router.patch('/{todo_id}', response_model=TodoPublic, responses=NOT_FOUND)
async def patch_todo(
    todo_id: ResourceId,
    todo: TodoUpdate,
    session: Session,
    user: CurrentUser,
):
    db_todo = await session.scalar(
        select(Todo).where(Todo.id == todo_id, Todo.user_id == user.id)
    )
    if db_todo is None:
        raise task_not_found()
    for field, value in todo.model_dump(exclude_unset=True).items():
        setattr(db_todo, field, value)
    await session.commit()
    return db_todo


@router.delete('/{todo_id}', response_model=Message, responses=NOT_FOUND)
async def delete_todo(
    todo_id: ResourceId, session: Session, user: CurrentUser
):
    deleted = await session.scalar(
        delete(Todo)
        .where(Todo.id == todo_id, Todo.user_id == user.id)
        .returning(Todo.id)
    )
    if deleted is None:
        raise task_not_found()
    await session.commit()
    return {'message': 'Task has been deleted successfully.'}
