"""users: token_key, the per-user key that revokes tokens

Revision ID: 5b8e0c4d2f17
Revises: e7d4b2a91c05
Create Date: 2026-11-27 17:30:00

"""

import secrets
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '5b8e0c4d2f17'
down_revision: Union[str, None] = 'e7d4b2a91c05'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('users', sa.Column('token_key', sa.String(), nullable=True))
    # Every existing user gets a random key of their own.
    users = sa.table('users', sa.column('id'), sa.column('token_key'))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(
            users
            .update()
            .where(users.c.id == user_id)
            .values(token_key=secrets.token_hex(16))
        )
    with op.batch_alter_table('users') as batch_op:
        batch_op.alter_column(
            'token_key', existing_type=sa.String(), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('token_key')
