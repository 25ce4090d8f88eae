"""The real app served over HTTP in this process, on a free port: the demo and the tests talk to it as Slack would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bot.app import create_app
from bot.runtime import Runtime
from bot.slack.http import make_server


@contextmanager
def serving(runtime: Runtime, *, with_slack: bool = True) -> Iterator[str]:
    """The real app for `runtime`, served over HTTP on a free port (without Slack: health and readiness only)."""
    app = create_app(runtime) if with_slack else None
    server = make_server(app, runtime, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    stop = threading.Event()

    def serve() -> None:
        # Closing waitress from another thread races its select(); stop the loop here, then close.
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/"
    finally:  # also when the caller fails or is interrupted (Ctrl-C in the demo)
        stop.set()
        thread.join(timeout=5)
        if app is not None:  # let the after-the-ack work end while the Slack it talks to is still there
            app.listener_runner.listener_executor.shutdown(wait=True)
        runtime.engine.dispose()
