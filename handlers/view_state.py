"""Reading a view's `state.values` (keyed by block_id, then action_id) into plain Python values."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from bot.slack import safe_text


class ViewValues:
    """Values of a submitted view whose inputs use the same id for block and action."""

    def __init__(self, view: dict[str, Any]) -> None:
        self._values: dict[str, dict[str, Any]] = view.get("state", {}).get("values", {})

    def _element(self, name: str) -> dict[str, Any]:
        return self._values.get(name, {}).get(name, {})

    def text(self, name: str) -> str:
        """What the person typed, normalised once here (line breaks, no control characters)."""
        return safe_text.normalise(self._element(name).get("value"))

    def option(self, name: str) -> str | None:
        selected = self._element(name).get("selected_option")
        return selected["value"] if selected else None

    def user(self, name: str) -> str | None:
        return self._element(name).get("selected_user")

    def users(self, name: str) -> list[str]:
        return list(self._element(name).get("selected_users") or [])

    def date(self, name: str) -> date | None:
        selected = self._element(name).get("selected_date")
        return date.fromisoformat(selected) if selected else None

    def moment(self, name: str) -> datetime | None:
        epoch = self._element(name).get("selected_date_time")
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc) if epoch is not None else None
