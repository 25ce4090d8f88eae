"""Notes: `/postmortem note`, `/postmortem notes`, `/postmortem status`, the note modal, the
"Add to post-mortem" message shortcut, and the notes list's buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.actions import flows as action_flows
from bot.notes import blocks as note_blocks
from bot.notes import flows as note_flows
from bot.notes.blocks import CapturedMessage
from bot.runtime import Runtime
from bot.slack import safe_text
from bot.slack.blocks import Message
from handlers.guard import keeping_the_modal_open, telling_user_of_failures
from handlers.replies import answer_submission, open_form, tell
from handlers.router import Answer, SlashCommand, SubcommandRouter
from handlers.view_state import ViewValues
from models import NoteCategory

SHORTCUT_CALLBACK = "add_to_postmortem"
FORM_TITLE = "Add a note"


def register(app: App, runtime: Runtime, router: SubcommandRouter) -> None:
    def action_form_from_note(*, user_id: str, note_id: int) -> dict[str, Any] | Message:
        """"Make action item": the note gives the post-mortem and the title, actions give the form."""
        seed = note_flows.action_seed(runtime, user_id=user_id, note_id=note_id)
        if isinstance(seed, Message):
            return seed
        return action_flows.form(runtime, user_id=user_id, postmortem_id=seed.postmortem_id, title=seed.title)

    def note(command: SlashCommand, answer: Answer) -> None:
        if command.text:
            reply, stored = note_flows.quick(runtime, channel_id=command.channel_id, user_id=command.user_id,
                                             text=command.text)
            # Stored by now: a failure to answer must not say "send it again" (a minute later that stores it twice).
            with telling_user_of_failures(runtime, ack=None, user_id=command.user_id, response_url=command.response_url,
                                          saved=stored):
                answer(reply)
            return
        open_form(runtime, lambda: note_flows.new_form(runtime, channel_id=command.channel_id, user_id=command.user_id),
                  trigger_id=command.trigger_id, title=FORM_TITLE)

    def notes_list(command: SlashCommand, answer: Answer) -> None:
        answer(note_flows.listing(runtime, user_id=command.user_id, channel_id=command.channel_id))

    def status(command: SlashCommand, answer: Answer) -> None:
        answer(note_flows.status(runtime, channel_id=command.channel_id, user_id=command.user_id))

    router.add("note", "Add a note: `/postmortem note &lt;text&gt;` right away, or without text for the form.", note)
    router.add("notes", "List this post-mortem's notes; edit or delete your own.", notes_list)
    router.add("status", "Facilitator: who answered the review questions and how many notes each person added.", status)

    @app.shortcut(SHORTCUT_CALLBACK)
    def capture_message(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        message = body["message"]
        capture = CapturedMessage(
            channel_id=body["channel"]["id"], ts=message["ts"], author_id=message.get("user"),
            text=safe_text.from_slack(message.get("text")),
        )
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            open_form(runtime, lambda: note_flows.new_form(runtime, channel_id=capture.channel_id, user_id=user_id, capture=capture),
                      trigger_id=body["trigger_id"], title=FORM_TITLE)

    @app.action("kickoff_add_note")
    def add_note_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            open_form(runtime, lambda: note_flows.new_form(runtime, channel_id="", user_id=user_id, postmortem_id=int(action["value"])),
                      trigger_id=body["trigger_id"], title=FORM_TITLE)

    def parse_form(view: dict[str, Any]) -> note_flows.FormInput:
        values = ViewValues(view)
        chosen = values.option("postmortem_id")
        return note_flows.FormInput(
            view_id=view["id"],
            metadata=note_flows.decode_metadata(view.get("private_metadata", "")),
            chosen_postmortem_id=int(chosen) if chosen else None,
            category=NoteCategory(values.option("category") or NoteCategory.OBSERVATION),
            occurred_at=values.moment("occurred_at"),
            text=values.text("text"),
        )

    @app.view(note_blocks.NEW_NOTE_CALLBACK)
    def note_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        with keeping_the_modal_open(ack, view):
            answer_submission(ack, note_flows.submit_new(runtime, user_id=body["user"]["id"], form=parse_form(view)))

    @app.view(note_blocks.EDIT_NOTE_CALLBACK)
    def note_edited(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        with keeping_the_modal_open(ack, view):
            answer_submission(ack, note_flows.submit_edit(runtime, user_id=body["user"]["id"], form=parse_form(view)))

    @app.action({"type": "block_actions", "action_id": note_blocks.PAGE_ACTION + "_newer"})
    @app.action({"type": "block_actions", "action_id": note_blocks.PAGE_ACTION + "_older"})
    def page_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        postmortem_id, page_number = (int(part) for part in action["value"].split(":"))
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=body.get("response_url")):
            message = note_flows.listing(runtime, user_id=user_id, postmortem_id=postmortem_id, page_number=page_number)
            tell(runtime, message, user_id=user_id, response_url=body.get("response_url"), replace_original=True)

    @app.action(note_blocks.MENU_ACTION)
    def menu_chosen(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        choice, note_id = action["selected_option"]["value"].split(":")
        response_url = body.get("response_url")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            if choice == "edit":
                open_form(runtime, lambda: note_flows.edit_form(runtime, user_id=user_id, note_id=int(note_id)),
                          trigger_id=body["trigger_id"])
            elif choice == "action":
                open_form(runtime, lambda: action_form_from_note(user_id=user_id, note_id=int(note_id)),
                          trigger_id=body["trigger_id"])
            else:
                message = note_flows.delete(runtime, user_id=user_id, note_id=int(note_id))
                tell(runtime, message, user_id=user_id, response_url=response_url, replace_original=True)

