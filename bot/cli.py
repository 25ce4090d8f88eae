"""`postmortem-bot`: run (Socket Mode), serve (HTTP), db upgrade."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence

from bot.settings import ConfigurationError, Settings, load_settings

EXIT_CONFIGURATION = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postmortem-bot",
        description="Runs the post-mortem of a security incident inside Slack. "
        "Configuration comes from the environment or a .env file (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run",
        help="Connect to Slack over Socket Mode (no public URL needed). Needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN.",
        description="Connect to Slack over Socket Mode. Brings the database schema up to date first.",
    )
    serve = commands.add_parser(
        "serve",
        help="Serve Slack's HTTP requests at POST /slack/events. Needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET.",
        description="Serve slash commands, interactivity and events at POST /slack/events, and GET /healthz. "
        "Brings the database schema up to date first.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    # The default comes from PORT so a container's command can stay fixed while its port varies.
    serve.add_argument("--port", type=int, default=os.environ.get("PORT", "3000"),
                       help="port to listen on (default: $PORT, else 3000)")
    serve.add_argument(
        "--workers", type=_positive, default=os.cpu_count() or 1,
        help="worker processes answering Slack, 16 threads each (default: the number of cores)",
    )
    db = commands.add_parser("db", help="Database maintenance.", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser(
        "upgrade", help="Apply the schema migrations to DATABASE_URL.", description="Apply the schema migrations to DATABASE_URL."
    )
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    required = {"run": ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"), "serve": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")}
    try:
        settings = load_settings(require=required.get(args.command, ()))
    except ConfigurationError as error:
        for line in str(error).splitlines():
            print(f"postmortem-bot: {line}", file=sys.stderr)
        return EXIT_CONFIGURATION
    _configure_logging(settings)
    if args.command == "db":
        return _upgrade(settings)
    if args.command == "run":
        return _run_socket_mode(settings)
    return _serve(settings, host=args.host, port=args.port, workers=args.workers)


def _configure_logging(settings: Settings) -> None:
    from bot import logs

    logs.configure(level=settings.log_level, log_format=settings.log_format)


def _upgrade(settings: Settings) -> int:
    from models.db import make_engine, upgrade

    upgrade(make_engine(settings.database_url))
    print("postmortem-bot: database schema is up to date.")
    return 0


def _prepare(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.runtime import build_runtime
    from models.db import upgrade

    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    app = _connect_to_slack(runtime)
    if app is None:
        return None, None
    return runtime, app


def _connect_to_slack(runtime):  # type: ignore[no-untyped-def]
    """The Bolt app (its creation calls auth.test), or None after one line saying what failed and what to check."""
    from slack_bolt.error import BoltError

    from bot.app import create_app

    try:
        return create_app(runtime)
    except BoltError as error:
        print(f"postmortem-bot: Slack refused the bot token or could not be reached ({error}).", file=sys.stderr)
    except OSError as error:  # URLError, timeouts, refused connections, TLS failures
        reason = getattr(error, "reason", None) or error
        print(f"postmortem-bot: could not reach Slack at {runtime.settings.slack_api_url} ({reason}). "
              "Check SLACK_API_URL, your proxy and network.", file=sys.stderr)
    return None


def _run_socket_mode(settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.dispatcher import start_scheduler

    runtime, app = _prepare(settings)
    if app is None:
        return 1
    start_scheduler(runtime)
    assert settings.slack_app_token is not None
    SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
    return 0


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    from bot import server

    temporary_dir = server.prepare_metrics()
    runtime, app = _prepare(settings)
    if app is None:
        if temporary_dir:
            shutil.rmtree(temporary_dir, ignore_errors=True)
        return 1
    return server.serve(settings, runtime, app, host=host, port=port, workers=workers, temporary_dir=temporary_dir)


if __name__ == "__main__":
    sys.exit(main())
