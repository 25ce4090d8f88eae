"""What the demo leaves in its output folder: the files the app shared in Slack, and the summary's blocks.

Each file is one `Output` line in OUTPUTS, with a `produce` that takes the `Played` post-mortem (its
runtime and id give the database) and returns the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.runtime import Runtime
from bot.slack.double import FakeSlack

BLOCK_KIT_BUILDER = "https://app.slack.com/block-kit-builder/#"


@dataclass(frozen=True)
class Played:
    """A post-mortem the demo played to its close, and the Slack double that saw it all."""

    double: FakeSlack
    runtime: Runtime
    postmortem_id: int
    channel_id: str
    summary: dict[str, Any]

    def shared_file(self, suffix: str) -> bytes:
        """The content of the latest file shared in a channel or DM whose name ends with `suffix`."""
        shared = [f for f in self.double.files.values() if f["channels"] and f["filename"].endswith(suffix)]
        if not shared:
            raise LookupError(f"no file ending in {suffix} was shared")
        return bytes(shared[-1]["content"])


@dataclass(frozen=True)
class Output:
    name: str
    what: str
    produce: Callable[[Played], bytes]


def summary_blocks(played: Played) -> list[dict[str, Any]]:
    return list(played.summary["blocks"])


def block_kit_builder_link(blocks: list[dict[str, Any]]) -> str:
    return BLOCK_KIT_BUILDER + quote(json.dumps({"blocks": blocks}, separators=(",", ":")), safe="")


OUTPUTS: tuple[Output, ...] = (
    Output("report.md", "the published report, Markdown", lambda p: p.shared_file(".md")),
    Output("report.html", "the published report, HTML: open it in a browser", lambda p: p.shared_file(".html")),
    Output("slack-summary.json", "the Slack summary as Block Kit JSON",
           lambda p: json.dumps({"blocks": summary_blocks(p)}, indent=2).encode()),
    Output("slack-summary-block-kit-builder.url", "open it to see the summary in Slack's Block Kit Builder",
           lambda p: (block_kit_builder_link(summary_blocks(p)) + "\n").encode()),
    Output("postmortem-review.ics", "the meeting invite, iCalendar", lambda p: p.shared_file(".ics")),
    Output("indicators.stix.json", "the indicators as a STIX 2.1 bundle, shared with the report",
           lambda p: p.shared_file(".stix.json")),
    Output("security-scorecard.png", "the security scorecard's chart, as Maya got it in her DM",
           lambda p: p.shared_file(".png")),
)


def write_outputs(played: Played, directory: Path) -> list[tuple[Output, Path]]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for output in OUTPUTS:
        path = directory / output.name
        path.write_bytes(output.produce(played))
        written.append((output, path))
    return written
