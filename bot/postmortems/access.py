"""Who takes part in a post-mortem, and whether it still takes changes.

Until the review channel exists, the people listed on the incident report take part; from then on the
channel's membership decides, so someone removed from the channel loses access by every path at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from models import Note, Participant, Postmortem, PostmortemStatus, Sighting
from models.db import single_statements

# One answer for "no post-mortem here" and "not yours", so a refusal reveals nothing.
NOT_FOUND = "I can't find a post-mortem you take part in here. Ask its facilitator to add you, or run this in the review channel."
CLOSED = "This post-mortem is closed."


def require_open(session: Session, postmortem: Postmortem, *, refusal: type[Exception], exclusive: bool = False) -> None:
    """Closed means read-only: every service that changes a post-mortem's record calls this first.

    It reads the status under a row lock held to the end of the transaction. Changes share it, so they
    run side by side; closing (an UPDATE of the row) waits for changes in flight and they for it, so
    none is written after the close. A purge takes it `exclusive`ly: it must see every change in
    flight committed before deciding that no other field holds an indicator. (SQLite runs one writer
    at a time and ignores the lock.)
    """
    status = session.scalar(
        select(Postmortem.status).where(Postmortem.id == postmortem.id).with_for_update(read=not exclusive)
    )
    if status is PostmortemStatus.CLOSED:
        raise refusal(CLOSED)


def ask_slack_first(
    runtime: Runtime, *, user_id: str, channel_id: str = "", postmortem_id: int | None = None, note_id: int | None = None,
    sighting_id: int | None = None, their_open_postmortems: bool = False, people: bool = False, their_zone: bool = False,
) -> None:
    """Ask Slack, before a transaction opens, what the checks inside it will need: a transaction must not
    hold the database (SQLite's one write lock, a pooled connection) while Slack answers, slowly or after a
    Retry-After. The gateway remembers the answers, so is_participant and the look-ups inside find them.

    The members of the review channel of the post-mortem named (by id, note, sighting, or the channel
    itself) and, with `their_open_postmortems`, of the open post-mortems `user_id` is listed on when the
    one named does not settle it (as open_postmortems_of reads them, then). `people`: the named
    post-mortem's participants and members too (their time zones). `their_zone`: `user_id`'s own. Read
    without a lock; a Slack failure raises here, before anything is written."""
    postmortems = POSTMORTEMS
    named = []
    if postmortem_id is not None:
        named.append(postmortems.c.id == postmortem_id)
    if channel_id:
        named.append(postmortems.c.channel_id == channel_id)
    if note_id is not None:
        named.append(postmortems.c.id == select(Note.postmortem_id).where(Note.id == note_id).scalar_subquery())
    if sighting_id is not None:
        named.append(postmortems.c.id == select(Sighting.postmortem_id).where(Sighting.id == sighting_id).scalar_subquery())
    rows = _rows(runtime, or_(*named)) if named else []
    people_to_know = _participants(runtime, [row.id for row in rows]) if people else set()
    people_to_know |= _ask_members(runtime, rows, people=people)
    # The choices are offered only when the one named does not settle it (locate found none the person
    # takes part in), so only then are their channels asked about: another review channel Slack no longer
    # answers for (the bot removed from it) must not fail a command that needs only this one.
    if their_open_postmortems and not _located(runtime, rows, user_id=user_id, postmortem_id=postmortem_id,
                                                channel_id=channel_id):
        _ask_members(runtime, _rows(runtime, (postmortems.c.status == PostmortemStatus.OPEN) & postmortems.c.id.in_(
            select(Participant.postmortem_id).where(Participant.user_id == user_id))), people=False)
    for person in sorted(people_to_know | ({user_id} if their_zone else set())):
        runtime.slack.user(person)


def _rows(runtime: Runtime, where: Any) -> list[Any]:
    with single_statements(runtime.engine) as connection:
        return list(connection.execute(select(POSTMORTEMS.c.id, POSTMORTEMS.c.channel_id).where(where)).all())


def _participants(runtime: Runtime, postmortem_ids: list[int]) -> set[str]:
    if not postmortem_ids:
        return set()
    with single_statements(runtime.engine) as connection:
        return set(connection.execute(select(Participant.user_id).where(
            Participant.postmortem_id.in_(postmortem_ids))).scalars().all())


def _ask_members(runtime: Runtime, rows: list[Any], *, people: bool) -> set[str]:
    """The members of the rows' review channels, asked of Slack now (the gateway remembers them)."""
    everyone: set[str] = set()
    for channel in sorted({row.channel_id for row in rows if row.channel_id}):
        members = runtime.slack.channel_members(channel=channel)
        if people:
            everyone |= members
    return everyone


def _located(runtime: Runtime, rows: list[Any], *, user_id: str, postmortem_id: int | None, channel_id: str) -> bool:
    """Whether locate() will find the post-mortem named (by id, else by channel) for `user_id` (the
    members are remembered by now; a post-mortem without a channel yet is read from its participants)."""
    if postmortem_id is None and not channel_id:
        return False
    row = next((row for row in rows if (row.id == postmortem_id if postmortem_id is not None
                                        else row.channel_id == channel_id)), None)
    if row is None:
        return False
    if row.channel_id is None:
        return user_id in _participants(runtime, [row.id])
    return user_id in runtime.slack.channel_members(channel=row.channel_id)


def is_participant(runtime: Runtime, postmortem: Postmortem, *, user_id: str) -> bool:
    if postmortem.channel_id is None:
        return user_id in postmortem.member_ids
    return user_id in runtime.slack.channel_members(channel=postmortem.channel_id)


def takes_part_in_channel(runtime: Runtime, *, channel_id: str, user_id: str) -> bool:
    """For a post-mortem known to have `channel_id` as its review channel: is_participant without the row."""
    return user_id in runtime.slack.channel_members(channel=channel_id)


@dataclass(frozen=True)
class LockedForChange:
    """What a change needs of a post-mortem, read under require_open's shared row lock: valid only
    inside the transaction that read it (the lock ends with it)."""

    id: int
    title: str
    status: PostmortemStatus


# The columns a change needs, of the table, so the ORM takes no part: the hot path of a busy review.
POSTMORTEMS = Postmortem.__table__
LOCK_IN_CHANNEL = (
    select(POSTMORTEMS.c.id, POSTMORTEMS.c.title, POSTMORTEMS.c.status)
    .where(POSTMORTEMS.c.channel_id == bindparam("channel_id"))
    .with_for_update(read=True)
)


def is_review_channel(connection: Connection, *, channel_id: str) -> bool:
    """Whether a post-mortem has `channel_id` as its review channel (a read that takes no lock)."""
    return connection.execute(select(POSTMORTEMS.c.id).where(POSTMORTEMS.c.channel_id == channel_id)).first() is not None


def lock_in_channel(session: Session | Connection, *, channel_id: str) -> LockedForChange | None:
    """The post-mortem whose review channel this is, read under require_open's shared row lock; who
    takes part is not checked (takes_part_in_channel)."""
    row = session.execute(LOCK_IN_CHANNEL, {"channel_id": channel_id}).one_or_none()
    return None if row is None else LockedForChange(id=row.id, title=row.title, status=row.status)


def in_channel(session: Session, runtime: Runtime, *, channel_id: str, user_id: str) -> Postmortem | None:
    """The post-mortem whose review channel this is, if `user_id` takes part in it."""
    postmortem = session.scalars(select(Postmortem).where(Postmortem.channel_id == channel_id)).one_or_none()
    if postmortem is None or not is_participant(runtime, postmortem, user_id=user_id):
        return None
    return postmortem


def by_id(session: Session, runtime: Runtime, *, postmortem_id: int, user_id: str) -> Postmortem | None:
    postmortem = session.get(Postmortem, postmortem_id)
    if postmortem is None or not is_participant(runtime, postmortem, user_id=user_id):
        return None
    return postmortem


def locate(session: Session, runtime: Runtime, *, user_id: str, channel_id: str = "",
           postmortem_id: int | None = None) -> Postmortem | None:
    """The post-mortem a button names (by id) or a slash command's channel is for, if `user_id` takes part."""
    if postmortem_id is not None:
        return by_id(session, runtime, postmortem_id=postmortem_id, user_id=user_id)
    return in_channel(session, runtime, channel_id=channel_id, user_id=user_id)


def open_postmortems_of(session: Session, runtime: Runtime, *, user_id: str) -> list[Postmortem]:
    """Open post-mortems listing `user_id` as facilitator or responder that they still take part in, newest first."""
    listed = session.scalars(
        select(Postmortem)
        .join(Participant)
        .where(Participant.user_id == user_id, Postmortem.status == PostmortemStatus.OPEN)
        .order_by(Postmortem.created_at.desc(), Postmortem.id.desc())
    )
    return [postmortem for postmortem in listed if is_participant(runtime, postmortem, user_id=user_id)]
