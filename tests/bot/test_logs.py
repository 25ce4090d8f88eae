"""Log lines: the request's fields on every line, JSON or text, and no data from database errors."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs

PHRASE = "ZEBRA-CROSSING-7731"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_database_error_logged_with_its_traceback_keeps_the_row_values_out(log_format: str) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.logs.hygiene")
    logger.addHandler(logs.make_handler(log_format, stream))
    logger.propagate = False
    try:
        with logs.bind_request("req-1"):
            logs.bind_caller(team="T1", user="U1", listener="/postmortem note")
            try:
                raise RuntimeError(
                    'duplicate key value violates unique constraint "uq_indicators"\n'
                    f"DETAIL:  Key (postmortem_id, kind, value)=(2, domain, {PHRASE}) already exists.\n"
                    f"[parameters: {{'value': '{PHRASE}'}}]"
                )
            except RuntimeError:
                logger.exception("listener failed")
    finally:
        logger.handlers.clear()
    output = stream.getvalue()
    assert PHRASE not in output
    assert "duplicate key value" in output and "DETAIL: (hidden" in output
    if log_format == "json":
        line = json.loads(output)
        assert (line["request_id"], line["team"], line["user"], line["listener"]) == ("req-1", "T1", "U1", "/postmortem note")
    else:
        assert "[request=req-1 team=T1 user=U1 listener=/postmortem note]" in output


def test_bolts_dump_of_a_rejected_body_becomes_one_plain_line() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("slack_bolt.RequestVerification.test")
    logger.addHandler(logs.make_handler("text", stream))
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info(f"Invalid request signature detected (signature: v0=x, timestamp: 1, body: text=note+{PHRASE})")
    finally:
        logger.handlers.clear()
    assert PHRASE not in stream.getvalue() and "rejected a request: invalid or stale signature" in stream.getvalue()
