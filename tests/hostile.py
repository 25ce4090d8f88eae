"""What a hostile (or merely tired) participant types, as Hypothesis strategies, and the checks every
surface must pass with it."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

from bot.indicators.extraction import extract
from bot.slack import safe_text

INDICATOR_FORMS = [
    "http://evil-dl.net/payload.exe", "https://cdn.evil-login.com/a?id=7&k=9", "hr@evil-login.com",
    "http://3405803781/gate.php", "http://0xCB007105/", "http://[2001:db8::66]/x", "http://intranet-sso/login",
    "http://пример.рф/", "hxxp://evil[.]com/x", "evil(.)com", "a[at]b[.]com", "hxxps[:]//x[.]org/a",
    "198.51.100.7", "2001:db8::66", "evil-update.net", "d41d8cd98f00b204e9800998ecf8427e", "smb://fs01/share",
]
FRAGMENTS = [
    "<!here>", "<!channel>", "<!everyone>", "<@U0LEAD0001>", "<#C0WARROOM>", "@here", "<http://x.example|click>",
    "<mailto:hr@evil-login.com|hr@evil-login.com>", "<https://cdn.evil-login.com/a?id=7&amp;k=9>",
    "&", "&amp;", "&lt;", "&gt;", "<", ">", "\r", "\n", "\r\n", "\u2028", "\u2029", "\x00", "\x1b", "\u202e",
    "\u200d", "\u200b", "👩\u200d💻", "🏳️\u200d🌈", "é", "# heading", "- item", "1. item", "> quote", "---", "|", "*",
    "_", "`", "```", "[x](http://md.evil.com)", "<script>alert(1)</script>", "</td>", "\\", ";", ",", "BEGIN:VEVENT",
    " ", "\t", "word", "Ölkännchen", "日本語",
] + INDICATOR_FORMS


@st.composite
def hostile_text(draw: st.DrawFn, *, max_repeat: int = 40_000) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=12))
    if draw(st.booleans()):
        # Long runs: the 600-& note, the 2,400-character evidence, a 40,000-character paste.
        times = draw(st.sampled_from([2, 200, 600, 2400, max_repeat]))
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(["&", "<!here>", "a ", "evil.com "])) * times)
    return "".join(parts)[:max_repeat + 1000]


ALLOWED_MARKUP = re.compile(
    r"<@[UW][A-Z0-9]+>|<#C[A-Z0-9]+>|<!date\^\d+\^[^|<>]*\|[^<>]*>|<https://(?:slack\.com/app_redirect|fake\.slack\.com/archives)/?[^<>|]*(?:\|[^<>]*)?>"
)
BOT_USER_IDS = re.compile(r"<@(?:U0[A-Z0-9]{8}|UBOT000001)>")


def no_live_slack_markup(shown: str, *, allowed: re.Pattern[str] | None = None) -> None:
    """No `<...>` Slack would act on, except the bot's own mentions, dates and Slack links."""
    rest = (allowed or ALLOWED_MARKUP).sub("", shown)
    assert "<" not in rest and ">" not in rest, f"live markup in {shown[:300]!r}"


def fanged_values(*texts: str) -> list[str]:
    """The real values of the clickable indicators in what people typed."""
    return [value for text in texts for kind, value in extract(safe_text.normalise(text))
            if kind in {"url", "email", "domain", "ipv4", "ipv6"}]


def leaks(shown: str, values: list[str]) -> list[str]:
    """The fanged values that stand on their own in `shown`, where a linkifier would find them
    (`evil.comhr` holds no `evil.com`)."""
    return [value for value in values
            if re.search(rf"(?<![^\W_]|-){re.escape(value)}(?![^\W_]|-)", shown, re.IGNORECASE)]


def texts_of(blocks: Any, *, kind: str | None = None) -> list[str]:
    """Every text Slack shows in a block tree (text objects, titles, option labels), not URLs or values;
    only those of text objects of type `kind` (mrkdwn or plain_text) when given."""
    found: list[str] = []
    if isinstance(blocks, dict):
        if isinstance(blocks.get("text"), str) and blocks.get("type") in {"mrkdwn", "plain_text"}:
            return [blocks["text"]] if kind in {None, blocks["type"]} else []
        for value in blocks.values():
            found += texts_of(value, kind=kind)
    elif isinstance(blocks, list):
        for item in blocks:
            found += texts_of(item, kind=kind)
    return found


def words_of(text: str) -> list[str]:
    """Words a reader must find again in what the bot shows (defanging and escaping leave them whole)."""
    return [word for word in re.findall(r"[^\W\d_]{5,}", safe_text.normalise(text))
            if not re.search(r"h[tx]{2}p|f[tx]p", word, re.IGNORECASE)]  # a scheme is shown as hxxp(s)
