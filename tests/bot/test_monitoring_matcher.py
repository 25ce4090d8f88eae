"""The monitoring matcher: any fanged or defanged form of a watched indicator is found in any text; text
without it finds nothing; a longer name, number or hash holding it is not it."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.indicators.extraction import refang
from bot.monitoring.matcher import Matcher, Watched, alert_text

DOTS = st.sampled_from([".", "[.]", "(.)", "{.}", "[dot]", "(dot)", "[DOT]"])
ATS = st.sampled_from(["@", "[at]", "(at)", "[@]", "(@)", "{at}", "[AT]"])
SCHEME_MARKS = st.sampled_from(["://", "[:]//", "[://]"])
# What may stand around an indicator in an alert: anything, as long as a separator ends what comes before
# and starts what comes after (otherwise the text names something else, e.g. `notevil.example`).
SEPARATORS = st.sampled_from([" ", "\n", "\t", ",", ";", "\"", "'", "|", "<", ">"])
AROUND = st.text(max_size=60)
LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True)
TLD = st.sampled_from(["com", "net", "example", "org", "ru", "io"])


@st.composite
def domains(draw: st.DrawFn) -> list[str]:
    """The parts of a domain: labels, the dots between them left to the caller."""
    return [*draw(st.lists(LABEL, min_size=1, max_size=3)), draw(TLD)]


@st.composite
def mixed_case(draw: st.DrawFn, text: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c for c in text)


def joined(draw: st.DrawFn, parts: list[str]) -> str:
    return "".join(part + (draw(DOTS) if i < len(parts) - 1 else "") for i, part in enumerate(parts))


@st.composite
def written_indicators(draw: st.DrawFn) -> tuple[str, str, str]:
    """(kind, stored value, one way an alert may write it)."""
    kind = draw(st.sampled_from(["domain", "url", "email", "ipv4", "md5", "sha256"]))
    if kind in {"domain", "url", "email"}:
        parts = draw(domains())
        host, written_host = ".".join(parts), draw(mixed_case(joined(draw, parts)))
        if kind == "domain":
            return kind, host, written_host
        if kind == "email":
            local = draw(st.from_regex(r"[a-z0-9][a-z0-9._]{0,8}[a-z0-9]", fullmatch=True))
            return kind, f"{local}@{host}", draw(mixed_case(local)) + draw(ATS) + written_host
        path = draw(st.from_regex(r"/[a-z0-9_/]{0,12}[a-z0-9]", fullmatch=True))
        scheme = draw(st.sampled_from(["http", "https"]))
        shown = draw(st.sampled_from([scheme, scheme.replace("tt", "xx")]))
        return kind, f"{scheme}://{host}{path}", draw(mixed_case(shown)) + draw(SCHEME_MARKS) + written_host + path
    if kind == "ipv4":
        octets = [str(draw(st.integers(0, 255))) for _ in range(4)]
        return kind, ".".join(octets), joined(draw, octets)
    digest = draw(st.text("0123456789abcdef", min_size=32 if kind == "md5" else 64, max_size=32 if kind == "md5" else 64))
    return kind, digest, draw(mixed_case(digest))


def matcher_of(kind: str, value: str) -> Matcher:
    return Matcher([Watched(1, 7, kind, value), Watched(2, 7, "domain", "unrelated.example")])


@settings(max_examples=400)
@given(written_indicators(), AROUND, SEPARATORS, SEPARATORS, AROUND)
def test_any_form_of_an_indicator_in_any_text_is_found(
    indicator: tuple[str, str, str], before: str, open_: str, close: str, after: str,
) -> None:
    kind, value, written = indicator
    found = matcher_of(kind, value).find(before + open_ + written + close + after)
    assert Watched(1, 7, kind, value) in found


@settings(max_examples=400)
@given(written_indicators(), st.text(max_size=200))
def test_text_without_the_indicator_finds_nothing(indicator: tuple[str, str, str], text: str) -> None:
    kind, value, _ = indicator
    assume(value not in refang(text).lower() and "unrelated.example" not in refang(text).lower())
    assert matcher_of(kind, value).find(text) == []


@given(written_indicators(), st.sampled_from(["x", "7", "-", "_"]), st.sampled_from(["x", "7", "-", "_", ".x", ".7"]))
def test_an_indicator_inside_a_longer_name_number_or_hash_is_not_that_indicator(
    indicator: tuple[str, str, str], glued_before: str, glued_after: str,
) -> None:
    kind, value, written = indicator
    assume(not (kind == "ipv4" and glued_before in {"x", "-", "_"}))  # `x10.0.0.1` still names 10.0.0.1
    assume(not (kind == "ipv4" and glued_after in {"x", "-", "_", ".x"}))
    assume(not (kind == "url" and (glued_before in {"-", "_"} or not glued_after.lstrip(".").isalnum())))
    assume(not (kind in {"md5", "sha256"} and glued_after.startswith(".")))  # `<sha256>.exe` names that hash
    matcher = matcher_of(kind, value)
    assert matcher.find(f"{glued_before}{written} {written}{glued_after}") == []


def test_a_subdomain_is_a_sighting_of_its_domain_and_hashes_stand_alone() -> None:
    matcher = Matcher([Watched(1, 1, "domain", "evil.example"), Watched(2, 1, "md5", "0" * 32)])
    assert [w.indicator_id for w in matcher.find("cdn.EVIL[.]example")] == [1]
    assert matcher.find("0" * 64) == []  # a SHA-256 is not the MD5 it starts with
    assert [w.indicator_id for w in matcher.find("md5=" + "0" * 32 + ";")] == [2]


def test_one_indicator_of_two_post_mortems_is_a_hit_for_both() -> None:
    first, second = Watched(1, 1, "ipv4", "198.51.100.7"), Watched(9, 2, "ipv4", "198.51.100.7")
    assert Matcher([first, second]).find("src=198[.]51[.]100[.]7") == [first, second]


def test_alert_text_reads_text_blocks_and_attachment_fields() -> None:
    message = {
        "text": "top",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "in a block"},
                    "fields": [{"type": "mrkdwn", "text": "in a block field"}]}],
        "attachments": [{"fallback": "fallback", "fields": [{"title": "Dst", "value": "in an attachment field"}]}],
    }
    assert set(alert_text(message).split("\n")) >= {"top", "in a block", "in a block field", "in an attachment field"}


def test_an_empty_watchlist_finds_nothing() -> None:
    assert Matcher([]).find("evil.example") == [] and Matcher([]).size == 0


def test_a_punycode_domain_is_found_written_in_unicode_and_the_other_way_round() -> None:
    puny = Watched(1, 1, "domain", "xn--bcher-login-thb.example")
    url = Watched(2, 1, "url", "https://xn--bcher-login-thb.example/vpn")
    email = Watched(3, 1, "email", "hr@xn--bcher-login-thb.example")
    matcher = Matcher([puny, url, email])
    assert matcher.find("Beacon to BÜCHER-LOGIN[.]example (443/tcp)") == [puny]
    assert set(matcher.find("GET hxxps://bücher-login.example/vpn from fra-vpn-01")) == {puny, url}
    assert set(matcher.find("From: hr[@]bücher-login.example")) == {puny, email}
    assert matcher.find("xn--bcher-login-thb.example") == [puny]
    assert matcher.find("bücher-login.example.net nicht-bücher-login.example") == []


def test_an_ipv6_address_is_found_however_it_is_written() -> None:
    expanded = Watched(1, 1, "ipv6", "2001:0db8:0000:0000:0000:0000:0000:0001")
    compressed = Watched(2, 1, "ipv6", "fe80::1")
    matcher = Matcher([expanded, compressed])
    for written in ["2001:db8::1", "2001:DB8:0:0:0:0:0:1", "[2001:0db8::1]:443", "src=2001:db8::1.", "2001[:]db8[:][:]1"]:
        assert matcher.find(f"Outbound to {written} blocked") == [expanded], written
    assert matcher.find("fe80:0:0:0:0:0:0:1%eth0") == [compressed]
    for other in ["2001:db8::10", "2001:db8::1:5", "12001:db8::1", "2001:db8::1g", "at 12:30:45"]:
        assert matcher.find(other) == [], other
