"""Finding watched indicators in alert messages: one Aho-Corasick automaton over every indicator of every
post-mortem in its monitoring window, so a message costs the same with ten indicators watched or 100,000.

Alert text is read the way the indicator scanner reads notes: defanged spellings (`hxxp`, `[.]`, `[at]`,
`[:]`) turned back into real characters (bot.indicators.extraction.refang), then lower-cased, so
`EVIL[.]example` finds `evil.example`. A hit must stand on its own: `evil.example` is found in
`www.evil.example` (a subdomain) but not in `notevil.example` or `evil.example.net`; a hash only as a whole
run of hex digits (an MD5 inside a SHA-256 is not that MD5); an address not inside a longer number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import ahocorasick

from bot.indicators.extraction import refang

# Slack escapes these three in message text; undone so `a?b=1&amp;c=2` reads as the URL it is.
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_HASH = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}")
# Whole runs only: an MD5 inside a SHA-256, or inside a longer word, is not that MD5.
# Whole runs of hex digits, colons and dots with two colons at least (a zone like `%eth0` may follow).
_IPV6_RUN = re.compile(r"(?<![\w:.])[0-9a-f.]*:[0-9a-f.]*:[0-9a-f:.]*(?![\w:])")
_PUNYCODE_LABEL = re.compile(r"xn--[a-z0-9-]+")
_HEX_RUN = re.compile(r"(?<![\w-])[0-9a-f]{32,64}(?![\w-])")


@dataclass(frozen=True)
class Watched:
    """One indicator of one post-mortem, as stored (fanged)."""

    indicator_id: int
    postmortem_id: int
    kind: str
    value: str


def _word_char(char: str) -> bool:
    return char.isalnum() or char in "-_"


def _hex_char(char: str) -> bool:
    return char in "0123456789abcdef" or char in ":"


# kind -> (what may not stand right before a hit, what may not follow it). A dot followed by a word
# character continues a name or an address (`evil.example.net`, `10.0.0.1.5`), so it may not follow either.
_Edge = Callable[[str], bool]
_EDGES: dict[str, tuple[_Edge, _Edge]] = {
    "domain": (_word_char, _word_char),
    "url": (str.isalnum, _word_char),
    "email": (lambda c: _word_char(c) or c in ".+%", _word_char),
    "ipv4": (lambda c: c.isdigit() or c == ".", str.isdigit),
    "ipv6": (_hex_char, _hex_char),
}
_DEFAULT_EDGES: tuple[_Edge, _Edge] = (_word_char, _word_char)


def _stands_alone(haystack: str, start: int, end: int, edges: tuple[_Edge, _Edge]) -> bool:
    before, after = edges
    if start > 0 and before(haystack[start - 1]):
        return False
    if end < len(haystack):
        following = haystack[end]
        if after(following):
            return False
        if following == "." and end + 1 < len(haystack) and _word_char(haystack[end + 1]):
            return False
    return True


class Matcher:
    """Built once per change of what is watched; `find` is safe to call from many threads at once.

    Hashes skip the automaton: a hash is only ever a whole run of hex digits, so the runs of a message are
    looked up in a dict (exact, and as fast). In the automaton their 32 to 64 random digits each would be
    a chain of nodes of their own, more than half of its memory and build time for a realistic watchlist.
    IPv6 addresses too, by their compressed form: `2001:DB8:0:0::1` and `2001:db8::1` are one address.
    """

    def __init__(self, watched: Iterable[Watched]) -> None:
        by_key: dict[str, list[Watched]] = {}
        for entry in watched:
            by_key.setdefault(entry.value.lower(), []).append(entry)
        self.size = len(by_key)
        self._hashes = {key: tuple(entries) for key, entries in by_key.items() if _HASH.fullmatch(key)}
        # IPv6 by its one compressed form: alerts and notes write the same address in many ways.
        self._ipv6: dict[str, tuple[Watched, ...]] = {}
        looked_up = set(self._hashes)
        for key, entries in by_key.items():
            address = _ipv6(key) if entries[0].kind == "ipv6" else None
            if address is not None:
                self._ipv6[address] = self._ipv6.get(address, ()) + tuple(entries)
                looked_up.add(key)
        self._automaton: Any = None
        if len(by_key) > len(looked_up):
            automaton = ahocorasick.Automaton()
            for key, entries in by_key.items():
                if key not in looked_up:
                    for written in {key, _unicode_form(key)}:
                        automaton.add_word(written, (len(written), _EDGES.get(entries[0].kind, _DEFAULT_EDGES),
                                                     tuple(entries)))
            automaton.make_automaton()
            self._automaton = automaton

    def find(self, text: str) -> list[Watched]:
        """Every watched indicator `text` holds, in any fanged or defanged form, each once."""
        if not self.size or not text:
            return []
        for escaped, plain in _SLACK_ENTITIES:
            text = text.replace(escaped, plain)
        haystack = refang(text).lower()
        found: dict[Watched, None] = {}
        if self._automaton is not None:
            for last, (length, edges, entries) in self._automaton.iter(haystack):
                if _stands_alone(haystack, last + 1 - length, last + 1, edges):
                    found.update(dict.fromkeys(entries))
        if self._hashes:
            for run in _HEX_RUN.findall(haystack):
                found.update(dict.fromkeys(self._hashes.get(run, ())))
        if self._ipv6:
            for run in _IPV6_RUN.findall(haystack):
                address = _ipv6(run.rstrip("."))
                if address is not None:
                    found.update(dict.fromkeys(self._ipv6.get(address, ())))
        return list(found)


def _ipv6(text: str) -> str | None:
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        return None


def _unicode_form(key: str) -> str:
    """`key` with its punycode labels (`xn--…`) as the Unicode an alert may show them in (IDNA)."""
    def label(found: re.Match[str]) -> str:
        try:
            return found.group().encode("ascii").decode("idna").lower()
        except UnicodeError:
            return found.group()
    return _PUNYCODE_LABEL.sub(label, key)


def alert_text(message: dict[str, Any]) -> str:
    """Everything an alert shows: its text, and every string in its blocks and attachments (bot alerts put
    the interesting part in attachment fields), one per line."""
    return "\n".join(_strings([message.get("text"), message.get("blocks"), message.get("attachments")]))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
