"""`postmortem-bot`: run (Socket Mode), serve (HTTP), db upgrade, demo."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from bot.settings import ConfigurationError, Settings, load_settings

EXIT_CONFIGURATION = 2
EXIT_TERMINATED = 128 + 15  # what a shell reports for a process ended by SIGTERM
EXIT_INTERRUPTED = 128 + 2  # and by Ctrl-C (SIGINT)


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
    serve.add_argument("--port", type=_port, default=os.environ.get("PORT", "3000"),
                       help="port to listen on (default: $PORT, else 3000)")
    # From WEB_CONCURRENCY (gunicorn's variable) too: in a container the core count is the host's, not the
    # container's share, and every worker holds its own database pool.
    serve.add_argument(
        "--workers", type=_positive, default=os.environ.get("WEB_CONCURRENCY") or str(os.cpu_count() or 1),
        help="worker processes answering Slack, 16 threads each (default: $WEB_CONCURRENCY, else the number of cores)",
    )
    db = commands.add_parser("db", help="Database maintenance.", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser(
        "upgrade", help="Apply the schema migrations to DATABASE_URL.", description="Apply the schema migrations to DATABASE_URL."
    )
    demo = commands.add_parser(
        "demo",
        help="See it work without Slack: play a security post-mortem against a Slack double and write its files.",
        description="Start the real app against a built-in Slack double on a temporary SQLite database, play a "
        "post-mortem from incident report to close as its people would, show what each of them saw, and write "
        "the report, the Slack summary and the meeting invite. Needs no tokens and no Slack workspace.",
    )
    demo.add_argument("--output", type=Path, default=Path("demo-output"), metavar="DIR",
                      help="folder for the files it writes (default: ./demo-output)")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":  # its own settings: no tokens, no .env, a temporary database
        return _demo(args.output)
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


def _demo(output_dir: Path) -> int:
    from bot import logs

    try:  # before the story, so a folder it cannot make or write in is said at once
        output_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=output_dir).close()
    except OSError as error:
        reason = error.strerror or _one_line(error)  # not the name of the probe file
        print(f"postmortem-bot demo: could not write to {output_dir} ({reason}). Pick another folder with "
              "--output.", file=sys.stderr)
        return 1
    logs.configure(level="WARNING", log_format="text")  # the transcript tells the story; only trouble is logged
    # The demo's dispatcher wakes every 0.2 s: a tick skipped while the last one still runs is the plan, not trouble.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    try:
        from bot.demo.play import play

        play(output_dir=output_dir, out=sys.stdout)
    except KeyboardInterrupt:
        # play() has stopped the double, the app and the dispatcher; a listener still finishing its request
        # would log each failed call to the double, which is not trouble but the Ctrl-C.
        logging.disable(logging.CRITICAL)
        print(flush=True)  # past the terminal's ^C
        print("postmortem-bot demo: stopped (Ctrl-C) before the end; the files are written only when the story ends.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except AssertionError as error:
        print(f"postmortem-bot demo: stopped: {error}. Nothing is wrong with your Slack: the demo uses none.",
              file=sys.stderr)
        return 1
    except OSError as error:  # the folder filled up or went away while the story played
        print(f"postmortem-bot demo: stopped: {_one_line(error)}.", file=sys.stderr)
        return 1
    return 0


def _configure_logging(settings: Settings) -> None:
    from bot import logs

    logs.configure(level=settings.log_level, log_format=settings.log_format)


def _upgrade(settings: Settings) -> int:
    from models.db import make_engine, upgrade

    try:
        upgrade(make_engine(settings.database_url))
    except _database_errors() as error:
        _report_database_failure(settings, error)
        return 1
    print("postmortem-bot: database schema is up to date.")
    return 0


def _database_errors() -> tuple[type[BaseException], ...]:
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    # ImportError: the URL names a driver that is not installed (postgresql:// means psycopg2).
    return SQLAlchemyError, CommandError, ImportError


def _report_database_failure(settings: Settings, error: BaseException) -> None:
    """One line saying what failed and what to check; never the password, never a traceback."""
    from sqlalchemy.engine import make_url

    try:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot even parse: say nothing of it but its name
        where = "DATABASE_URL"
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    print(f"postmortem-bot: could not use the database at {where} ({reason[0] if reason else type(error).__name__}). "
          "Check DATABASE_URL, that the database is running and reachable, and its driver is installed.",
          file=sys.stderr)


def _prepare(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.runtime import build_runtime
    from models.db import upgrade

    try:
        runtime = build_runtime(settings)
        upgrade(runtime.engine)
    except _database_errors() as error:
        _report_database_failure(settings, error)
        return None, None
    app = _connect_to_slack(runtime)
    if app is None:
        return None, None
    return runtime, app


def _connect_to_slack(runtime):  # type: ignore[no-untyped-def]
    """The Bolt app (its creation calls auth.test), or None after one line saying what failed and what to check."""
    from http.client import HTTPException

    from slack_bolt.error import BoltError

    from bot.app import create_app

    try:
        return create_app(runtime)
    except BoltError as error:
        print(f"postmortem-bot: Slack refused the bot token or could not be reached ({error}).", file=sys.stderr)
    except (OSError, HTTPException) as error:  # URLError, timeouts, refused connections, TLS failures, not HTTP at all
        print(f"postmortem-bot: could not reach Slack at {runtime.settings.slack_api_url} ({_one_line(error)}). "
              "Check SLACK_API_URL, your proxy and network.", file=sys.stderr)
    return None


def _one_line(error: BaseException) -> str:
    return " ".join(str(getattr(error, "reason", None) or error).split()) or type(error).__name__


def _run_socket_mode(settings: Settings) -> int:
    from http.client import HTTPException

    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    from bot.reminders.dispatcher import start_scheduler

    runtime, app = _prepare(settings)
    if app is None:
        return 1
    assert settings.slack_app_token is not None
    handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
    try:
        handler.connect()  # apps.connections.open with the app-level token, then the WebSocket
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error") if error.response is not None else "unknown_error"
        print(f"postmortem-bot: Slack refused the app-level token ({code}). Check SLACK_APP_TOKEN: an xapp- token "
              "with the connections:write scope, and that Socket Mode is on in your Slack app.", file=sys.stderr)
        return 1
    except (OSError, HTTPException) as error:
        print(f"postmortem-bot: could not open the Socket Mode connection to Slack ({_one_line(error)}). "
              "Check your proxy and network.", file=sys.stderr)
        return 1
    start_scheduler(runtime)
    logging.getLogger(__name__).info("connected to Slack over Socket Mode")
    threading.Event().wait()  # the Socket Mode client answers Slack in its own threads
    return 0


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    from bot import server

    temporary_dir = server.prepare_metrics()
    # SIGTERM while migrating or asking Slack (before the server takes the signal over): leave through here, so
    # the metrics directory goes too, instead of dying on the spot.
    signal.signal(signal.SIGTERM, _stop_while_starting)
    app = None
    try:
        runtime, app = _prepare(settings)
    finally:
        if app is None and temporary_dir:
            shutil.rmtree(temporary_dir, ignore_errors=True)
    if app is None:
        return 1
    return server.serve(settings, runtime, app, host=host, port=port, workers=workers, temporary_dir=temporary_dir)


def _stop_while_starting(*_: object) -> None:
    print("postmortem-bot: stopped (SIGTERM) while starting.", file=sys.stderr)
    raise SystemExit(EXIT_TERMINATED)


if __name__ == "__main__":
    sys.exit(main())
