"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agencies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sms_number', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agencies')),
    sa.UniqueConstraint('code', name=op.f('uq_agencies_code'))
    )
    op.create_table('alarm_sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('account', sa.String(length=16), nullable=True),
    sa.Column('device_id', sa.String(length=120), nullable=True),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('aes_key', sa.String(length=64), nullable=True),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('supervision_interval_s', sa.Integer(), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offline', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_sites')),
    sa.UniqueConstraint('account', name=op.f('uq_alarm_sites_account')),
    sa.UniqueConstraint('device_id', name=op.f('uq_alarm_sites_device_id'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('cameras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('stream_url', sa.Text(), nullable=True),
    sa.Column('snapshot_url', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cameras')),
    sa.UniqueConstraint('name', name=op.f('uq_cameras_name'))
    )
    op.create_table('cell_towers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('radio', sa.String(length=8), nullable=False),
    sa.Column('mcc', sa.Integer(), nullable=False),
    sa.Column('mnc', sa.Integer(), nullable=False),
    sa.Column('area', sa.Integer(), nullable=False),
    sa.Column('cell', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('range_m', sa.Float(), nullable=True),
    sa.Column('samples', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cell_towers')),
    sa.UniqueConstraint('mcc', 'mnc', 'area', 'cell', name=op.f('uq_cell_towers_mcc'))
    )
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('audience', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_at'), ['at'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('kecamatan', sa.String(length=120), nullable=True),
    sa.Column('kelurahan', sa.String(length=120), nullable=True),
    sa.Column('police_sector', sa.String(length=120), nullable=True),
    sa.Column('routing', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_dispatch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_status'), ['status'], unique=False)

    op.create_table('jurisdictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=True),
    sa.Column('parent_name', sa.String(length=120), nullable=True),
    sa.Column('police_sector', sa.String(length=120), nullable=True),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.Column('centroid_lat', sa.Float(), nullable=True),
    sa.Column('centroid_lon', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jurisdictions')),
    sa.UniqueConstraint('code', name=op.f('uq_jurisdictions_code'))
    )
    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jurisdictions_level'), ['level'], unique=False)

    op.create_table('pois',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('agency_code', sa.String(length=40), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=True),
    sa.Column('source_key', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pois')),
    sa.UniqueConstraint('source_key', name=op.f('uq_pois_source_key'))
    )
    with op.batch_alter_table('pois', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pois_kind'), ['kind'], unique=False)

    op.create_table('reporters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('app_user_id', sa.String(length=120), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('strikes', sa.Integer(), nullable=False),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appeal_state', sa.String(length=16), nullable=True),
    sa.Column('appeal_text', sa.Text(), nullable=True),
    sa.Column('appeal_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appeal_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appeal_decided_by', sa.String(length=120), nullable=True),
    sa.Column('appeal_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reporters')),
    sa.UniqueConstraint('phone', name=op.f('uq_reporters_phone'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('phone_interface', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('phone_interface', name=op.f('uq_users_phone_interface')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('alarms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=True),
    sa.Column('routing', sa.JSON(), nullable=True),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=120), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=120), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_alarms_incident_id_incidents')),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], name=op.f('fk_alarms_reporter_id_reporters')),
    sa.ForeignKeyConstraint(['site_id'], ['alarm_sites.id'], name=op.f('fk_alarms_site_id_alarm_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_alarms_dedupe_key'))
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarms_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_source'), ['source'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_state'), ['state'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_log_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uniqueid', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=200), nullable=True),
    sa.Column('caller', sa.String(length=32), nullable=True),
    sa.Column('caller_raw', sa.String(length=200), nullable=True),
    sa.Column('caller_name', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('service_choice', sa.String(length=16), nullable=True),
    sa.Column('category_hint', sa.String(length=40), nullable=True),
    sa.Column('silent', sa.Boolean(), nullable=False),
    sa.Column('silent_emergency', sa.Boolean(), nullable=False),
    sa.Column('prank_suspect', sa.Boolean(), nullable=False),
    sa.Column('repeat_count', sa.Integer(), nullable=False),
    sa.Column('ivr_step', sa.String(length=40), nullable=True),
    sa.Column('ivr_error', sa.String(length=300), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('agent_interface', sa.String(length=200), nullable=True),
    sa.Column('confirmed_fix_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_calls_agent_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_calls_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_caller'), ['caller'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_queued_at'), ['queued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_uniqueid'), ['uniqueid'], unique=False)

    op.create_table('incident_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_events_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_events_incident_id'), ['incident_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=120), nullable=False),
    sa.Column('to_number', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_notifications_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_state'), ['state'], unique=False)

    op.create_table('service_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_code', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_notes', sa.Text(), nullable=True),
    sa.Column('agency_responsible', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('media_url', sa.String(length=500), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('contact', sa.JSON(), nullable=True),
    sa.Column('routing', sa.JSON(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_service_requests_incident_id_incidents')),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], name=op.f('fk_service_requests_reporter_id_reporters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_requests'))
    )
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_requests_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_requests_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_requests_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_requests_service_code'), ['service_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_requests_status'), ['status'], unique=False)

    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('callsign', sa.String(length=40), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('position_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('position_source', sa.String(length=8), nullable=True),
    sa.Column('position_stale', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_units_agency_id_agencies')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_units_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('callsign', name=op.f('uq_units_callsign'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_units_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_units_updated_at'), ['updated_at'], unique=False)

    op.create_table('alarm_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author', sa.String(length=120), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_alarm_messages_alarm_id_alarms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_messages'))
    )
    with op.batch_alter_table('alarm_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_messages_alarm_id'), ['alarm_id'], unique=False)

    op.create_table('aml_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('caller', sa.String(length=32), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('positioning_method', sa.String(length=16), nullable=True),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_aml_messages_call_id_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aml_messages'))
    )
    with op.batch_alter_table('aml_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aml_messages_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aml_messages_caller'), ['caller'], unique=False)

    op.create_table('button_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=120), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_button_events_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['site_id'], ['alarm_sites.id'], name=op.f('fk_button_events_site_id_alarm_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_button_events')),
    sa.UniqueConstraint('site_id', 'event_id', name=op.f('uq_button_events_site_id'))
    )
    with op.batch_alter_table('button_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_button_events_site_id'), ['site_id'], unique=False)

    op.create_table('incident_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('callsign', sa.String(length=40), nullable=False),
    sa.Column('agency_code', sa.String(length=40), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_by', sa.String(length=120), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_units_incident_id_incidents')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_incident_units_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_units'))
    )
    with op.batch_alter_table('incident_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_units_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_units_unit_id'), ['unit_id'], unique=False)

    op.create_table('location_fixes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_location_fixes_call_id_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_location_fixes'))
    )
    with op.batch_alter_table('location_fixes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_location_fixes_call_id'), ['call_id'], unique=False)

    # calls and location_fixes refer to each other: the call's confirmed fix is added last.
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_calls_confirmed_fix_id_location_fixes'), 'location_fixes',
                                    ['confirmed_fix_id'], ['id'])

    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_reason', sa.String(length=300), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('browser_path', sa.String(length=500), nullable=True),
    sa.Column('legal_hold', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transcript_status', sa.String(length=16), nullable=False),
    sa.Column('transcript_reason', sa.String(length=300), nullable=True),
    sa.Column('transcript', sa.Text(), nullable=True),
    sa.Column('transcript_words', sa.JSON(), nullable=True),
    sa.Column('transcribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_recordings_call_id_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings')),
    sa.UniqueConstraint('call_id', 'kind', name=op.f('uq_recordings_call_id'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_call_id'), ['call_id'], unique=False)

    op.create_table('transcription_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('worker', sa.String(length=80), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_transcription_jobs_recording_id_recordings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcription_jobs')),
    sa.UniqueConstraint('recording_id', name=op.f('uq_transcription_jobs_recording_id'))
    )
    with op.batch_alter_table('transcription_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcription_jobs_lease_until'), ['lease_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_transcription_jobs_state'), ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transcription_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transcription_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_transcription_jobs_lease_until'))

    op.drop_table('transcription_jobs')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_call_id'))

    op.drop_table('recordings')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_calls_confirmed_fix_id_location_fixes'), type_='foreignkey')

    with op.batch_alter_table('location_fixes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_location_fixes_call_id'))

    op.drop_table('location_fixes')
    with op.batch_alter_table('incident_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_units_unit_id'))
        batch_op.drop_index(batch_op.f('ix_incident_units_incident_id'))

    op.drop_table('incident_units')
    with op.batch_alter_table('button_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_button_events_site_id'))

    op.drop_table('button_events')
    with op.batch_alter_table('aml_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aml_messages_caller'))
        batch_op.drop_index(batch_op.f('ix_aml_messages_call_id'))

    op.drop_table('aml_messages')
    with op.batch_alter_table('alarm_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarm_messages_alarm_id'))

    op.drop_table('alarm_messages')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_updated_at'))
        batch_op.drop_index(batch_op.f('ix_units_status'))
        batch_op.drop_index(batch_op.f('ix_units_agency_id'))

    op.drop_table('units')
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_requests_status'))
        batch_op.drop_index(batch_op.f('ix_service_requests_service_code'))
        batch_op.drop_index(batch_op.f('ix_service_requests_requested_at'))
        batch_op.drop_index(batch_op.f('ix_service_requests_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_service_requests_incident_id'))

    op.drop_table('service_requests')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_state'))
        batch_op.drop_index(batch_op.f('ix_notifications_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_notifications_incident_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_events_incident_id'))

    op.drop_table('incident_events')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_uniqueid'))
        batch_op.drop_index(batch_op.f('ix_calls_state'))
        batch_op.drop_index(batch_op.f('ix_calls_queued_at'))
        batch_op.drop_index(batch_op.f('ix_calls_incident_id'))
        batch_op.drop_index(batch_op.f('ix_calls_caller'))

    op.drop_table('calls')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarms_state'))
        batch_op.drop_index(batch_op.f('ix_alarms_source'))
        batch_op.drop_index(batch_op.f('ix_alarms_site_id'))
        batch_op.drop_index(batch_op.f('ix_alarms_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_alarms_received_at'))
        batch_op.drop_index(batch_op.f('ix_alarms_incident_id'))

    op.drop_table('alarms')
    op.drop_table('users')
    op.drop_table('reporters')
    with op.batch_alter_table('pois', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pois_kind'))

    op.drop_table('pois')
    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jurisdictions_level'))

    op.drop_table('jurisdictions')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_status'))
        batch_op.drop_index(batch_op.f('ix_incidents_created_at'))
        batch_op.drop_index(batch_op.f('ix_incidents_category'))

    op.drop_table('incidents')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_at'))

    op.drop_table('events')
    op.drop_table('cell_towers')
    op.drop_table('cameras')
    op.drop_table('api_tokens')
    op.drop_table('alarm_sites')
    op.drop_table('agencies')
