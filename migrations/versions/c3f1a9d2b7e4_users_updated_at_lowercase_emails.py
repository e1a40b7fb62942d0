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


def is_sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def name_unique_constraints_by_convention() -> None:
    """Rename PostgreSQL's users_<column>_key to our uq_users_<column>."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints(
        'users'
    ):
        wanted = f'uq_users_{constraint["column_names"][0]}'
        if constraint['name'] != wanted:
            op.execute(
                f'ALTER TABLE users RENAME CONSTRAINT {constraint["name"]}'
                f' TO {wanted}'
            )


def upgrade() -> None:
    if not is_sqlite():
        name_unique_constraints_by_convention()
    # SQLite cannot ADD COLUMN with a non-constant default: copy the table.
    # The course's unique constraints have no name: the copy names them as
    # the models do, so a course database ends up with the same schema.
    with op.batch_alter_table(
        'users',
        recreate='always' if is_sqlite() else 'auto',
        naming_convention={'uq': 'uq_%(table_name)s_%(column_0_name)s'},
    ) as batch_op:
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
