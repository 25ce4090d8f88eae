"""The scorecard message and the App Home section. They lay out what the service computed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.reports.data import CLASSIFICATION_LABELS, SCORECARD_LABELS, VECTOR_LABELS, format_duration
from bot.scorecard.service import MEASURES, DurationFigure, Figures, Scorecard
from bot.slack import safe_text
from bot.slack.blocks import Message
from models import AttackVector, Classification

POST_ACTION = "scorecard_post"
TREND_POINTS_SHOWN = 12
VERIS = ("*Random or targeted* (VERIS): _targeted_: the victim was specifically chosen as a target; "
         "_opportunistic_ (random): the victim was found by a wide-net, mostly automated search for a weakness, "
         "not chosen for who they are.")
NOTE = ("Incidents count in the period they were detected in; actions in the period they were created in, with "
        "their state today. Done on time: marked done by the due date (UTC).")


def _duration(seconds: float | None) -> str:
    return format_duration(timedelta(seconds=round(seconds))) if seconds is not None else "not recorded"


def _share(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "none closed"


def _days(value: float | None) -> str:
    return f"{value:.1f} days" if value is not None else "not recorded"


def _count_change(now: int | None, before: int | None) -> str:
    if before is None:
        return ""
    if now is None:
        return f" (before: {before})"
    return f" (before: {before}, {now - before:+d})"


def _before(text: str | None) -> str:
    return f" (before: {text})" if text is not None else ""


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _incidents(current: Figures, previous: Figures | None) -> str:
    severities = ", ".join(
        f"{severity.value} {count}" + (f" ({previous.by_severity[severity]})" if previous else "")
        for severity, count in current.by_severity.items())
    vectors = ", ".join(f"{vector_label(vector)} {count}" for vector, count in vectors_by_count(current.by_vector)) or "none"
    kinds = ", ".join(f"{CLASSIFICATION_LABELS[kind] if kind else 'Not classified'} {current.by_classification[kind]}"
                      for kind in (*Classification, None) if current.by_classification.get(kind)) or "none"
    return (f"*Incidents: {current.incidents}*{_count_change(current.incidents, previous.incidents if previous else None)}\n"
            f"By severity: {severities}\nBy attack vector: {vectors}\nRandom or targeted: {kinds}")


def vector_label(vector: AttackVector | None) -> str:
    return VECTOR_LABELS[vector] if vector is not None else "Not classified"


def vectors_by_count(by_vector: dict[AttackVector | None, int]) -> list[tuple[AttackVector | None, int]]:
    """Most incidents first; ties in the order of their names, so every database shows the same."""
    return sorted(by_vector.items(), key=lambda item: (-item[1], vector_label(item[0])))


def _missing(figure: DurationFigure, incidents: int, missing_as: str) -> str:
    if not figure.missing:
        return ""
    verb = "has" if figure.missing == 1 else "have"
    return f"\n    _{figure.missing} of {incidents} incidents {verb} no {missing_as}_"


def _response_times(current: Figures, previous: Figures | None) -> str:
    lines = ["*Response times* (median · p90 · mean)"]
    for measure in MEASURES:
        figure = current.durations[measure.key]
        before = _duration(previous.durations[measure.key].median) if previous else None
        lines.append(f"• {measure.label} ({measure.span}): {_duration(figure.median)} · {_duration(figure.p90)} · "
                     f"{_duration(figure.mean)}{_before(before and 'median ' + before)}"
                     + _missing(figure, current.incidents, measure.missing_as))
    return "\n".join(lines)


def _trend(card: Scorecard) -> str:
    unit = "month" if card.period.granularity == "month" else "quarter"
    lines = [f"*Trend by {unit}* (median time to detect / contain / resolve / dwell; actions closed on time)"]
    for point in card.trend[-TREND_POINTS_SHOWN:]:
        medians = " / ".join(_duration(point.medians[measure.key]) for measure in MEASURES)
        lines.append(f"• {point.key}: {point.incidents} incidents; {medians}; {_share(point.on_time_share)}")
    return "\n".join(lines) if card.trend else f"*Trend by {unit}*: nothing in this period yet."


def _follow_through(current: Figures, previous: Figures | None) -> str:
    done, before = current.follow_through, previous.follow_through if previous else None
    reporting = current.reporting
    delay = (f"; {_duration(reporting.median_hours_to_publish * 3600)} after resolution (median)"
             if reporting.median_hours_to_publish is not None else "")
    overdue = (f"{done.overdue} (oldest {done.oldest_overdue_days} days, median {done.median_overdue_days:.0f} days overdue)"
               if done.overdue else "none")
    return (f"*Follow-through* — actions created: {done.created}{_count_change(done.created, before.created if before else None)}\n"
            f"Done on time {done.done_on_time} · done late {done.done_late} · open {done.open} · cancelled {done.cancelled}\n"
            f"Overdue: {overdue}\n"
            f"Closed on time: {_share(done.on_time_share)}{_before(_share(before.on_time_share) if before else None)} · "
            f"median time to close: {_days(done.median_days_to_close)}\n"
            f"Reports published: {reporting.published} of {current.incidents} incidents{delay}")


def _preventive(current: Figures, previous: Figures | None) -> str:
    lines = ["*Preventive initiatives* (summed over the incidents that recorded them)"]
    for name, label in SCORECARD_LABELS:
        now = current.preventive[name]
        before = previous.preventive[name] if previous else None
        shown = f"{now:,}" if now is not None else "not recorded"
        change = _count_change(now, before) if previous and before is not None else \
            (" (before: not recorded)" if previous else "")
        lines.append(f"• {label}: {shown}{change}")
    return "\n".join(lines)


def _recurrence(current: Figures, previous: Figures | None) -> str:
    return (f"*Recurrence*: {current.recurring} of {current.incidents} incidents shared an indicator of compromise "
            f"with an earlier incident{_count_change(current.recurring, previous.recurring if previous else None)}")


def scorecard(card: Scorecard, *, chart_note: str) -> Message:
    current, previous = card.current, card.previous
    compared = f"Compared with {card.period.previous.label}. " if card.period.previous else ""
    header = f"Security scorecard: {card.period.label}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": safe_text.plain_text(header)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": compared + NOTE}]},
        _section(_incidents(current, previous)),
        _section(_response_times(current, previous)),
        _section(_trend(card)),
        _section(_follow_through(current, previous)),
        _section(_preventive(current, previous)),
        _section(_recurrence(current, previous)),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": VERIS}]},
    ]
    if chart_note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": chart_note}]})
    return Message(text=f"{header}: {current.incidents} incidents", blocks=blocks)


def home_section(card: Scorecard) -> list[dict[str, Any]]:
    """This quarter's headline numbers and a button that posts the full scorecard."""
    current, previous = card.current, card.previous
    before = previous.durations if previous else None
    lines = [f"*{card.period.label} so far*" + (f" (before: {card.period.previous.label})" if card.period.previous else ""),
             f"Incidents: {current.incidents}{_count_change(current.incidents, previous.incidents if previous else None)}"]
    for key in ("detect", "contain"):
        measure = next(m for m in MEASURES if m.key == key)
        lines.append(f"Median {measure.label.lower()}: {_duration(current.durations[key].median)}"
                     f"{_before(_duration(before[key].median) if before else None)}")
    follow = current.follow_through
    lines.append(f"Actions closed on time: {_share(follow.on_time_share)}"
                 f"{_before(_share(previous.follow_through.on_time_share) if previous else None)} · overdue: {follow.overdue}")
    return [
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Security scorecard"}},
        _section("\n".join(lines)),
        {"type": "actions", "elements": [{"type": "button", "action_id": POST_ACTION, "value": card.period.key,
                                          "text": {"type": "plain_text", "text": "Post the full scorecard"}}]},
    ]
