"""Monitoring: alerts read from MONITOR_CHANNELS, the verdict and check-in buttons, `/postmortem monitor`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.monitoring import blocks as monitoring_blocks
from bot.monitoring import flows as monitoring_flows
from bot.monitoring.watchlist import Watchlist
from bot.reminders import dispatcher
from bot.runtime import Runtime
from handlers.guard import keeping_the_modal_open, telling_user_of_failures
from handlers.replies import answer_submission, open_form, tell
from handlers.router import Answer, SlashCommand, SubcommandRouter
from handlers.view_state import ViewValues
from models import Verdict

VERDICTS = {monitoring_blocks.RECURRENCE_ACTION: Verdict.RECURRENCE, monitoring_blocks.NOT_RELATED_ACTION: Verdict.NOT_RELATED}


def register(app: App, runtime: Runtime, router: SubcommandRouter) -> None:
    watchlist = Watchlist()

    # Bolt acks events before this runs; Slack's redeliveries (X-Slack-Retry-Num) find the sightings stored.
    @app.event("message")
    def message_posted(event: dict[str, Any]) -> None:
        notices = monitoring_flows.read_alert(runtime, watchlist=watchlist, channel_id=event.get("channel", ""), event=event)
        dispatcher.send_now(runtime, reminder_ids=notices)

    def monitor(command: SlashCommand, answer: Answer) -> None:
        answer(monitoring_flows.monitor(runtime, user_id=command.user_id, channel_id=command.channel_id, text=command.text))

    router.add("monitor", "After the incident: how long alert channels are watched for its indicators; "
                          "facilitator: `monitor 30d` (from now) or `monitor off`.", monitor)

    @app.action(monitoring_blocks.WINDOW_CHOICE_ACTION)
    def window_chosen(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, response_url = body["user"]["id"], body.get("response_url")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            postmortem_id, _, word = action["selected_option"]["value"].partition(":")
            tell(runtime, monitoring_flows.monitor(runtime, user_id=user_id, postmortem_id=int(postmortem_id), text=word),
                 user_id=user_id, response_url=response_url)

    @app.action(monitoring_blocks.RECURRENCE_ACTION)
    @app.action(monitoring_blocks.NOT_RELATED_ACTION)
    def verdict_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, response_url = body["user"]["id"], body.get("response_url")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            judged = monitoring_flows.judge(runtime, user_id=user_id, sighting_id=int(action["value"]),
                                            verdict=VERDICTS[action["action_id"]])
            tell(runtime, judged.message, user_id=user_id, response_url=response_url, replace_original=judged.settled)

    @app.action(monitoring_blocks.ALL_QUIET_ACTION)
    def all_quiet_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, response_url = body["user"]["id"], body.get("response_url")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            outcome = monitoring_flows.all_quiet(runtime, user_id=user_id, reminder_id=int(action["value"]))
            tell(runtime, outcome, user_id=user_id, response_url=response_url, replace_original=True)

    @app.action(monitoring_blocks.SOMETHING_BACK_ACTION)
    def something_back_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            open_form(runtime, lambda: monitoring_flows.something_back_form(runtime, user_id=user_id,
                                                                            reminder_id=int(action["value"])),
                      trigger_id=body["trigger_id"], title="Something's back")

    @app.view(monitoring_blocks.SOMETHING_BACK_CALLBACK)
    def something_back_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        with keeping_the_modal_open(ack, view):
            answer_submission(ack, monitoring_flows.something_back(
                runtime, user_id=body["user"]["id"], reminder_id=int(view["private_metadata"]),
                details=ViewValues(view).text("details")))
