"""`postmortem-bot serve`: several worker processes, one reminder dispatcher.

On POSIX, gunicorn's master forks `--workers` processes (each with THREADS_PER_WORKER threads) that answer Slack, and
starts ONE dispatcher process (`python -m bot.server dispatch`) once it is ready: N workers polling
the reminders table would be N times the queries for the same work. Where gunicorn cannot run
(Windows), waitress serves in one process with the dispatcher in a thread.

SIGTERM: gunicorn stops accepting, lets requests in flight (and the work Bolt does after an ack)
finish within GRACEFUL_SECONDS, then stops the dispatcher, which puts the reminders it claimed but
did not start sending back to pending.

Nothing at module level imports prometheus-client: `prepare_metrics` must set its directory first.
"""

from __future__ import annotations

import gc
import glob
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.runtime import Runtime
    from bot.settings import Settings

log = logging.getLogger(__name__)

THREADS_PER_WORKER = 16  # most of a request is waiting (for the database, for Bolt's ack poll), not CPU
GRACEFUL_SECONDS = 20
DISPATCHER_STOP_SECONDS = 15
# A dispatcher that keeps dying is started again at most this often.
DISPATCHER_RESTART_SECONDS = 5.0
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def gunicorn_available() -> bool:
    try:
        import gunicorn.app.base  # noqa: F401 - imports fcntl, which exists on POSIX only
    except ImportError:
        return False
    return True


def prepare_metrics() -> str | None:
    """Several processes keep their metrics in files in one directory, set before prometheus-client is
    first imported (it picks its storage then). Emptied at start: a dead run's files would add to the counts."""
    if not gunicorn_available():
        return None
    chosen = os.environ.get(METRICS_DIR_ENV)
    directory = chosen or tempfile.mkdtemp(prefix="postmortem-bot-metrics-")
    os.makedirs(directory, exist_ok=True)
    # Only prometheus-client's own files (counter_1234.db, ...): an operator's directory may hold anything else.
    for stale in glob.glob(os.path.join(glob.escape(directory), "*.db")):
        os.remove(stale)
    os.environ[METRICS_DIR_ENV] = directory
    return None if chosen else directory  # ours to remove when `serve` ends


def serve(
    settings: Settings, runtime: Runtime, app: App, *, host: str, port: int, workers: int, temporary_dir: str | None = None
) -> int:
    if gunicorn_available():
        # Each worker opens its own connections after the fork; the master's checked the schema and token.
        runtime.engine.dispose()
        _GunicornServer(settings, host=host, port=port, workers=workers, temporary_dir=temporary_dir).run()
        return 0
    return _serve_with_waitress(runtime, app, host=host, port=port)


def _serve_with_waitress(runtime: Runtime, app: App, *, host: str, port: int) -> int:
    from bot.reminders.dispatcher import start_scheduler
    from bot.slack.http import make_server

    server = make_server(app, runtime, host=host, port=port)
    dispatcher = start_scheduler(runtime)
    _exempt_startup_objects_from_collection()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    log.info("serving Slack requests on http://%s:%s/slack/events (waitress, one process)", host, server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        dispatcher.stop()
    return 0


def _raise_keyboard_interrupt(*_: object) -> None:
    # Leaves waitress's loop the way Ctrl-C does; the socket is closed after it, in the same thread.
    raise KeyboardInterrupt


class _DispatcherProcess:
    """The one dispatcher of this `serve`, a child of gunicorn's master."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._stopping = False

    def start(self) -> None:
        # -P: the working directory stays off sys.path, so a `bot/` folder there (an old checkout) is not imported.
        self._process = subprocess.Popen([sys.executable, "-P", "-m", "bot.server", "dispatch"])
        self._started_at = time.monotonic()
        log.info("reminder dispatcher started (pid %s)", self._process.pid)

    def keep_running(self) -> None:
        """From the master's loop: a dispatcher that died (killed, out of memory, crashed) is started again."""
        process = self._process
        if process is None or self._stopping or process.poll() is None:
            return
        if time.monotonic() - self._started_at < DISPATCHER_RESTART_SECONDS:
            return
        # gunicorn may have reaped it first (it waits for any child), and then its status is lost.
        log.error("the reminder dispatcher (pid %s) stopped; starting another", process.pid)
        from bot.metrics import process_exited

        process_exited(process.pid)
        self.start()

    def stop(self) -> None:
        self._stopping = True
        process = self._process
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=DISPATCHER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        from bot.metrics import process_exited

        process_exited(process.pid)


def _gunicorn_logger_class() -> type:
    from gunicorn.glogging import Logger

    class ThroughOurHandler(Logger):  # type: ignore[misc]
        """gunicorn's lines go through bot.logs' handler (same format, same fields) instead of its own."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                logger.handlers.clear()
                logger.propagate = True

    return ThroughOurHandler


class _GunicornServer:
    def __init__(self, settings: Settings, *, host: str, port: int, workers: int, temporary_dir: str | None) -> None:
        self._settings = settings
        self._dispatcher = dispatcher = _DispatcherProcess()

        def on_exit(_arbiter: Any) -> None:
            dispatcher.stop()
            if temporary_dir:
                shutil.rmtree(temporary_dir, ignore_errors=True)

        def child_exit(_arbiter: Any, worker: Any) -> None:
            from bot.metrics import process_exited

            process_exited(worker.pid)

        self.options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": max(1, workers),
            "worker_class": "gthread",
            "threads": THREADS_PER_WORKER,
            "timeout": 30,
            "graceful_timeout": GRACEFUL_SECONDS,
            "keepalive": 5,
            "proc_name": "postmortem-bot",
            "accesslog": None,  # one line per request from us instead, without the query string
            "errorlog": "-",
            "loglevel": settings.log_level.lower(),
            "logger_class": _gunicorn_logger_class(),
            "when_ready": lambda _arbiter: dispatcher.start(),
            "on_exit": on_exit,
            "child_exit": child_exit,
        }

    def run(self) -> None:
        from gunicorn.app.base import BaseApplication
        from gunicorn.arbiter import Arbiter

        settings, options, dispatcher = self._settings, self.options, self._dispatcher

        class Master(Arbiter):  # type: ignore[misc]
            def manage_workers(self) -> None:
                # Runs about once a second in the master: it keeps the workers and the dispatcher alive.
                super().manage_workers()
                dispatcher.keep_running()

        class Application(BaseApplication):  # type: ignore[misc]
            def run(self) -> None:
                try:
                    Master(self).run()
                except RuntimeError as error:  # gunicorn's own configuration errors, as BaseApplication.run shows them
                    print(f"\nError: {error}\n", file=sys.stderr)
                    sys.exit(1)

            def load_config(self) -> None:
                for key, value in options.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                # In each worker, after the fork: its own engine, Slack client and Bolt app.
                from bot.app import create_app
                from bot.metrics import observed
                from bot.runtime import build_runtime
                from bot.slack.http import wsgi_app

                runtime = build_runtime(settings)
                application = observed(wsgi_app(create_app(runtime), runtime), runtime)
                _exempt_startup_objects_from_collection()
                return application

        Application().run()


def _exempt_startup_objects_from_collection() -> None:
    """A worker holds some 300,000 objects once its libraries are loaded, all alive until it exits. Every full
    garbage collection walked them all: a request that landed on one waited about 150 ms (help's p99). Frozen, they
    are never walked again; what requests create is collected as before."""
    gc.collect()
    gc.freeze()


def run_dispatcher() -> int:
    """`python -m bot.server dispatch`: the reminder loop until SIGTERM, or until its `serve` is gone."""
    from bot import logs
    from bot.metrics import process_exited
    from bot.reminders.dispatcher import start_scheduler
    from bot.runtime import build_runtime
    from bot.settings import load_settings

    settings = load_settings()
    logs.configure(level=settings.log_level, log_format=settings.log_format)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the master stops us in order
    parent = os.getppid()
    dispatcher = start_scheduler(build_runtime(settings))
    while not stopping.wait(1.0):
        if os.getppid() != parent:  # the master died without stopping us
            break
    dispatcher.stop()
    process_exited(os.getpid())
    return 0


if __name__ == "__main__" and sys.argv[1:] == ["dispatch"]:
    sys.exit(run_dispatcher())
