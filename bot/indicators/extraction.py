"""Indicators of compromise: found in one regex pass, stored fanged, shown defanged.

ioc-finder parses with pyparsing (about five seconds for 40,000 characters) and misses forms that
threat reports use every day: integer, hex and octal IPv4 hosts, bracketed IPv6 hosts, single-label
hosts after a scheme, IDN hosts. So the scanner here is one compiled regex that also reads the
already-defanged spellings (`hxxp`, `[.]`, `(.)`, `[at]`, `[:]//`) and turns each match back into
its real value; ioc-finder's list of top-level domains decides what is a domain.

Only the indicators themselves are defanged in echoed text, so ordinary words ("e.g.", report.txt)
read normally while nothing clickable or unfurlable leaves the bot.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from ioc_finder.data import tlds as _TLD_LIST
from sqlalchemy.orm import Session

from models import Indicator
from models.db import insert_ignoring_conflicts

TLDS = frozenset(tld.lower() for tld in _TLD_LIST)

_DOT = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\))"
_AT = r"(?:@|\[at\]|\(at\)|\[@\]|\(@\)|\{at\})"
# No underscore inside a label: `evil.net_0` is the domain `evil.net` followed by text, as Slack links it.
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
# A whole dotted run, never backtracked into (atomic): which start of it is a domain is decided in
# Python by its last label, so `a.a.a.a…` costs one pass, not one per position.
_DOTTED = rf"(?>{_LABEL}(?:{_DOT}{_LABEL})+)"
_DOT_SPLIT = re.compile(f"({_DOT})", re.IGNORECASE)
_AT_SPLIT = re.compile(_AT, re.IGNORECASE)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_SCHEME = r"[a-z][a-z0-9+.-]{0,15}(?:://|\[:\]//|\[://\])"
_SCANNER = re.compile(
    "|".join((
        # Any scheme, fanged or not: `http://`, `hxxps[:]//`, `smb://`, `fxp[://]`. A URL ends where
        # another begins (`?next=http://...` is two indicators), so none hides inside another's path.
        rf"(?P<url>{_SCHEME}(?:(?!{_SCHEME})[^\s<>\"'`|])+)",
        rf"(?P<email>(?<![\w.+%-])[\w.+%-]{{1,64}}{_AT}{_DOTTED})",
        # Colons fanged or not (`2001[:]db8[:][:]1`); an IPv4 tail as in `::ffff:198.51.100.9`.
        rf"(?P<ipv6>(?<![^\W_]|[:.])[0-9a-f]{{0,4}}(?:(?::|\[:\])[0-9a-f]{{0,4}}){{2,7}}(?:(?:\.{_OCTET}){{3}})?(?![^\W_]|:|\.\d))",
        rf"(?P<ipv4>(?<![\d.]){_OCTET}(?:{_DOT}{_OCTET}){{3}})(?!\d|\.\d)",
        rf"(?P<domain>(?<![^\W_]|-){_DOTTED})",
        r"(?P<hash>(?<![\w])(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![\w]))",
    )),
    re.IGNORECASE,
)
_HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256"}
_WORD = re.compile(r"\S+")
_SEPARATOR = re.compile(r"[.:@\[(){]")


def _defanged_spellings(scheme_start: str) -> re.Pattern[str]:
    """The defanged spellings the scanner reads; `scheme_start` says where a `hxxp` or `fxp` scheme may begin."""
    return re.compile(
        r"(?P<dot>\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\))|(?P<at>\[at\]|\(at\)|\[@\]|\(@\)|\{at\})"
        r"|(?P<slashes>\[:\]//|\[://\])|(?P<colon>\[:\])|(?P<slash>\[/\])"
        rf"|(?P<http>{scheme_start}hxxp)|(?P<ftp>{scheme_start}fxp)",
        re.IGNORECASE,
    )


# In one matched indicator the scheme starts it; in running text, any word may start one.
_DEFANGED = _defanged_spellings("^")
_DEFANGED_IN_TEXT = _defanged_spellings(r"(?<![^\W_])")
_FANGED = {"dot": ".", "at": "@", "slashes": "://", "colon": ":", "slash": "/", "http": "http", "ftp": "ftp"}
# Trailing characters that end a sentence, a quotation or markup rather than the URL (reports pasted
# from word processors bring curly quotes; CJK text its own full stop and comma).
_URL_TAIL = ".,;:!?'\"*_~”’»›…。，、；：！？"
_CLOSERS = {")": "(", "]": "[", "}": "{", "）": "（", "」": "「", "』": "『", "】": "【", "》": "《", "〉": "〈"}
# Hashes cannot be clicked; everything else is shown defanged.
DEFANGED_KINDS = {"url", "email", "domain", "ipv4", "ipv6"}


@dataclass(frozen=True)
class Found:
    """One indicator in a text: where it stands, what it is, and the real (fanged) value(s)."""

    start: int
    end: int
    kind: str
    value: str  # as stored: fanged, and lower case where case means nothing
    written: str  # fanged, in the writer's case
    related: tuple[tuple[str, str], ...] = ()  # e.g. a URL's host as a domain or an IP

    @property
    def display(self) -> str:
        return defanged(self.kind, self.written)


def _trim_url(url: str) -> str:
    while url:
        last = url[-1]
        if last in _URL_TAIL or (last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last)):
            url = url[:-1]
        else:
            break
    return url


def _fang(text: str) -> str:
    """The real value of one matched indicator: exactly the defanged spellings the scanner reads are
    undone (a general fanger also rewrites characters such as `^`, changing the value)."""
    return _DEFANGED.sub(lambda mark: _FANGED[mark.lastgroup or ""], text)


def refang(text: str) -> str:
    """Running text with every defanged spelling read back as its real character (`hxxp://evil[.]example`
    becomes `http://evil.example`), what's written in other words left as it is: how alert text is read
    when watching for indicators."""
    return _DEFANGED_IN_TEXT.sub(lambda mark: _FANGED[mark.lastgroup or ""], text)


def _is_tld(label: str) -> bool:
    label = label.lower()
    if label in TLDS:
        return True
    try:
        return label.encode("idna").decode("ascii") in TLDS
    except UnicodeError:
        return False


def _is_domain(host: str) -> bool:
    labels = host.split(".")
    return len(labels) >= 2 and all(labels) and _is_tld(labels[-1])


def _domain_prefix(raw: str) -> str | None:
    """The longest start of a dotted run (as written) that is a domain: it ends in a top-level domain."""
    parts = _DOT_SPLIT.split(raw)  # labels at even positions, separators between them
    for last in range(len(parts) - 1, 1, -2):
        if _is_tld(parts[last]):
            return "".join(parts[:last + 1])
    return None


def _legacy_ipv4(host: str) -> str | None:
    """inet_aton's forms, as browsers read them: `3405803781`, `0xCB007105`, `0313.0.0x71.5`."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(len(part) > 12 for part in parts):  # 0xFFFFFFFF has 10
        return None
    numbers = []
    for part in parts:
        if re.fullmatch(r"0x[0-9a-f]+", part, re.IGNORECASE):
            numbers.append(int(part, 16))
        elif re.fullmatch(r"0[0-7]+", part):
            numbers.append(int(part, 8))
        elif re.fullmatch(r"\d+", part):
            numbers.append(int(part))
        else:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = sum(n << (8 * (3 - i)) for i, n in enumerate(head)) + last
    return str(ipaddress.IPv4Address(value))


def _host_indicator(url: str) -> tuple[str, str] | None:
    """The host of a URL as its own indicator, or None for a single-label host (the URL still counts)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    host = netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        address = host[1:].split("]", 1)[0]
        try:
            return "ipv6", str(ipaddress.IPv6Address(address))
        except ValueError:
            return None
    host = host.split(":", 1)[0].rstrip(".").lower()
    legacy = _legacy_ipv4(host)
    if legacy is not None:
        return "ipv4", legacy
    return ("domain", host) if _is_domain(host) else None


@dataclass(frozen=True)
class _Reading:
    length: int  # of the raw text the indicator covers (a URL loses trailing punctuation)
    kind: str
    value: str
    written: str
    related: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=8192)
def _read(kind: str, raw: str) -> _Reading | None:
    """What one regex match is, if anything. Cached: a post-mortem repeats the same few indicators."""
    if kind == "url":
        raw = _trim_url(raw)
        written = _fang(raw)
        scheme, _, rest = written.partition("://")
        if not rest.strip("/"):
            return None
        value = f"{scheme.lower()}://{rest}"
        host = _host_indicator(value)
        return _Reading(len(raw), "url", value, written, (host,) if host else ())
    if kind in {"email", "domain"}:
        at = _AT_SPLIT.search(raw) if kind == "email" else None
        head = raw[:at.end()] if at else ""
        domain = _domain_prefix(raw[len(head):])
        if domain is None:
            return None
        value = _fang(head + domain)
        if kind == "domain":
            return _Reading(len(domain), "domain", value.lower(), value)
        return _Reading(len(head + domain), "email", value, value, (("domain", value.rsplit("@", 1)[1].lower()),))
    value = _fang(raw)
    if kind == "ipv4":
        return _Reading(len(raw), "ipv4", value, value)
    if kind == "ipv6":
        if sum(c.isalnum() for c in value) < 2:
            return None
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            return None
        return _Reading(len(raw), "ipv6", value.lower(), value)
    return _Reading(len(raw), _HASH_KINDS[len(value)], value.lower(), value)


def _resume_after_rejected(match: re.Match[str]) -> int:
    """Where to look again after a match that is no indicator, without ever reading a span twice over."""
    if match.lastgroup in {"email", "domain"}:
        # No start of the dotted run ends in a top-level domain, so nothing inside it does either; its
        # last label may still begin a URL (`x.comhttp://...`).
        return match.end() - len(_DOT_SPLIT.split(match.group(0))[-1])
    # Elsewhere (`1:2:3`), what follows the first separator may still be an indicator.
    separator = _SEPARATOR.search(match.string, match.start() + 1, match.end())
    return separator.end() if separator else match.end()


def scan(text: str) -> Iterator[Found]:
    """Every indicator in `text`, left to right, spans never overlapping."""
    # No indicator spans whitespace: the scanner runs only on words that could hold one, which
    # makes ordinary prose nearly free.
    for word in _WORD.finditer(text):
        if word.end() - word.start() < 32 and not _SEPARATOR.search(word.group(0)):
            continue
        position, end = word.start(), word.end()
        while (match := _SCANNER.search(text, position, end)) is not None:
            reading = _read(match.lastgroup or "", match.group(0))
            start = match.start()
            if reading is None:
                position = _resume_after_rejected(match)
                continue
            yield Found(start, start + reading.length, reading.kind, reading.value, reading.written, reading.related)
            position = start + reading.length


def extract(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs, real values, first appearance first, without repeats."""
    pairs: dict[tuple[str, str], None] = {}
    for found in scan(text):
        pairs[(found.kind, found.value)] = None
        pairs.update(dict.fromkeys(found.related))
    return list(pairs)


def defanged(kind: str, value: str) -> str:
    """How an indicator is shown: unclickable, unfurlable, still readable and copyable into a fanger."""
    if kind == "url":
        scheme, _, rest = value.partition("://")
        host_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        shown_scheme = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}.get(scheme.lower())
        head = f"{shown_scheme}://" if shown_scheme else f"{scheme}[:]//"
        # Every dot and colon, not only the host's: `payload.exeevil.com` or an address inside a
        # path must not read as an indicator of its own.
        return head + (rest[:host_end].replace("@", "[@]") + rest[host_end:]).replace(".", "[.]").replace(":", "[:]")
    if kind == "email":
        local, _, domain = value.rpartition("@")
        return f"{local}[@]{domain.replace('.', '[.]')}"
    if kind in {"domain", "ipv4"}:
        return value.replace(".", "[.]")
    if kind == "ipv6":
        return value.replace(":", "[:]").replace(".", "[.]")
    return value


def segments(text: str) -> Iterator[tuple[str, bool]]:
    """`text` cut into (piece, is_indicator) with every indicator already defanged: an indicator
    piece must be kept or dropped whole when text is shortened."""
    position = 0
    for found in scan(text):
        if found.kind not in DEFANGED_KINDS:
            continue
        if found.start > position:
            yield text[position:found.start], False
        yield found.display, True
        position = found.end
    if position < len(text):
        yield text[position:], False


def defang(text: str) -> str:
    """Defang every indicator found in `text`."""
    return "".join(piece for piece, _ in segments(text))


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
    """False only for text where the scanner cannot find anything: every URL, domain, address and IP,
    fanged or not, has a dot, colon, `@`, bracket or parenthesis, and every hash a run of 32+ hex digits."""
    return _SEPARATOR.search(text) is not None or _HEX_RUN.search(text) is not None
