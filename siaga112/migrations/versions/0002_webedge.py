"""alarms remember the machine token that posted them; AML messages keep their warnings

An app's token (scope alarms:write) reads back only the alarms it posted, so each alarm keeps
the id of the token it came with (none for panels, buttons, SMS and console users). An AML
message kept despite a fault that leaves its position sound (a wrong `ml`, an unknown
version) keeps the list of those faults, for the call view.

Revision ID: 0002_webedge
Revises: 0002_durable
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_webedge'
down_revision = '0002_durable'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('posted_by_token_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_alarms_posted_by_token_id_api_tokens'), 'api_tokens',
                                    ['posted_by_token_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_alarms_posted_by_token_id'), ['posted_by_token_id'], unique=False)
    with op.batch_alter_table('aml_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('aml_messages', schema=None) as batch_op:
        batch_op.drop_column('warnings')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarms_posted_by_token_id'))
        batch_op.drop_constraint(batch_op.f('fk_alarms_posted_by_token_id_api_tokens'), type_='foreignkey')
        batch_op.drop_column('posted_by_token_id')
