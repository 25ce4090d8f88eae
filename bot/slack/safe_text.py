"""The one way out for text a person typed: normalise once on the way in, then per output format
defang every indicator in that very text, escape for the format, and fit the format's limit.

Limits are checked after escaping (`&` becomes five characters in mrkdwn), and a cut never splits
an escape entity, a defanged indicator or a character and the marks that join it. A shortened text
says so. Nothing here raises on any input.

Stored text is normalised (`normalise`, or `from_slack` for text in Slack's message format), never
escaped: every output escapes it for itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from bot.indicators import extraction as indicators

SECTION_TEXT = 3000
PLAIN_TEXT = 150  # header blocks; Slack says 150 wherever it limits plain_text
OPTION_TEXT = 75
TOPIC = 250
MESSAGE_TEXT = 40_000
MODAL_TITLE = 24
FILE_NAME = 80

SHORTENED = "… shortened; the full text is in the report file"
ELLIPSIS = "…"

_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
# C0 and C1 controls other than tab and LF, DEL, and lone surrogates (which no database can store).
_UNSTORABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
# Slack's markup is `<@U1>`, `<#C1|name>`, `<!here>`, `<scheme:...|label>`; any other `<` arrives as `&lt;`
# (and a `<b>` sent by a test or another client stays as typed).
_SLACK_MARKUP = re.compile(r"<([@#!][^<>|]*|[a-z][a-z0-9+.-]*:[^<>|]*)(?:\|([^<>]*))?>|&(amp|lt|gt);", re.IGNORECASE)
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_MRKDWN_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_INLINE_MARKDOWN = re.compile(r"([\\`*_\[\]()|~!#<>&])")
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}
_ICAL_BACKSLASH = re.compile(r"\\(?=[nN;,\\])")
_FORMULA_STARTS = ("\t", "\r")
_FORMULA_SIGNS = frozenset("=+-@")
# What a spreadsheet may drop before reading a formula: blanks (any kind) and quotes.
_BEFORE_FORMULA = re.compile(r"^[\s\"']+")


# -- on the way in ---------------------------------------------------------------------------------
def normalise(text: str | None) -> str:
    """Text as typed into a modal: one kind of line break (LF), no control characters."""
    if not text:
        return ""
    return _UNSTORABLE.sub("", _LINE_BREAKS.sub("\n", text))


def from_slack(text: str | None) -> str:
    """Text in Slack's message format (slash-command text, a captured message) as the person typed
    it: `<https://x.example/a?b=1&amp;c=2>` is the URL, `<mailto:a@x.example|a@x.example>` the
    address, `<!here>` `@here`, `<#C1|war-room>` `#war-room`, `&lt;` `<`. A user mention stays
    `<@U1>` (who, not a display name; `/postmortem action <@U1> ...` reads it), inert like any `<`
    once escaped for output. One pass, so decoded text is never re-read."""
    if not text:
        return ""

    def plain(match: re.Match[str]) -> str:
        target, label, entity = match.groups()
        if entity:
            return _ENTITIES[entity]
        target = _decode_entities(target)
        label = _decode_entities(label) if label is not None else None
        if target.startswith("@"):
            return f"<{target}>"
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label if label else "@" + target[1:].split("^", 1)[0]
        if not label:
            return target
        bare = re.sub(r"^(?:mailto:|https?://)", "", target, flags=re.IGNORECASE)
        return label if label in {bare, bare.rstrip("/"), target} else f"{label} ({target})"

    return normalise(_SLACK_MARKUP.sub(plain, text))


def _decode_entities(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda m: _ENTITIES[m.group(1)], text)


# -- on the way out --------------------------------------------------------------------------------
def mrkdwn(text: str | None, *, limit: int = SECTION_TEXT, marker: str = SHORTENED) -> str:
    """For a section, context element or message `text`: nothing pings, nothing links."""
    return _render(text, lambda ch: _MRKDWN_ESCAPES.get(ch, ch), limit, marker)


def mrkdwn_line(text: str | None, *, limit: int = PLAIN_TEXT, marker: str = ELLIPSIS) -> str:
    """A title or label inside a mrkdwn line: one line, short."""
    return mrkdwn(_one_line(text), limit=limit, marker=marker)


def plain_text(text: str | None, *, limit: int = PLAIN_TEXT, marker: str = ELLIPSIS) -> str:
    """For a plain_text object (header, option, button): Slack shows it as is, so no escaping."""
    return _render(_one_line(text), str, limit, marker) or " "


def topic(text: str | None, *, limit: int = TOPIC) -> str:
    """A channel topic or purpose: one line; Slack parses mentions and links there as in mrkdwn."""
    return mrkdwn(_one_line(text), limit=limit, marker=ELLIPSIS)


def markdown(text: str | None) -> str:
    """Inert in a Markdown file: no HTML, links, emphasis, headings, lists, quotes, rules or code
    blocks. Line breaks stay line breaks (a trailing backslash) without ever ending a paragraph."""
    lines = [line.strip() for line in indicators.defang(normalise(text)).split("\n")]
    escaped = [_INLINE_MARKDOWN.sub(lambda m: _markdown_escape(m.group(1)), line) for line in lines if line]
    escaped = [re.sub(r"^(?:([+\-=])|(\d+)([.)]))", _escape_line_start, line) for line in escaped]
    return "\\\n".join(escaped)


def markdown_cell(text: str | None) -> str:
    """One cell of a Markdown table: a single line."""
    return markdown(text).replace("\\\n", " ")


def _escape_line_start(match: re.Match[str]) -> str:
    marker, number, dot = match.groups()
    return "\\" + marker if marker else f"{number}\\{dot}"


def _markdown_escape(char: str) -> str:
    return _MRKDWN_ESCAPES[char] if char in _MRKDWN_ESCAPES else "\\" + char


def html(text: str | None) -> str:
    """For a Jinja2 template with autoescape on: defanged here, escaped by Jinja2."""
    return indicators.defang(normalise(text))


def ical(text: str | None) -> str:
    """For an iCalendar TEXT value: defanged, LF line breaks only (icalendar escapes and folds)."""
    # icalendar turns a typed `\N` into a line break and reads `\\n`, `\\;` back wrongly: a zero-width
    # space after such a backslash keeps what the person typed.
    return _ICAL_BACKSLASH.sub("\\\u200b", indicators.defang(normalise(text)))


def data_line(text: str | None) -> str:
    """A one-line value in a machine-readable export (STIX, MISP): defanged like every other export; the
    JSON encoder escapes it."""
    return indicators.defang(_one_line(text))


def terminal(text: str | None) -> str:
    """For a terminal (the demo's transcript): defanged, and no control character, so no escape sequence
    can move the cursor, retitle the window or hide a line."""
    return indicators.defang(normalise(text))


def file_name(text: str | None, *, limit: int = FILE_NAME) -> str:
    """A file name that every system accepts: ASCII letters, digits and hyphens."""
    ascii_text = unicodedata.normalize("NFKD", normalise(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:limit].rstrip("-") or "postmortem"


def export_text(text: str | None) -> str:
    """A value in a data export (JSON, CSV): normalised and defanged, otherwise as typed (the format's
    own writer escapes it)."""
    return indicators.defang(normalise(text))


def csv_cell(text: str | None) -> str:
    """A CSV cell a spreadsheet shows as text: defanged, and a cell that a spreadsheet would read as a
    formula gets a leading apostrophe: one starting with a tab or a carriage return, or with = + - @ (or
    their full-width forms) once leading blanks and quotes are dropped, as importers do."""
    value = export_text(text)
    sign = unicodedata.normalize("NFKC", _BEFORE_FORMULA.sub("", value)[:1])[:1]
    return "'" + value if value.startswith(_FORMULA_STARTS) or sign in _FORMULA_SIGNS else value


# -- shared machinery ------------------------------------------------------------------------------
def _one_line(text: str | None) -> str:
    return " ".join(normalise(text).split("\n"))


def _render(text: str | None, escape: Callable[[str], str], limit: int, marker: str) -> str:
    pieces = list(indicators.segments(normalise(text)))
    whole = "".join(map(escape, "".join(piece for piece, _ in pieces)))
    if len(whole) <= limit:
        return whole
    units: list[str] = []
    for piece, atomic in pieces:
        if atomic:
            units.append("".join(map(escape, piece)))
        else:
            units.extend(map(escape, piece))
    return _cut(units, limit, marker)


def _cut(units: list[str], limit: int, marker: str) -> str:
    """Keep whole units within `limit`, marker included, ending at a word break when one is near."""
    if limit <= len(marker):
        marker = ELLIPSIS if limit > len(ELLIPSIS) else ""
    budget, used, count = limit - len(marker), 0, 0
    for unit in units:
        if used + len(unit) > budget:
            break
        used += len(unit)
        count += 1
    for end in range(count, max(0, count - 40), -1):
        if units[end - 1].isspace():
            count = end
            break
    while 0 < count < len(units) and (unicodedata.combining(units[count][0]) or units[count] in _JOINERS
                                       or units[count - 1] in _JOINERS):
        count -= 1
    return "".join(units[:count]).rstrip() + marker
