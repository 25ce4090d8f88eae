"""monitoring: windows, sightings of indicators in alert channels, check-in answers

Revision ID: 0008_monitoring
Revises: 0007_misp
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0008_monitoring'
down_revision = '0007_misp'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitoring_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('postmortem_id', sa.Integer(), nullable=False),
    sa.Column('reminder_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Enum('all_quiet', 'something_back', name='checkinanswer', native_enum=False, length=16), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('answered_by', sa.String(length=32), nullable=False),
    sa.Column('answered_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_monitoring_checkins_postmortem_id_postmortems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_checkins')),
    sa.UniqueConstraint('reminder_id', name=op.f('uq_monitoring_checkins_reminder_id'))
    )
    with op.batch_alter_table('monitoring_checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_checkins_postmortem_id'), ['postmortem_id'], unique=False)

    op.create_table('monitoring_windows',
    sa.Column('postmortem_id', sa.Integer(), nullable=False),
    sa.Column('ends_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stopped_by', sa.String(length=32), nullable=True),
    sa.Column('changed_by', sa.String(length=32), nullable=True),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_monitoring_windows_postmortem_id_postmortems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('postmortem_id', name=op.f('pk_monitoring_windows'))
    )
    op.create_table('sightings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('postmortem_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('message_ts', sa.String(length=32), nullable=False),
    sa.Column('seen_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.Enum('pending', 'recurrence', 'not_related', name='verdict', native_enum=False, length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_sightings_postmortem_id_postmortems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sightings')),
    sa.UniqueConstraint('indicator_id', 'channel_id', 'message_ts', name=op.f('uq_sightings_indicator_id'))
    )
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sightings_postmortem_id'), ['postmortem_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sightings_postmortem_id'))

    op.drop_table('sightings')
    op.drop_table('monitoring_windows')
    with op.batch_alter_table('monitoring_checkins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_checkins_postmortem_id'))

    op.drop_table('monitoring_checkins')
