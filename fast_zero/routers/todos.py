from http import HTTPStatus
from typing import Annotated

from fastapi import HTTPException, Query, Response
from pydantic import TypeAdapter

from fast_zero.crud import TodoPage, delete_own_todo, find_own_todo, todo_page
from fast_zero.database import Session
from fast_zero.models import Todo
from fast_zero.routing import PrefixedRouter
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
from fast_zero.security import Caller, TokenClaimsDep, token_refused

router = PrefixedRouter(
    prefix='/todos',
    tags=['todos'],
    responses=error_responses(HTTPStatus.UNAUTHORIZED),
)

NOT_FOUND = error_responses(HTTPStatus.NOT_FOUND)
# A page's JSON, written straight from the rows: they come from our own
# table with TodoPublic's types, and re-validating a hundred of them cost
# more than writing them (measured with `task bench`).
TODO_PAGE = TypeAdapter(TodoPage)


def task_not_found() -> HTTPException:
    # Also for another user's todo: never reveal that it exists.
    return HTTPException(
        status_code=HTTPStatus.NOT_FOUND, detail='Task not found.'
    )


@router.post(
    '/',
    status_code=HTTPStatus.CREATED,
    response_model=TodoPublic,
    operation_id='todos-create_todo',
)
async def create_todo(
    todo: TodoSchema, user: Caller, session: Session
) -> Todo:
    db_todo = Todo(
        title=todo.title,
        description=todo.description,
        state=todo.state,
        user_id=user.id,
    )
    session.add(db_todo)
    await session.commit()
    return db_todo


@router.get('/', response_model=TodoList, operation_id='todos-list_todos')
async def list_todos(
    session: Session,
    claims: TokenClaimsDep,
    todo_filter: Annotated[FilterTodo, Query()],
) -> Response:
    """One page of the caller's todos, in id order."""
    page = await todo_page(session=session, claims=claims, filters=todo_filter)
    if page is None:  # the token key is no longer the user's
        raise token_refused('revoked')
    return Response(TODO_PAGE.dump_json(page), media_type='application/json')


@router.patch(
    '/{todo_id}',
    response_model=TodoPublic,
    responses=NOT_FOUND,
    operation_id='todos-patch_todo',
)
async def patch_todo(
    todo_id: ResourceId,
    todo: TodoUpdate,
    session: Session,
    user: Caller,
) -> Todo:
    db_todo = await find_own_todo(
        session=session, todo_id=todo_id, user_id=user.id
    )
    if db_todo is None:
        raise task_not_found()
    for field, value in todo.model_dump(exclude_unset=True).items():
        setattr(db_todo, field, value)
    await session.commit()
    return db_todo


@router.delete(
    '/{todo_id}',
    response_model=Message,
    responses=NOT_FOUND,
    operation_id='todos-delete_todo',
)
async def delete_todo(
    todo_id: ResourceId, session: Session, user: Caller
) -> dict:
    if not await delete_own_todo(
        session=session, todo_id=todo_id, user_id=user.id
    ):
        raise task_not_found()
    return {'message': 'Task has been deleted successfully.'}
