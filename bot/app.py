"""The Bolt app factory."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.logs import ContextExecutor
from bot.runtime import Runtime
from handlers import register_all

log = logging.getLogger(__name__)

# Bolt runs each listener, its ack() included, in this pool, and the work after the ack (the database, Slack
# calls that may wait out a Retry-After) keeps the thread: with as many threads as a worker takes requests
# (16), a burst stuck on a slow Slack left none to ack what came next, and Slack gives up after 3 s.
LISTENER_THREADS = 64


def create_app(runtime: Runtime) -> App:
    """A Bolt app whose listeners ack first and run the slow part after (process_before_response=False)."""
    signing_secret = runtime.settings.slack_signing_secret
    app = App(
        # Socket Mode needs no signing secret; Bolt skips verification for its requests.
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        client=runtime.slack.web_client,
        process_before_response=False,
        # After-the-ack work runs here; ContextExecutor keeps the request's log fields on its lines.
        listener_executor=ContextExecutor(max_workers=LISTENER_THREADS),
    )
    register_all(app, runtime)

    @app.error
    def log_unhandled(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error for a %s request", body.get("type") or body.get("command"), exc_info=error)

    return app
