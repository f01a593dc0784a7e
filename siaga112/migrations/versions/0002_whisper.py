"""recordings keep what triage read in a transcript: matched keywords and named places

Revision ID: 0002_whisper
Revises: 0002_webedge
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_whisper'
down_revision = '0002_webedge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('recordings') as batch:
        batch.add_column(sa.Column('transcript_keywords', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('transcript_places', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recordings') as batch:
        batch.drop_column('transcript_places')
        batch.drop_column('transcript_keywords')
