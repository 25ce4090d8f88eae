"""misp_pushes: the MISP event each post-mortem's indicators go to, and the last failure

Revision ID: 0007_misp
Revises: 0006_access
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0007_misp'
down_revision = '0006_access'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'misp_pushes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('postmortem_id', sa.Integer(), nullable=False),
        sa.Column('event_uuid', sa.String(length=36), nullable=False),
        sa.Column('attempted_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('pushed_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_misp_pushes_postmortem_id_postmortems'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_misp_pushes')),
        sa.UniqueConstraint('postmortem_id', name=op.f('uq_misp_pushes_postmortem_id')),
    )


def downgrade() -> None:
    op.drop_table('misp_pushes')
