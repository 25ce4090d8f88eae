"""claims and chains: publish claims, meeting view keys, reminder chains

Revision ID: 0006_data
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0006_data'
down_revision = '0005'
branch_labels = None
depends_on = None

ONE_PENDING_OVERDUE = "kind = 'action_overdue' AND status = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_view_id', sa.String(length=64), nullable=True))

    with op.batch_alter_table('report_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('posted_parts', sa.String(length=64), nullable=False, server_default=''))

    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_for', models.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE reminders SET planned_for = due_at")
    # Chains forked before this revision: keep the earliest pending overdue reminder of each action.
    op.execute(
        "UPDATE reminders SET status = 'cancelled' WHERE " + ONE_PENDING_OVERDUE + " AND id NOT IN "
        "(SELECT MIN(id) FROM reminders WHERE " + ONE_PENDING_OVERDUE + " GROUP BY subject_id)"
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.alter_column('planned_for', existing_type=models.base.UTCDateTime(timezone=True), nullable=False)
        batch_op.create_index('uq_reminders_one_pending_overdue', ['subject_id'], unique=True,
                              sqlite_where=sa.text(ONE_PENDING_OVERDUE), postgresql_where=sa.text(ONE_PENDING_OVERDUE))


def downgrade() -> None:
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('uq_reminders_one_pending_overdue')
        batch_op.drop_column('planned_for')
    with op.batch_alter_table('report_versions', schema=None) as batch_op:
        batch_op.drop_column('posted_parts')
        batch_op.drop_column('claimed_at')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('source_view_id')
