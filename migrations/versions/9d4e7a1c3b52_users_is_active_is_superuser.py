"""users: is_active and is_superuser

Revision ID: 9d4e7a1c3b52
Revises: 5b8e0c4d2f17
Create Date: 2026-12-02 15:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '9d4e7a1c3b52'
down_revision: Union[str, None] = '5b8e0c4d2f17'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Server defaults: existing users (a course database's too) become
    # active and none a superuser; raw inserts that name neither column
    # (the bench's seeder) keep working. A constant default lets SQLite
    # add the columns in place.
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(
            sa.Column(
                'is_active',
                sa.Boolean(),
                server_default=sa.true(),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                'is_superuser',
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('is_superuser')
        batch_op.drop_column('is_active')
