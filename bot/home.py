"""The App Home tab: each domain's section, composed here so that no domain imports a higher one."""

from __future__ import annotations

from typing import Any

from bot.actions import flows as action_flows
from bot.runtime import Runtime
from bot.scorecard import flows as scorecard_flows

HOME_BLOCK_LIMIT = 100


def view(runtime: Runtime, *, user_id: str) -> dict[str, Any]:
    """Follow-ups, review questions and post-mortems; then, for those who may see it, the security scorecard."""
    home = action_flows.home(runtime, user_id=user_id)
    scorecard = scorecard_flows.home_section(runtime, user_id=user_id)
    return {**home, "blocks": home["blocks"][:HOME_BLOCK_LIMIT - len(scorecard)] + scorecard}
