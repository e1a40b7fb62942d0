"""todos: timestamps, ON DELETE CASCADE, index for the list query

Revision ID: e7d4b2a91c05
Revises: c3f1a9d2b7e4
Create Date: 2026-11-27 17:00:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e7d4b2a91c05'
down_revision: Union[str, None] = 'c3f1a9d2b7e4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FK_NAME = 'fk_todos_user_id_users'
# Gives the course's unnamed foreign key a name on SQLite, so it can go.
NAMING_CONVENTION = {
    'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s'
}


def user_fk_name() -> str:
    """The current name of todos' foreign key to users.

    The course's database has it unnamed (PostgreSQL calls it
    todos_user_id_fkey); ours names it by the convention.
    """
    for fk in sa.inspect(op.get_bind()).get_foreign_keys('todos'):
        if fk['referred_table'] == 'users':
            return fk['name'] or FK_NAME
    return FK_NAME


def is_sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    fk_name = user_fk_name()
    with op.batch_alter_table(
        'todos',
        # SQLite cannot ADD COLUMN with a non-constant default: copy.
        recreate='always' if is_sqlite() else 'auto',
        naming_convention=NAMING_CONVENTION,
    ) as batch_op:
        for column in ('created_at', 'updated_at'):
            batch_op.add_column(
                sa.Column(
                    column,
                    sa.DateTime(),
                    server_default=sa.func.now(),
                    nullable=False,
                )
            )
        batch_op.drop_constraint(fk_name, type_='foreignkey')
        batch_op.create_foreign_key(
            FK_NAME, 'users', ['user_id'], ['id'], ondelete='CASCADE'
        )
        batch_op.create_index('ix_todos_user_id_id', ['user_id', 'id'])


def downgrade() -> None:
    with op.batch_alter_table(
        'todos', recreate='always' if is_sqlite() else 'auto'
    ) as batch_op:
        batch_op.drop_index('ix_todos_user_id_id')
        batch_op.drop_constraint(FK_NAME, type_='foreignkey')
        batch_op.create_foreign_key(FK_NAME, 'users', ['user_id'], ['id'])
        batch_op.drop_column('updated_at')
        batch_op.drop_column('created_at')
