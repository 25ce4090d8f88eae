"""Which indicators a post-mortem's remaining words still hold, so a deleted note takes only its own with it.

Indicators are stored per post-mortem, not per source: when a note goes, each of its indicators is
kept only if some other recorded user field still contains it. Extraction is the costly step, so a
field is searched only if it contains the indicator's most distinctive word (which defanging never
changes: `hxxp://evil[.]com` still contains `evil`).
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from bot.indicators import extraction as indicators
from models import Action, Answer, Assessment, Indicator, Meeting, Note, Postmortem

# Words every URL shares (or its defanged spelling): useless for telling one indicator from another.
_COMMON_WORDS = {"http", "https", "hxxp", "hxxps", "ftp", "fxp", "mailto", "www"}
_PUNYCODE_LABEL = re.compile(r"xn--[a-z0-9-]+")


def user_texts(session: Session, *, postmortem_id: int) -> list[str]:
    """Every recorded field a person typed for this post-mortem."""
    postmortem = session.get(Postmortem, postmortem_id)
    texts: list[str] = []
    if postmortem is not None:
        texts += [postmortem.title, postmortem.system_location, postmortem.system_function, postmortem.identified_how,
                  postmortem.containment_steps, postmortem.impact, postmortem.evidence]
    texts += session.scalars(select(Note.text).where(Note.postmortem_id == postmortem_id))
    texts += session.scalars(select(Answer.text).where(Answer.postmortem_id == postmortem_id))
    texts += session.scalars(select(Assessment.rationale).where(Assessment.postmortem_id == postmortem_id))
    for title, description in session.execute(
        select(Action.title, Action.description).where(Action.postmortem_id == postmortem_id)
    ).tuples():
        texts += [title, description]
    for location, agenda in session.execute(
        select(Meeting.location, Meeting.agenda).where(Meeting.postmortem_id == postmortem_id)
    ).tuples():
        texts += [location, agenda]
    return [text for text in texts if text]


def _distinctive_word(value: str) -> str:
    """The longest word of an indicator, with punycode labels read as the letters people type."""

    def unicode_label(match: re.Match[str]) -> str:
        try:
            return match.group(0).encode("ascii").decode("idna")
        except UnicodeError:
            return match.group(0)

    readable = _PUNYCODE_LABEL.sub(unicode_label, value.lower())
    words = [word for word in re.split(r"[\W_]+", readable) if word and word not in _COMMON_WORDS]
    return max(words, key=len, default=readable)


def release(session: Session, *, postmortem_id: int, removed_text: str) -> set[tuple[str, str]]:
    """After `removed_text` left the post-mortem, drop its indicators that no remaining field holds.
    Returns the (kind, value) pairs dropped."""
    candidates = set(indicators.extract(removed_text))
    if not candidates:
        return set()
    words = {pair: _distinctive_word(pair[1]) for pair in candidates}
    held: set[tuple[str, str]] = set()
    for text in user_texts(session, postmortem_id=postmortem_id):
        lowered = text.lower()
        if any(words[pair] in lowered for pair in candidates - held):
            held |= candidates & set(indicators.extract(text))
        if held == candidates:
            return set()
    released = candidates - held
    session.execute(
        delete(Indicator)
        .where(Indicator.postmortem_id == postmortem_id, tuple_(Indicator.kind, Indicator.value).in_(sorted(released)))
        .execution_options(synchronize_session=False)
    )
    return released
