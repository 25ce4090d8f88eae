"""Block Kit builders. They render what the services decided; they decide nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import safe_text


@dataclass(frozen=True)
class Message:
    """A message's notification text (also the screen-reader and fallback text) and its blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


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
