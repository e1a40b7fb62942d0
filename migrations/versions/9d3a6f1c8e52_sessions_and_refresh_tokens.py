"""user_sessions and refresh_tokens: a session per login, rotating tokens

Access tokens issued before this revision carry no session id: they are
refused from the upgrade on (users log in again).

Revision ID: 9d3a6f1c8e52
Revises: 9d4e7a1c3b52
Create Date: 2026-12-02 15:20:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '9d3a6f1c8e52'
down_revision: Union[str, None] = '9d4e7a1c3b52'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('user_agent', sa.String(), nullable=False),
        sa.Column('address', sa.String(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'],
            ['users.id'],
            name='fk_user_sessions_user_id_users',
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name='pk_user_sessions'),
        # Ids are never reused: access tokens name their session by id.
        sqlite_autoincrement=True,
    )
    op.create_index(
        'ix_user_sessions_user_id', 'user_sessions', ['user_id']
    )
    op.create_table(
        'refresh_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('spent_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['session_id'],
            ['user_sessions.id'],
            name='fk_refresh_tokens_session_id_user_sessions',
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name='pk_refresh_tokens'),
        sa.UniqueConstraint(
            'token_hash', name='uq_refresh_tokens_token_hash'
        ),
    )
    op.create_index(
        'ix_refresh_tokens_session_id', 'refresh_tokens', ['session_id']
    )


def downgrade() -> None:
    op.drop_index('ix_refresh_tokens_session_id', table_name='refresh_tokens')
    op.drop_table('refresh_tokens')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
