"""users: updated_at; emails stored lower-cased

Revision ID: c3f1a9d2b7e4
Revises: a6b139a38fe0
Create Date: 2026-11-27 16:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c3f1a9d2b7e4'
down_revision: Union[str, None] = 'a6b139a38fe0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # SQLite cannot ADD COLUMN with a non-constant default: copy the table.
    with op.batch_alter_table('users', recreate='always') as batch_op:
        batch_op.add_column(
            sa.Column(
                'updated_at',
                sa.DateTime(),
                server_default=sa.func.now(),
                nullable=False,
            )
        )
    # Emails are compared lower-cased from now on. Rows that would collide
    # with another once lower-cased are left as they are.
    op.execute(
        """
        UPDATE users SET email = lower(email)
        WHERE email != lower(email)
          AND NOT EXISTS (
            SELECT 1 FROM users AS other
            WHERE other.id != users.id AND lower(other.email) = lower(users.email)
          )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('updated_at')
