"""audit entries name their note and keep no words of a deleted one

Revision ID: 0006_access
Revises: 0006_data (chained after main's data migration when merging main)
Create Date: 2026-11-29

Deleting a note purges it, so the audit trail says who deleted which note and when, not what it said.
Entries written before this revision carried the text in `detail` ("note 7 by U1: <text>" for a
deletion, "note 7 before: <text>" for an edit): they get their note id, and the words of notes that
no longer exist are removed.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = '0006_access'
down_revision = '0006_data'
branch_labels = None
depends_on = None

_DETAIL = re.compile(r"^note (\d+)(?: by (\S+?))?(?::| before:)")


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entries_note_id'), ['note_id'], unique=False)

    audit = sa.table('audit_entries', sa.column('id', sa.Integer), sa.column('note_id', sa.Integer),
                     sa.column('action', sa.String), sa.column('detail', sa.Text))
    notes = sa.table('notes', sa.column('id', sa.Integer))
    connection = op.get_bind()
    existing = set(connection.execute(sa.select(notes.c.id)).scalars())
    rows = connection.execute(sa.select(audit.c.id, audit.c.action, audit.c.detail)).all()
    for entry_id, action, detail in rows:
        match = _DETAIL.match(detail)
        if match is None:
            continue
        note_id, author = int(match.group(1)), match.group(2)
        values: dict[str, object] = {'note_id': note_id}
        if action == 'note_deleted':
            values['detail'] = f"note {note_id} by {author}" if author else f"note {note_id}"
        elif action == 'note_edited' and note_id not in existing:
            values['detail'] = f"note {note_id} edited; earlier text removed when the note was deleted"
        connection.execute(sa.update(audit).where(audit.c.id == entry_id).values(**values))


def downgrade() -> None:
    # The removed words are gone for good; only the column goes.
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_note_id'))
        batch_op.drop_column('note_id')
