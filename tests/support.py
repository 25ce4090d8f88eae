"""Test helpers the demo has no use for; signed requests and the clock live in bot/demo/signed_requests.py
and bot/clock.py."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def notice_text(view: dict[str, Any]) -> str:
    """The text of a modal that only says something (a form has a callback_id and gives "")."""
    return "" if "callback_id" in view else str(view["blocks"][0]["text"]["text"])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
