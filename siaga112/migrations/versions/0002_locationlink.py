"""location links: links sent to callers, the photos and video they return, video signalling

Revision ID: 0002_locationlink
Revises: 0001
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_locationlink'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('location_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('alarm_id', sa.Integer(), nullable=True),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('to_number', sa.String(length=40), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('send_state', sa.String(length=16), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('device_hash', sa.String(length=64), nullable=True),
    sa.Column('bound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_position_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('positions', sa.Integer(), nullable=False),
    sa.Column('photos', sa.Integer(), nullable=False),
    sa.Column('budget_minute', sa.BigInteger(), nullable=False),
    sa.Column('budget_used', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_location_links_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_location_links_call_id_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_location_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_location_links_token_hash'))
    )
    with op.batch_alter_table('location_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_location_links_alarm_id'), ['alarm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_location_links_call_id'), ['call_id'], unique=False)

    op.create_table('link_media',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('alarm_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('view_path', sa.String(length=500), nullable=True),
    sa.Column('view_sha256', sa.String(length=64), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('legal_hold', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_link_media_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_link_media_call_id_calls')),
    sa.ForeignKeyConstraint(['link_id'], ['location_links.id'], name=op.f('fk_link_media_link_id_location_links')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_media'))
    )
    with op.batch_alter_table('link_media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_media_alarm_id'), ['alarm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_media_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_media_link_id'), ['link_id'], unique=False)

    op.create_table('link_signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('body', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['location_links.id'], name=op.f('fk_link_signals_link_id_location_links')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_signals'))
    )
    with op.batch_alter_table('link_signals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_signals_link_id'), ['link_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('link_signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_signals_link_id'))

    op.drop_table('link_signals')
    with op.batch_alter_table('link_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_media_link_id'))
        batch_op.drop_index(batch_op.f('ix_link_media_call_id'))
        batch_op.drop_index(batch_op.f('ix_link_media_alarm_id'))

    op.drop_table('link_media')
    with op.batch_alter_table('location_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_location_links_call_id'))
        batch_op.drop_index(batch_op.f('ix_location_links_alarm_id'))

    op.drop_table('location_links')
