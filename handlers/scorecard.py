"""`/postmortem scorecard [90d|12m|2026-Q3|all]`, `/postmortem scorecard export [period]`, and the App Home
button that posts the full scorecard."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.runtime import Runtime
from bot.scorecard import blocks as scorecard_blocks
from bot.scorecard import flows as scorecard_flows
from handlers.guard import telling_user_of_failures
from handlers.replies import tell
from handlers.router import Answer, SlashCommand, SubcommandRouter

EXPORT = "export"


def register(app: App, runtime: Runtime, router: SubcommandRouter) -> None:
    def scorecard(command: SlashCommand, answer: Answer) -> None:
        first, _, rest = command.text.partition(" ")
        if first.lower() == EXPORT:
            answer(scorecard_flows.export_files(runtime, user_id=command.user_id, period_text=rest.strip()))
        else:
            answer(scorecard_flows.show(runtime, user_id=command.user_id, period_text=command.text))

    router.add("scorecard", "Security leads and facilitators: response times, follow-through, random vs targeted and "
                            "preventive figures across incidents (`90d`, `12m`, `2026-Q3`, `all`); `export` for CSV and JSON.",
               scorecard)

    @app.action(scorecard_blocks.POST_ACTION)
    def post_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        # From the Home tab: no response_url, so the scorecard goes to the person's DM.
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            tell(runtime, scorecard_flows.show(runtime, user_id=user_id, period_text=action["value"]),
                 user_id=user_id, response_url=body.get("response_url"))
