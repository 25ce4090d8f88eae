"""Jinja2 rendering of the report: Markdown, printable HTML, and the Slack summary's mrkdwn.

User text is defanged then escaped for each output, so it can inject neither markup nor a live link.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.indicators import Defanger
from bot.report_data import ReportData, format_duration
from bot.slack_gateway import escape_mrkdwn

MISSING = "not recorded"
_INLINE_MARKDOWN = re.compile(r"([\\`*_\[\]()|~!])")
_LINE_START_MARKDOWN = re.compile(r"^(\s*)([#+\-=]|\d+[.)])", re.MULTILINE)
SECTION_BREAK = "\n<<section>>\n"


def escape_markdown(text: str) -> str:
    """Inert in Markdown: no HTML, no links or emphasis, no headings, lists or quotes at line starts."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE_MARKDOWN.sub(r"\\\1", text)
    return _LINE_START_MARKDOWN.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def utc_with_offset(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC%z").replace("UTC+0000", "UTC (+00:00)") if moment else MISSING


@cache
def environment(kind: str) -> Environment:
    env = Environment(
        loader=PackageLoader("bot", "templates"),
        autoescape=kind == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = utc_with_offset
    env.filters["duration"] = format_duration
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
    defang = Defanger(data.indicators)
    return environment("md").get_template("report.md.j2").render(
        _context(data, version=version, published_at=published_at, name_of=name_of,
                 text_filter=lambda text: escape_markdown(defang(text or "")))
    )


def render_html(data: ReportData, *, version: int, published_at: datetime, name_of: NameOf) -> str:
    defang = Defanger(data.indicators)
    # Autoescape does the escaping; the filter only defangs.
    return environment("html").get_template("report.html.j2").render(
        _context(data, version=version, published_at=published_at, name_of=name_of, text_filter=lambda text: defang(text or ""))
    )


SUMMARY_LESSONS = 5
SUMMARY_LESSON_CHARS = 300


def render_summary_sections(data: ReportData, *, version: int, changes: list[str], published_at: datetime) -> list[str]:
    """The Slack summary as mrkdwn sections (each becomes one section block). What does not fit is
    in the files, and the summary says so."""
    defang = Defanger(data.indicators)
    lessons = [_clip(lesson.text, SUMMARY_LESSON_CHARS) for lesson in data.lessons[:SUMMARY_LESSONS]]
    text = environment("mrkdwn").get_template("summary.mrkdwn.j2").render(
        _context(data, version=version, published_at=published_at, name_of=str,
                 text_filter=lambda text: escape_mrkdwn(defang(text or "")))
        | {"changes": changes, "section_break": SECTION_BREAK.strip(), "who": lambda user_id: f"<@{user_id}>",
           "lessons": lessons, "more_lessons": max(0, len(data.lessons) - SUMMARY_LESSONS)}
    )
    return [section.strip() for section in text.split(SECTION_BREAK.strip()) if section.strip()]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "… (full text in the report files)"
