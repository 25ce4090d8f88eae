"""Block Kit builders. They render what the services decided; they decide nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.slack import safe_text


@dataclass(frozen=True)
class Message:
    """A message's notification text (also the screen-reader and fallback text) and its blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def line_sections(text: str) -> list[dict[str, Any]]:
    """Section blocks of `text`, split at line ends so none passes Slack's 3,000 characters (each line
    must already fit: its user text went through safe_text with a limit)."""
    blocks: list[dict[str, Any]] = []
    chunk = ""
    for line in text.splitlines(keepends=True):
        if chunk and len(chunk) + len(line) > safe_text.SECTION_TEXT:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
            chunk = ""
        chunk += line
    if chunk.strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    return blocks


def slack_date(moment: datetime | None, *, missing: str = "not recorded") -> str:
    """Slack renders `<!date^...>` in each reader's own time zone; the fallback text is UTC."""
    if moment is None:
        return missing
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def notice_view(text: str, *, title: str = "Saved") -> dict[str, Any]:
    """A modal that only says something: a confirmation, or why the form can't be shown."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": safe_text.plain_text(title, limit=safe_text.MODAL_TITLE)},
        "close": {"type": "plain_text", "text": "Done"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
