"""The review meeting: `/postmortem schedule|reschedule|cancel-meeting`, the kickoff and announcement buttons, the modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.meetings import blocks as meeting_blocks
from bot.meetings import flows as meeting_flows
from bot.meetings.service import MeetingRequest
from bot.runtime import Runtime
from bot.slack.blocks import notice_view
from handlers.guard import telling_user_of_failures
from handlers.replies import open_form, settling, tell
from handlers.router import Answer, SlashCommand, SubcommandRouter
from handlers.view_state import ViewValues

TITLE = "Review meeting"
SAVING = ":hourglass_flowing_sand: Saving and sending the invites…"


def register(app: App, runtime: Runtime, router: SubcommandRouter) -> None:
    def open_meeting_form(*, trigger_id: str, user_id: str, channel_id: str = "", postmortem_id: int | None = None) -> None:
        open_form(runtime, lambda: meeting_flows.form(runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id),
                  trigger_id=trigger_id, title=TITLE, loading=meeting_blocks.loading())

    def schedule(command: SlashCommand, answer: Answer) -> None:
        open_meeting_form(trigger_id=command.trigger_id, user_id=command.user_id, channel_id=command.channel_id)

    def cancel_meeting(command: SlashCommand, answer: Answer) -> None:
        reply, meeting_id = meeting_flows.cancel(runtime, user_id=command.user_id, channel_id=command.channel_id)
        answer(reply)
        if meeting_id is not None:
            # Cancelled and stored by now: a failure to announce it must not say it didn't go through.
            with telling_user_of_failures(runtime, ack=None, user_id=command.user_id, response_url=command.response_url,
                                          saved=True):
                meeting_flows.publish(runtime, meeting_id=meeting_id)

    router.add("schedule", "Schedule the review meeting at a time that suits everyone's time zone.", schedule)
    router.add("reschedule", "Move the review meeting; everyone gets the updated invite.", schedule)
    router.add("cancel-meeting", "Cancel the review meeting; everyone gets the cancellation.", cancel_meeting)

    @app.action("kickoff_schedule")
    @app.action(meeting_blocks.RESCHEDULE_ACTION)
    def schedule_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            open_meeting_form(trigger_id=body["trigger_id"], user_id=user_id, postmortem_id=int(action["value"]))

    @app.action(meeting_blocks.CANCEL_ACTION)
    def cancel_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        response_url = body.get("response_url")
        meeting_id = None  # stays so if cancelling failed or was refused (they were told)
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            answer, meeting_id = meeting_flows.cancel(runtime, user_id=user_id, postmortem_id=int(action["value"]))
            tell(runtime, answer, user_id=user_id, response_url=response_url)
        if meeting_id is None:
            return
        # Cancelled and stored by now: a failure to announce it must not say it didn't go through.
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url, saved=True):
            meeting_flows.publish(runtime, meeting_id=meeting_id)

    @app.view(meeting_blocks.CALLBACK_ID)
    def meeting_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = ViewValues(view)
        request = MeetingRequest(
            starts_at=values.moment("starts_at"),
            duration_text=values.text("duration"),
            location=values.text("location"),
            agenda=values.text("agenda"),
        )
        errors = meeting_flows.check(runtime, request=request)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        # Saving asks Slack who is human and in which time zone: answer first.
        ack(response_action="update", view=notice_view(SAVING, title=TITLE))
        user_id = body["user"]["id"]
        outcome: dict[str, str] | meeting_flows.Saved = {}  # stays so if saving failed (the guard told them)
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id):
            with settling(runtime, view_id=view["id"], title=TITLE) as settle:
                outcome = meeting_flows.submit(runtime, user_id=user_id, postmortem_id=int(view["private_metadata"]),
                                               view_id=view["id"], request=request)
                settle(" ".join(outcome.values()) if isinstance(outcome, dict) else outcome.confirmation)
        if isinstance(outcome, dict) or not outcome.announce:
            return
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, saved=True):
            meeting_flows.publish(runtime, meeting_id=outcome.meeting_id, rescheduled=outcome.rescheduled)
