"""The `/postmortem` help: what each subcommand does, and what to do after a typo."""

from __future__ import annotations

from bot.slack import safe_text


def help_text(subcommands: list[tuple[str, str]]) -> str:
    lines = "\n".join(f"• `/postmortem {name}` — {summary}" for name, summary in subcommands)
    return f"*Post-mortem bot* — here is what I can do:\n{lines}"


def unknown_subcommand(typed: str, subcommands: list[tuple[str, str]]) -> str:
    return f"I don't know `{safe_text.mrkdwn_line(typed, limit=40)}`.\n\n" + help_text(subcommands)
