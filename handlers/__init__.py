"""Thin Bolt listeners: parse the payload, call one service function, answer Slack."""

from __future__ import annotations

from slack_bolt import App

from bot import logs
from bot.runtime import Runtime
from handlers import actions, meetings, members, monitoring, notes, questionnaire, reports, scorecard, start
from handlers.router import SubcommandRouter


def register_all(app: App, runtime: Runtime) -> None:
    router = SubcommandRouter(runtime)
    app.use(logs.RequestContextMiddleware(lambda: (name for name, _ in router.summaries())))
    # First: Bolt tries listeners in registration order, each match costing a call that inspects its
    # arguments; most requests under load are slash commands, and no other listener takes one.
    router.register(app)
    start.register(app, runtime, router)
    notes.register(app, runtime, router)
    meetings.register(app, runtime, router)
    reports.register(app, runtime, router)
    questionnaire.register(app, runtime)
    actions.register(app, runtime, router)
    members.register(app, runtime)
    monitoring.register(app, runtime, router)
    scorecard.register(app, runtime, router)
