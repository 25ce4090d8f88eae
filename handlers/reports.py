"""The report: `/postmortem classify|scorecard-entry|report|export`, their modals, Publish and the redacted summary."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.reminders import dispatcher
from bot.reports import blocks as report_blocks
from bot.reports import flows as report_flows
from bot.reports.data import SCORECARD_LABELS
from bot.runtime import Runtime
from handlers.guard import keeping_the_modal_open, telling_user_of_failures
from handlers.replies import answer_submission, open_form, tell
from handlers.router import Answer, SlashCommand, SubcommandRouter
from handlers.view_state import ViewValues


def register(app: App, runtime: Runtime, router: SubcommandRouter) -> None:
    def classify(command: SlashCommand, answer: Answer) -> None:
        open_form(runtime, lambda: report_flows.classification_form(runtime, user_id=command.user_id, channel_id=command.channel_id),
                  trigger_id=command.trigger_id, title="Random or targeted")

    def scorecard(command: SlashCommand, answer: Answer) -> None:
        open_form(runtime, lambda: report_flows.scorecard_form(runtime, user_id=command.user_id, channel_id=command.channel_id),
                  trigger_id=command.trigger_id, title="Preventive figures")

    def report(command: SlashCommand, answer: Answer) -> None:
        answer(report_flows.preview(runtime, user_id=command.user_id, channel_id=command.channel_id))

    def export(command: SlashCommand, answer: Answer) -> None:
        answer(report_flows.export_stix(runtime, user_id=command.user_id, channel_id=command.channel_id, what=command.text))

    router.add("classify", "Facilitator: record whether the attack was random or targeted, why, and its vector.", classify)
    router.add("scorecard-entry", "Facilitator: record this incident's preventive-initiative figures.", scorecard)
    router.add("report", "Facilitator: preview the report, then publish it to the review channel.", report)
    router.add("export", "`/postmortem export stix`: this post-mortem's indicators as a STIX 2.1 file.", export)

    @app.view(report_blocks.CLASSIFY_CALLBACK)
    def classification_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = ViewValues(view)
        with keeping_the_modal_open(ack, view):
            answer_submission(ack, report_flows.save_classification(
                runtime, user_id=body["user"]["id"], postmortem_id=int(view["private_metadata"]),
                classification=values.option("classification") or "", attack_vector=values.option("attack_vector") or "",
                rationale=values.text("rationale"),
            ))

    @app.view(report_blocks.SCORECARD_CALLBACK)
    def figures_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = ViewValues(view)
        with keeping_the_modal_open(ack, view):
            answer_submission(ack, report_flows.save_figures(
                runtime, user_id=body["user"]["id"], postmortem_id=int(view["private_metadata"]),
                raw={name: values.text(name) for name, _ in SCORECARD_LABELS},
            ))

    @app.action(report_blocks.PUBLISH_ACTION)
    def publish_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, response_url = body["user"]["id"], body.get("response_url")
        misp_pushes: list[int] = []  # planned rows not sent here are sent by the dispatcher
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            # `<post-mortem id>:<version previewed>`: a second click on the same preview is the same publish.
            postmortem_id, _, version = action["value"].partition(":")
            publication = report_flows.publish(runtime, user_id=user_id, postmortem_id=int(postmortem_id),
                                               version=int(version) if version else None)
            misp_pushes = publication.misp_pushes
            tell(runtime, publication.message, user_id=user_id, response_url=response_url, replace_original=True)
        dispatcher.send_now(runtime, reminder_ids=misp_pushes)

    @app.action(report_blocks.REDACTED_ACTION)
    def redacted_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id, response_url = body["user"]["id"], body.get("response_url")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            outcome = report_flows.post_redacted(runtime, user_id=user_id, postmortem_id=int(action["value"]))
            tell(runtime, outcome, user_id=user_id, response_url=response_url)
