"""Indicators of compromise: found with ioc-finder, stored fanged, shown defanged with ioc-fanger.

Only the indicators themselves are defanged in echoed text, so ordinary words ("e.g.", file names)
read normally while nothing clickable or unfurlable leaves the bot.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import datetime

import ioc_fanger
from ioc_finder import find_iocs
from sqlalchemy.orm import Session

from bot.slack_gateway import escape_mrkdwn
from models import Indicator
from models.db import insert_ignoring_conflicts

# ioc-finder result key -> the kind we store.
KINDS = {
    "urls": "url",
    "email_addresses_complete": "email",
    "domains": "domain",
    "ipv4s": "ipv4",
    "ipv6s": "ipv6",
    "md5s": "md5",
    "sha1s": "sha1",
    "sha256s": "sha256",
}
# ioc-finder's pyparsing grammar is not thread-safe: threads parsing at once can leave a parse action
# broken for the rest of the process (TypeError on every later note with a dot). One parse at a time.
_IOC_FINDER_LOCK = threading.Lock()
# Hashes cannot be clicked; everything else is shown defanged.
DEFANGED_KINDS = {"url", "email", "domain", "ipv4", "ipv6"}


def extract(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs, in a stable order. ioc-finder also recognizes already-defanged input."""
    with _IOC_FINDER_LOCK:
        found = find_iocs(text, included_ioc_types=list(KINDS), parse_urls_without_scheme=False)
    pairs: list[tuple[str, str]] = []
    for key, kind in KINDS.items():
        pairs.extend((kind, value) for value in found.get(key, []))  # type: ignore[union-attr]
    return pairs


class Defanger:
    """Defangs known indicators in one regex pass: the report builds one from the post-mortem's stored
    indicators instead of searching every note again."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        values = {value.lower() for kind, value in pairs if kind in DEFANGED_KINDS}
        self._replacements = {value: ioc_fanger.defang(value) for value in values}
        self._pattern = re.compile(_trie_pattern(values), re.IGNORECASE) if values else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: self._replacements[match.group(0).lower()], text)


def _trie_pattern(values: Iterable[str]) -> str:
    """One regex for many literals, shaped as a trie: hundreds of indicators sharing prefixes
    (`http://c2-1.`, `http://c2-2.`) cost a few steps per position instead of one try per indicator.
    Longer matches win, so a URL is replaced whole before the domain inside it."""
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:  # type: ignore[type-arg]
        ends_here = "" in node
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends_here else body

    return build(trie)


def defang(text: str) -> str:
    """Defang every indicator found in `text`."""
    # Every URL, domain, address and IP has a dot or a colon: text without one needs no search.
    if "." not in text and ":" not in text:
        return text
    return Defanger(extract(text))(text)


def safe_mrkdwn(text: str) -> str:
    """User text made safe to echo in Slack: indicators defanged, then `&`, `<`, `>` escaped."""
    return escape_mrkdwn(defang(text))


def record(session: Session, *, postmortem_id: int, text: str, now: datetime) -> int:
    """Store the indicators found in `text` that the post-mortem does not have yet; returns how many were new.
    Two notes naming the same new indicator at once both keep their note: the database keeps one indicator."""
    if not might_hold_indicators(text):
        return 0
    # Sorted, so concurrent transactions take the unique index's locks in the same order (no deadlock).
    rows = [dict(postmortem_id=postmortem_id, kind=kind, value=value, first_seen_at=now)
            for kind, value in sorted(set(extract(text)))]
    return insert_ignoring_conflicts(session, Indicator, rows)


_HEX_RUN = re.compile(r"[0-9a-fA-F]{32}")


def might_hold_indicators(text: str) -> bool:
    """False only for text where ioc-finder cannot find anything: it fangs first (`evil[dot]com` becomes
    `evil.com`), then every URL, domain, address and IP has a dot or a colon and every hash a run of 32+
    hex digits. Most notes are plain sentences; this skips ioc-finder's ~5 ms parse for them."""
    fanged = ioc_fanger.fang(text)
    return "." in fanged or ":" in fanged or _HEX_RUN.search(fanged) is not None
