"""The output-safety layer on its own: normalising, per-format escaping, defanging, fitting limits."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack import safe_text
from tests.hostile import fanged_values, hostile_text, leaks, no_live_slack_markup, words_of

FAST = settings(max_examples=50, deadline=None)


def test_normalise_keeps_tab_and_lf_only() -> None:
    assert safe_text.normalise("a\x00b\tc\r\nd\re\u2028f\u2029g\x85h\x7fi\x1bj") == "ab\tc\nd\ne\nf\ng\nhij"
    assert safe_text.normalise("\ud800x") == "x"
    assert safe_text.normalise(None) == ""


def test_from_slack_gives_back_what_the_person_typed() -> None:
    assert safe_text.from_slack("<https://cdn.evil-login.com/a?id=7&amp;k=9>") == "https://cdn.evil-login.com/a?id=7&k=9"
    assert safe_text.from_slack("<mailto:hr@evil-login.com|hr@evil-login.com>") == "hr@evil-login.com"
    assert safe_text.from_slack("<http://evil.com|evil.com>") == "evil.com"
    assert safe_text.from_slack("<http://x.example|click>") == "click (http://x.example)"
    assert safe_text.from_slack("1 &lt; 2 &amp;&amp; 3 &gt; 2") == "1 < 2 && 3 > 2"
    assert safe_text.from_slack("&amp;lt;") == "&lt;"  # one pass: decoded text is not decoded again
    assert safe_text.from_slack("<!here> <!channel> <!subteam^S1|@security> <#C1|war-room>") == "@here @channel @security #war-room"
    assert safe_text.from_slack("<@U123|ana> 2026-12-15 rotate") == "<@U123> 2026-12-15 rotate"
    assert safe_text.from_slack("line\r\nbreak\x00") == "line\nbreak"


def test_mrkdwn_escapes_and_defangs() -> None:
    assert safe_text.mrkdwn("<!here> 1 < 2 & http://evil.com/a?b=1&c=2") == (
        "&lt;!here&gt; 1 &lt; 2 &amp; hxxp://evil[.]com/a?b=1&amp;c=2")


def test_mrkdwn_fits_after_escaping_and_says_it_shortened() -> None:
    shown = safe_text.mrkdwn("&" * 2400)
    assert len(shown) <= 3000 and shown.endswith(safe_text.SHORTENED)
    assert re.fullmatch(r"(&amp;)+… shortened; the full text is in the report file", shown)


def test_cut_never_splits_an_indicator() -> None:
    text = "x" * 2990 + " http://evil-login.com/steal"
    shown = safe_text.mrkdwn(text)
    assert "evil" not in shown and len(shown) <= 3000
    assert safe_text.mrkdwn("a " * 10 + "http://evil-login.example.com/x", limit=30).startswith("a a")


def test_plain_text_is_one_line_defanged_and_short() -> None:
    assert safe_text.plain_text("Post-mortem: http://evil.com\n& more") == "Post-mortem: hxxp://evil[.]com & more"
    assert len(safe_text.plain_text("x" * 500)) == 150
    assert safe_text.plain_text("") == " "


def test_topic_is_escaped_within_250() -> None:
    shown = safe_text.topic("<!channel> <http://x.example|click> " * 20)
    assert len(shown) <= 250 and "<" not in shown and "http://" not in shown


def test_markdown_keeps_structure_flat() -> None:
    shown = safe_text.markdown("# Owned\r- item\r\n1. one\u2028> quote\n\n---\n[click](http://x.com) <b>&")
    assert shown == ("\\# Owned\\\n\\- item\\\n1\\. one\\\n&gt; quote\\\n\\---\\\n"
                     "\\[click\\]\\(hxxp://x\\[.\\]com\\) &lt;b&gt;&amp;")


def test_ical_and_file_name() -> None:
    assert safe_text.ical("a\rb http://evil.com") == "a\nb hxxp://evil[.]com"
    assert safe_text.file_name("Incident: évil.com / ÄÖ ../../etc") == "incident-evil-com-ao-etc"
    assert safe_text.file_name("<<>>") == "postmortem"


@FAST
@given(hostile_text(), st.integers(min_value=1, max_value=3000))
def test_mrkdwn_never_exceeds_its_limit_nor_leaves_anything_live(text: str, limit: int) -> None:
    shown = safe_text.mrkdwn(text, limit=limit)
    assert len(shown) <= limit
    no_live_slack_markup(shown)
    assert not re.search(r"&(?!amp;|lt;|gt;)", shown), "every & starts an entity"


@FAST
@given(hostile_text())
def test_fanged_indicators_never_survive_any_format(text: str) -> None:
    fanged = fanged_values(text)
    for shown in (safe_text.mrkdwn(text, limit=safe_text.MESSAGE_TEXT), safe_text.plain_text(text, limit=10**6),
                  safe_text.markdown(text), safe_text.html(text), safe_text.ical(text), safe_text.terminal(text)):
        assert not leaks(shown, fanged)


@FAST
@given(hostile_text())
def test_terminal_text_holds_no_control_character_but_tab_and_line_break(text: str) -> None:
    shown = safe_text.terminal(text)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", shown)
    assert all(word in shown for word in words_of(text))


@FAST
@given(hostile_text())
def test_unshortened_mrkdwn_shows_the_persons_words(text: str) -> None:
    shown = safe_text.mrkdwn(text, limit=safe_text.MESSAGE_TEXT)
    if not shown.endswith(safe_text.SHORTENED):
        words = words_of(text)
        unescaped = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        assert all(word in unescaped for word in words)


@FAST
@given(hostile_text())
def test_html_parses_back_to_the_defanged_text(text: str) -> None:
    from markupsafe import escape

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.data, self.tags = [], []

        def handle_data(self, data: str) -> None:
            self.data.append(data)

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags.append(tag)

    parser = Collect()
    parser.feed(f"<td>{escape(safe_text.html(text))}</td>")
    parser.close()
    assert parser.tags == ["td"]
    assert "".join(parser.data) == safe_text.html(text)


def test_csv_cell_keeps_a_formula_inert_behind_leading_spaces_quotes_and_wide_signs() -> None:
    # Spreadsheets trim leading blanks (or a stray quote) on import and then read the formula: the apostrophe
    # must come first whatever precedes the sign; a full-width ＝ is read as = by CJK Excel.
    for typed in (" =1+1", "  @SUM(A1)", '"=cmd|\' /C calc\'!A0', "\u3000+1", "\n-2+3", "\uff1dHYPERLINK(1)", "\t =1"):
        assert safe_text.csv_cell(typed).startswith("'"), typed
    assert safe_text.csv_cell(" plain title") == " plain title"
    assert safe_text.csv_cell('"quoted" title') == '"quoted" title'


@settings(max_examples=300)
@given(blanks=st.text(alphabet=" \t\n\u3000\u00a0\"'", max_size=4), sign=st.sampled_from("=+-@\uff1d\uff0b\uff0d\uff20"),
       rest=st.text(max_size=20))
def test_csv_cell_never_leaves_a_formula_a_spreadsheet_would_run(blanks: str, sign: str, rest: str) -> None:
    assert safe_text.csv_cell(blanks + sign + rest).startswith("'")
