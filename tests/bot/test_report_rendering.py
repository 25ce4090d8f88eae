"""Report data and rendering without Slack: query count, missing data (escaping: tests/bot/test_safe_text.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from bot.reports import service as reports
from bot.runtime import Runtime
from models import Answer, Note, NoteCategory, Participant, ParticipantRole, Postmortem, Severity
from tests.support import utc

T0 = utc(2026, 11, 17, 10)


def make_postmortem(runtime: Runtime, *, notes: int, answers: int = 0) -> int:
    with runtime.sessions.begin() as session:
        postmortem = Postmortem(team_id="T", title="Minimal", severity=Severity.LOW, detected_at=T0, created_by="U1",
                                facilitator_id="U1", source_view_id=f"V{notes}", created_at=T0)
        postmortem.participants = [Participant(user_id="U1", role=ParticipantRole.FACILITATOR)]
        session.add(postmortem)
        session.flush()
        session.add_all(
            Note(postmortem_id=postmortem.id, author_id="U1", category=list(NoteCategory)[n % 7], text=f"note {n}",
                 occurred_at=T0 + timedelta(minutes=n), dedupe_key=f"k{postmortem.id}:{n}", created_at=T0, updated_at=T0)
            for n in range(notes)
        )
        session.add_all(Answer(postmortem_id=postmortem.id, user_id=f"U{n}", question_key="resources", text="ok",
                               updated_at=T0) for n in range(answers))
        return postmortem.id


def queries_to_render(runtime: Runtime, postmortem_id: int) -> int:
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        with runtime.sessions() as session:
            reports.render(session, postmortem_id=postmortem_id, name_of=str, now=T0)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)
    return len(statements)


def test_query_count_does_not_grow_with_notes(runtime: Runtime) -> None:
    few = make_postmortem(runtime, notes=5, answers=2)
    many = make_postmortem(runtime, notes=300, answers=40)
    assert queries_to_render(runtime, few) == queries_to_render(runtime, many)


def test_missing_data_renders_as_not_recorded(runtime: Runtime) -> None:
    postmortem_id = make_postmortem(runtime, notes=0)
    with runtime.sessions() as session:
        _, published = reports.render(session, postmortem_id=postmortem_id, name_of=str, now=T0)
    assert "Classification: not recorded" in published.markdown
    assert "| Compromise began | not recorded |" in published.markdown
    assert "Whole incident: not recorded" in published.markdown
    for document in (published.markdown, published.html, "".join(published.summary_sections)):
        assert "None" not in document.replace("None yet.", "")

