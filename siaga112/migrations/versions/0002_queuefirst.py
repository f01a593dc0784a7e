"""calls.pbx_answered_at: when Asterisk answered the 112 call, where answer times start

Revision ID: 0002_queuefirst
Revises: 0002_whisper
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_queuefirst'
down_revision = '0002_whisper'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('pbx_answered_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('pbx_answered_at')
