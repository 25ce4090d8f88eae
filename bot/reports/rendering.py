"""Jinja2 rendering of the report: Markdown, printable HTML, and the Slack summary's mrkdwn.

User text goes through `bot.slack.safe_text` for each output (defanged, then escaped for the format), so it
can inject neither markup nor a live link, whether or not its indicators were stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.reports.data import ReportData, format_duration
from bot.slack import safe_text

MISSING = "not recorded"
SECTION_BREAK = "\n<<section>>\n"


def utc_with_offset(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC%z").replace("UTC+0000", "UTC (+00:00)") if moment else MISSING


@cache
def environment(kind: str) -> Environment:
    env = Environment(
        loader=PackageLoader("bot.reports", "templates"),
        autoescape=kind == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = utc_with_offset
    env.filters["duration"] = format_duration
    env.filters["cell"] = safe_text.markdown_cell
    return env


NameOf = Callable[[str], str]


def _context(data: ReportData, *, version: int, published_at: datetime, name_of: NameOf,
             text_filter: Callable[[str], str]) -> dict[str, Any]:
    return {
        "data": data,
        "version": version,
        "published_at": published_at,
        "missing": MISSING,
        "t": text_filter,
        "who": lambda user_id: text_filter(name_of(user_id)) if user_id else MISSING,
    }


def render_markdown(data: ReportData, *, version: int, published_at: datetime, name_of: NameOf) -> str:
    return environment("md").get_template("report.md.j2").render(
        _context(data, version=version, published_at=published_at, name_of=name_of, text_filter=safe_text.markdown)
    )


def render_html(data: ReportData, *, version: int, published_at: datetime, name_of: NameOf) -> str:
    # Autoescape does the escaping; the filter defangs.
    return environment("html").get_template("report.html.j2").render(
        _context(data, version=version, published_at=published_at, name_of=name_of, text_filter=safe_text.html)
    )


SUMMARY_LESSONS = 5
SUMMARY_LESSON_CHARS = 300


def render_summary_sections(data: ReportData, *, version: int, changes: list[str], published_at: datetime) -> list[str]:
    """The Slack summary as mrkdwn sections (each becomes one section block). What does not fit is
    in the files, and the summary says so."""
    # Defanged before shortening, so a cut never leaves a live piece of an indicator.
    lessons = [safe_text.mrkdwn(lesson.text, limit=SUMMARY_LESSON_CHARS) for lesson in data.lessons[:SUMMARY_LESSONS]]
    text = environment("mrkdwn").get_template("summary.mrkdwn.j2").render(
        _context(data, version=version, published_at=published_at, name_of=str, text_filter=safe_text.mrkdwn_line)
        | {"changes": changes, "section_break": SECTION_BREAK.strip(), "who": lambda user_id: f"<@{user_id}>",
           "lessons": lessons, "more_lessons": max(0, len(data.lessons) - SUMMARY_LESSONS)}
    )
    return [section.strip() for section in text.split(SECTION_BREAK.strip()) if section.strip()]

