"""`member_joined_channel` / `member_left_channel`: forget the remembered member list of that channel."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.runtime import Runtime


def register(app: App, runtime: Runtime) -> None:
    @app.event("member_joined_channel")
    @app.event("member_left_channel")
    def membership_changed(event: dict[str, Any]) -> None:
        runtime.slack.forget_members(channel=event["channel"])
