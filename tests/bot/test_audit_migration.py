"""Migration 0006_access: audit entries written before it get their note id, and deleted notes' words go."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from models.db import alembic_config


def test_old_audit_entries_get_their_note_and_lose_deleted_notes_text(tmp_path: Path) -> None:
    # A plain engine (no foreign-key pragma) so the rows can be written without a whole post-mortem.
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0005")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO notes (id, postmortem_id, author_id, category, text, dedupe_key, created_at, updated_at) "
            "VALUES (7, 1, 'U1', 'observation', 'still here', 'k7', '2026-11-20 10:00:00', '2026-11-20 10:00:00')"))
        connection.execute(text(
            "INSERT INTO audit_entries (id, postmortem_id, actor_id, action, detail, at) VALUES "
            "(1, 1, 'U1', 'note_edited', 'note 7 before: kept while the note exists', '2026-11-20 10:00:00'),"
            "(2, 1, 'U2', 'note_edited', 'note 9 before: secret http://evil-login.com/a', '2026-11-20 10:00:00'),"
            "(3, 1, 'U3', 'note_deleted', 'note 9 by U2: secret http://evil-login.com/b', '2026-11-20 10:00:00'),"
            "(4, 1, 'U3', 'something_else', 'not about a note', '2026-11-20 10:00:00')"))
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0006_access")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, note_id, detail FROM audit_entries ORDER BY id")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        (1, 7, "note 7 before: kept while the note exists"),
        (2, 9, "note 9 edited; earlier text removed when the note was deleted"),
        (3, 9, "note 9 by U2"),
        (4, None, "not about a note"),
    ]
