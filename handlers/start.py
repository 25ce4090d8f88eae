"""`/postmortem start`, the incident report modal, and retrying an unfinished Slack set-up."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.postmortems import incident_form, notices, provisioning
from bot.postmortems import service as postmortems
from bot.runtime import Runtime
from bot.slack.gateway import SlackCallFailed
from handlers.guard import keeping_the_modal_open, telling_user_of_failures
from handlers.router import Answer, SlashCommand, SubcommandRouter
from handlers.view_state import ViewValues

TRIGGER_ERRORS = {"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"}
TRIGGER_EXPIRED = "Slack closed the window for opening the form before I could. Please run `/postmortem start` again."
NOTHING_TO_RETRY = "Nothing to retry: every post-mortem you started is fully set up."
RETRYING = "Picking up where I stopped. I'll message you when it's done."


def register(app: App, runtime: Runtime, router: SubcommandRouter) -> None:
    def start(command: SlashCommand, answer: Answer) -> None:
        form = incident_form.incident_form(title=command.text, facilitator_id=command.user_id)
        try:
            runtime.slack.open_view(trigger_id=command.trigger_id, view=form)
        except SlackCallFailed as failure:
            if failure.error not in TRIGGER_ERRORS:
                raise
            answer(TRIGGER_EXPIRED)

    def retry(command: SlashCommand, answer: Answer) -> None:
        postmortem_id = postmortems.retryable_for(runtime, user_id=command.user_id)
        if postmortem_id is None:
            answer(NOTHING_TO_RETRY)
            return
        answer(RETRYING)
        provisioning.provision(runtime, postmortem_id=postmortem_id, requested_by=command.user_id)

    router.add("start", "Start a post-mortem: fill in the incident report and open a private review channel.", start)
    router.add("retry", "Finish setting up a post-mortem whose channel or kickoff could not be created.", retry)

    @app.view(incident_form.CALLBACK_ID)
    def incident_report_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = body["user"]["id"]
        values = ViewValues(view)
        report = postmortems.IncidentReport(
            title=values.text("title"),
            severity=values.option("severity"),
            **{name: values.moment(name) for name, _, _ in incident_form.MOMENTS},
            **{name: values.text(name) for name, *_ in incident_form.TEXT_FIELDS},
            responder_ids=values.users("responder_ids"),
            facilitator_id=values.user("facilitator_id"),
        )
        with keeping_the_modal_open(ack, view):
            submission = postmortems.submit(
                runtime, report=report, team_id=body["team"]["id"], user_id=user_id, view_id=view["id"]
            )
        if ack.response is not None:
            return
        if submission.errors:
            ack(response_action="errors", errors=submission.errors)
            return
        ack()
        if submission.created and submission.postmortem_id is not None:
            with telling_user_of_failures(runtime, ack=ack, user_id=user_id, saved=True):
                provisioning.provision(runtime, postmortem_id=submission.postmortem_id, requested_by=user_id)

    @app.action(notices.RETRY_ACTION_ID)
    def retry_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url"), saved=True):
            provisioning.provision(runtime, postmortem_id=int(action["value"]), requested_by=user_id)
