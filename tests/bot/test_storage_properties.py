"""Whatever a person types is stored exactly as cleaned, once per delivery key, on both databases:
the ON CONFLICT inserts and upserts change how rows get in, never what they hold."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.indicators import extraction as indicators
from bot.notes import questionnaire
from bot.notes import service as notes
from bot.runtime import Runtime
from models import Answer, Indicator, Note, Participant, ParticipantRole, Postmortem, Severity
from models.db import transaction
from tests.conftest import LEAD
from tests.support import utc

NOW = utc(2026, 11, 20, 15, 0)
keys = itertools.count()
# Ordinary text, control characters, and text carrying indicators (URLs, addresses, defanged forms).
typed = st.text(max_size=400) | st.builds(
    lambda words, ioc: f"{words} {ioc} {words}",
    st.text(max_size=60),
    st.sampled_from(["http://evil-login.com/x", "hxxp://bad[.]ru/a", "198.51.100.7", "ops@evil-login.com", "evil-login.com"]),
)
examples = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def new_postmortem(runtime: Runtime) -> Postmortem:
    with transaction(runtime.sessions) as session:
        postmortem = Postmortem(team_id="T", title="Phish", severity=Severity.HIGH, detected_at=NOW, created_by=LEAD,
                                facilitator_id=LEAD, source_view_id=f"V{next(keys)}", created_at=NOW)
        postmortem.participants = [Participant(user_id=LEAD, role=ParticipantRole.FACILITATOR)]
        session.add(postmortem)
        session.flush()
        return postmortem


@examples
@given(text=typed)
def test_a_note_delivered_twice_is_stored_once_exactly_as_cleaned(runtime: Runtime, text: str) -> None:
    postmortem = new_postmortem(runtime)
    key = f"property:{next(keys)}"
    outcomes = []
    for _ in range(2):
        with transaction(runtime.sessions) as session:
            try:
                note, created = notes.add(session, postmortem=postmortem, author_id=LEAD,
                                          draft=notes.NoteDraft(text=text), dedupe_key=key, now=NOW)
            except notes.NoteRefused:
                outcomes.append("refused")
                continue
            outcomes.append((note.text, created))
    cleaned = notes.clean(text)
    if not cleaned or len(cleaned) > notes.NOTE_MAX_CHARS:
        assert outcomes == ["refused", "refused"]
        return
    assert outcomes == [(cleaned, True), (cleaned, False)]
    with transaction(runtime.sessions) as session:
        assert session.scalars(select(Note.text).where(Note.dedupe_key == key)).all() == [cleaned]
        stored = session.execute(select(Indicator.kind, Indicator.value).where(
            Indicator.postmortem_id == postmortem.id)).tuples().all()
    assert sorted(stored) == sorted(set(indicators.extract(cleaned)))


@examples
@given(first=typed, second=typed)
def test_answers_saved_again_keep_only_the_latest_text(runtime: Runtime, first: str, second: str) -> None:
    postmortem = new_postmortem(runtime)
    key = questionnaire.QUESTIONS[0].key
    for text in (first, second):
        with transaction(runtime.sessions) as session:
            questionnaire.save(session, postmortem=postmortem, user_id=LEAD, answers={key: text}, now=NOW)
    with transaction(runtime.sessions) as session:
        stored = session.scalars(select(Answer.text).where(Answer.postmortem_id == postmortem.id)).all()
        indicator_count = session.scalar(select(func.count()).select_from(Indicator).where(
            Indicator.postmortem_id == postmortem.id))
    latest = notes.clean(second)
    assert stored == ([latest] if latest else [])
    assert indicator_count == len(set(indicators.extract(notes.clean(first))) | set(indicators.extract(latest)))
