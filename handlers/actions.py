"""Follow-up actions: `/postmortem action|actions|close`, the owner's buttons, their modals, and the Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import home
from bot.actions import blocks as action_blocks
from bot.actions import flows as action_flows
from bot.actions import service as actions
from bot.monitoring import flows as monitoring_flows
from bot.runtime import Runtime
from bot.slack.blocks import Message, notice_view
from handlers.guard import keeping_the_modal_open, telling_user_of_failures
from handlers.replies import SAVING, answer_submission, open_form, settling, tell
from handlers.router import Answer, SlashCommand, SubcommandRouter
from handlers.view_state import ViewValues
from models import ActionCategory, ActionPriority

FORM_TITLE = "Follow-up action"


def register(app: App, runtime: Runtime, router: SubcommandRouter) -> None:
    def action(command: SlashCommand, answer: Answer) -> None:
        if not command.text:
            open_form(runtime, lambda: action_flows.form(runtime, user_id=command.user_id, channel_id=command.channel_id),
                      trigger_id=command.trigger_id, title=FORM_TITLE)
            return
        if action_flows.is_cancel_command(command.text):
            reply, cancelled_id = action_flows.cancel_by_command(runtime, user_id=command.user_id, text=command.text)
            answer(reply)
            if cancelled_id is not None:
                action_flows.announce_cancellation(runtime, action_id=cancelled_id)  # logs, never raises, a Slack failure
            return
        draft = actions.parse_line(command.text)
        if draft is None:
            answer(action_flows.MALFORMED)
            return
        outcome = action_flows.create(runtime, user_id=command.user_id, draft=draft, channel_id=command.channel_id)
        if isinstance(outcome, dict):
            answer(" ".join(outcome.values()))
            return
        answer(outcome.message)
        if outcome.fresh:
            action_flows.announce(runtime, action_id=outcome.action_id, assigned_by=command.user_id)

    def list_actions(command: SlashCommand, answer: Answer) -> None:
        if command.text.strip().lower() == "all":
            answer(action_flows.of_channel(runtime, user_id=command.user_id, channel_id=command.channel_id))
        else:
            answer(action_flows.mine(runtime, user_id=command.user_id))

    def close(command: SlashCommand, answer: Answer) -> None:
        try:
            outcome = action_flows.close(runtime, user_id=command.user_id, channel_id=command.channel_id)
        finally:
            # Monitoring sits above actions, so the handler composes the two. Also when Slack failed after the
            # status changed: the check-ins start with the first close, whatever Slack did.
            monitoring_flows.after_close(runtime, channel_id=command.channel_id)
        answer(outcome)

    router.add("action", "Assign a follow-up: `/postmortem action @owner YYYY-MM-DD what to do`, or without text for the form; "
                         "`/postmortem action cancel &lt;number&gt; &lt;why&gt;` cancels one.", action)
    router.add("actions", "Your open follow-ups; in a review channel, `actions all` lists that post-mortem's.", list_actions)
    router.add("close", "Facilitator: close the post-mortem once the report is published, and archive its channel.", close)

    @app.action("kickoff_add_action")
    def add_action_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            open_form(runtime, lambda: action_flows.form(runtime, user_id=user_id, postmortem_id=int(action["value"])),
                      trigger_id=body["trigger_id"], title=FORM_TITLE)

    @app.view(action_blocks.FORM_CALLBACK)
    def action_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = ViewValues(view)
        chosen = values.option("postmortem_id") or view.get("private_metadata") or ""
        user_id = body["user"]["id"]
        draft = actions.ActionDraft(
            title=values.text("title"), description=values.text("description"), owner_id=values.user("owner_id"),
            due_on=values.date("due_on"), priority=ActionPriority(values.option("priority") or ActionPriority.MEDIUM),
            category=ActionCategory(values.option("category") or ActionCategory.OTHER),
        )
        errors = action_flows.check(runtime, user_id=user_id, draft=draft)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        # Saving plans reminders in the owner's time zone, which may need Slack: answer first.
        ack(response_action="update", view=notice_view(SAVING, title=FORM_TITLE))
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id):
            with settling(runtime, view_id=view["id"], title=FORM_TITLE) as settle:
                outcome = action_flows.create(runtime, user_id=user_id, draft=draft,
                                              postmortem_id=int(chosen) if chosen else None, dedupe_key=f"view:{view['id']}")
                settle(" ".join(outcome.values()) if isinstance(outcome, dict) else outcome.message.text)
            if not isinstance(outcome, dict) and outcome.fresh:
                action_flows.announce(runtime, action_id=outcome.action_id, assigned_by=user_id)

    @app.action(action_blocks.DONE_ACTION)
    def done_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, response_url = body["user"]["id"], body.get("response_url")
        outcome: Message | None = None  # stays so if marking failed (the guard told them)
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            outcome = action_flows.mark_done(runtime, user_id=user_id, action_id=int(action["value"]))
        if outcome is None:
            return
        # Stored (or refused) by now: a failure to show it must not say it didn't go through.
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url, saved=True):
            if body.get("view", {}).get("type") == "home":
                runtime.slack.publish_home(user_id=user_id, view=home.view(runtime, user_id=user_id))
            else:
                tell(runtime, outcome, user_id=user_id, response_url=response_url)

    change_kinds = {action_blocks.EXTEND_ACTION: "extend", action_blocks.REASSIGN_ACTION: "reassign",
                    action_blocks.CANCEL_ACTION: "cancel"}

    @app.action(action_blocks.EXTEND_ACTION)
    @app.action(action_blocks.REASSIGN_ACTION)
    @app.action(action_blocks.CANCEL_ACTION)
    def change_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        kind = change_kinds[action["action_id"]]
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            open_form(runtime, lambda: action_flows.change_form(runtime, user_id=user_id, action_id=int(action["value"]), kind=kind),
                      trigger_id=body["trigger_id"])

    @app.action(action_blocks.LIST_MENU_ACTION)
    def list_menu_chosen(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, response_url = body["user"]["id"], body.get("response_url")
        choice, action_id = action["selected_option"]["value"].split(":")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            if choice == "cancel":
                open_form(runtime, lambda: action_flows.change_form(runtime, user_id=user_id, action_id=int(action_id), kind="cancel"),
                          trigger_id=body["trigger_id"])
            else:
                tell(runtime, action_flows.mark_done(runtime, user_id=user_id, action_id=int(action_id)),
                     user_id=user_id, response_url=response_url)

    @app.view(action_blocks.CANCEL_CALLBACK)
    def cancel_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id, action_id = body["user"]["id"], int(view["private_metadata"])
        outcome: dict[str, str] | str = {}  # stays so if the modal was kept open with a failure
        with keeping_the_modal_open(ack, view):
            outcome = action_flows.cancel(runtime, user_id=user_id, action_id=action_id, reason=ViewValues(view).text("reason"))
            answer_submission(ack, outcome)
        if isinstance(outcome, str):
            with telling_user_of_failures(runtime, ack=ack, user_id=user_id, saved=True):
                action_flows.announce_cancellation(runtime, action_id=action_id)
                # The button may have been on the Home tab: show it without the cancelled action.
                runtime.slack.publish_home(user_id=user_id, view=home.view(runtime, user_id=user_id))

    @app.action(action_blocks.OPEN_POSTMORTEM_ACTION)
    def open_postmortem_pressed(ack: Ack) -> None:
        ack()  # a link button: Slack opens the channel itself

    @app.view(action_blocks.EXTEND_CALLBACK)
    def extend_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = ViewValues(view)
        action_id, read_version = _action_and_version(view)
        with keeping_the_modal_open(ack, view):
            answer_submission(ack, action_flows.extend(runtime, user_id=body["user"]["id"], action_id=action_id,
                                                       read_version=read_version, due_on=values.date("due_on"),
                                                       reason=values.text("reason")))

    @app.view(action_blocks.REASSIGN_CALLBACK)
    def reassign_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = ViewValues(view)
        user_id = body["user"]["id"]
        action_id, read_version = _action_and_version(view)
        outcome: dict[str, str] | str = {}  # stays so if the modal was kept open with a failure
        with keeping_the_modal_open(ack, view):
            outcome = action_flows.reassign(runtime, user_id=user_id, action_id=action_id, read_version=read_version,
                                            new_owner=values.user("owner_id"), reason=values.text("reason"))
            answer_submission(ack, outcome)
        if isinstance(outcome, str):
            with telling_user_of_failures(runtime, ack=ack, user_id=user_id, saved=True):
                action_flows.announce(runtime, action_id=action_id, assigned_by=user_id)

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        runtime.slack.publish_home(user_id=event["user"], view=home.view(runtime, user_id=event["user"]))



def _action_and_version(view: dict[str, Any]) -> tuple[int, int | None]:
    """`<action id>:<version shown>`; a form opened before versions were carried has the id only."""
    action_id, _, version = view["private_metadata"].partition(":")
    return int(action_id), int(version) if version else None
