"""calls.uniqueid unique: a call written by the IVR and again from the call journal is one row

Revision ID: 0002_durable
Revises: 0002_locationlink
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_durable'
down_revision = '0002_locationlink'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows that share a uniqueid (written before it was unique) keep it on the oldest; the
    # others get their own id appended, so nothing is lost and the index can be built.
    op.execute(sa.text(
        "UPDATE calls SET uniqueid = substr(uniqueid, 1, 40) || '#' || CAST(id AS VARCHAR(20)) "
        "WHERE id NOT IN (SELECT min(id) FROM calls GROUP BY uniqueid)"))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_uniqueid'))
        batch_op.create_index(batch_op.f('ix_calls_uniqueid'), ['uniqueid'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_uniqueid'))
        batch_op.create_index(batch_op.f('ix_calls_uniqueid'), ['uniqueid'], unique=False)
