"""The cheap check that lets plain notes skip ioc-finder must never skip a note that holds an indicator."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.indicators.extraction import extract, might_hold_indicators

FRAGMENTS = st.sampled_from([
    "evil", "example", "com", "[.]", "[dot]", "(dot)", " dot ", "@", "[at]", "(at)", "hxxp", "://", ":", ".",
    "10", "0", "d41d8cd98f00b204e9800998ecf8427e", "a" * 31, "fe80", "::1", " ", "\n", "é", "alert", "/", "-",
])


@settings(max_examples=60, deadline=None)
@given(st.lists(FRAGMENTS | st.text(max_size=6), max_size=14).map("".join))
def test_text_judged_free_of_indicators_has_none(text: str) -> None:
    if not might_hold_indicators(text):
        assert extract(text) == []


def test_plain_sentences_skip_and_defanged_indicators_do_not() -> None:
    assert not might_hold_indicators("Restarted worker 12 after the alert, then paged the on-call")
    assert might_hold_indicators("blocked evil[dot]com")
    assert might_hold_indicators("hash d41d8cd98f00b204e9800998ecf8427e")
    assert extract("blocked evil[dot]com") != []
