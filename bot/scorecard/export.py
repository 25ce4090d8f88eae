"""The export: one row per post-mortem, as CSV and as JSON. Titles leave through safe_text (defanged; in CSV
also kept from being read as a formula)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.scorecard.service import MEASURES, PREVENTIVE_FIELDS, ExportRow
from bot.slack import safe_text

MOMENTS = ("compromised_at", "detected_at", "contained_at", "resolved_at", "report_published_at")
ACTION_COUNTS = ("created", "done_on_time", "done_late", "open", "overdue", "cancelled")
COLUMNS = (
    "postmortem_id", "title", "severity", "status", "facilitator_id", *MOMENTS,
    *(f"{measure.key}_hours" for measure in MEASURES), "classification", "attack_vector",
    *(f"actions_{name}" for name in ACTION_COUNTS), *PREVENTIVE_FIELDS,
)


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _record(row: ExportRow, *, text: Callable[[str], str]) -> dict[str, Any]:
    """The row's values by column; `text` renders what a person typed."""
    return {
        "postmortem_id": row.postmortem_id, "title": text(row.title), "severity": row.severity, "status": row.status,
        "facilitator_id": row.facilitator_id,
        **{name: _iso(getattr(row, name)) for name in MOMENTS},
        **{f"{measure.key}_hours": None if row.seconds[measure.key] is None else round(row.seconds[measure.key] / 3600, 2)
           for measure in MEASURES},
        "classification": row.classification, "attack_vector": row.attack_vector,
        **{f"actions_{name}": row.actions[name] for name in ACTION_COUNTS},
        **row.preventive,
    }


def to_csv(rows: list[ExportRow]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheets read accents right; empty cells for "not recorded"."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in _record(row, text=safe_text.csv_cell).items()})
    return buffer.getvalue().encode("utf-8-sig")


def to_json(rows: list[ExportRow], *, period: str, scope: str, generated_at: datetime) -> bytes:
    document = {"period": period, "scope": scope, "generated_at": _iso(generated_at), "columns": list(COLUMNS),
                "postmortems": [_record(row, text=safe_text.export_text) for row in rows]}
    return json.dumps(document, ensure_ascii=False, indent=2).encode()
