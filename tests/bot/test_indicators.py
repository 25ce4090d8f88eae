"""Indicator extraction and defanging, table-driven over the forms threat reports actually print."""

from __future__ import annotations

import pytest

from bot.indicators.extraction import defang, defanged, extract

# (what a report or a responder writes, the indicator stored (real value), how the bot shows that text)
FORMS = [
    # plain, fanged
    ("http://evil-dl.net/payload.exe", ("url", "http://evil-dl.net/payload.exe"), "hxxp://evil-dl[.]net/payload[.]exe"),
    ("https://cdn.evil-login.com/a?id=7&k=9", ("url", "https://cdn.evil-login.com/a?id=7&k=9"),
     "hxxps://cdn[.]evil-login[.]com/a?id=7&k=9"),
    ("ftp://files.bad-cdn.org/drop/x.bin", ("url", "ftp://files.bad-cdn.org/drop/x.bin"), "fxp://files[.]bad-cdn[.]org/drop/x[.]bin"),
    ("smb://fileshare01/c$/tools", ("url", "smb://fileshare01/c$/tools"), "smb[:]//fileshare01/c$/tools"),
    ("HTTP://UPPER.EXAMPLE.COM/Path", ("url", "http://UPPER.EXAMPLE.COM/Path"), "hxxp://UPPER[.]EXAMPLE[.]COM/Path"),
    ("beacon to http://198.51.100.23:8080/submit.php", ("url", "http://198.51.100.23:8080/submit.php"),
     "beacon to hxxp://198[.]51[.]100[.]23[:]8080/submit[.]php"),
    ("C2 at 203.0.113.77.", ("ipv4", "203.0.113.77"), "C2 at 203[.]0[.]113[.]77."),
    ("resolves evil-update.net", ("domain", "evil-update.net"), "resolves evil-update[.]net"),
    ("login.microsoftonline.com.evil-sso.co", ("domain", "login.microsoftonline.com.evil-sso.co"),
     "login[.]microsoftonline[.]com[.]evil-sso[.]co"),
    ("phish from hr@evil-login.com!", ("email", "hr@evil-login.com"), "phish from hr[@]evil-login[.]com!"),
    ("payroll.update@secure-hr.co.uk", ("email", "payroll.update@secure-hr.co.uk"), "payroll.update[@]secure-hr[.]co[.]uk"),
    ("(see http://x-drop.com/a_(b))", ("url", "http://x-drop.com/a_(b)"), "(see hxxp://x-drop[.]com/a_(b))"),
    ("link: https://bit.ly/3xYz9Q,", ("url", "https://bit.ly/3xYz9Q"), "link: hxxps://bit[.]ly/3xYz9Q,"),
    ("https://user:pw@creds.evil.net/x", ("url", "https://user:pw@creds.evil.net/x"), "hxxps://user[:]pw[@]creds[.]evil[.]net/x"),
    ("https://drive-share.app/f?x=1#frag", ("url", "https://drive-share.app/f?x=1#frag"), "hxxps://drive-share[.]app/f?x=1#frag"),
    # hosts ioc-finder misses
    ("http://3405803781/gate.php", ("ipv4", "203.0.113.5"), "hxxp://3405803781/gate[.]php"),
    ("http://0xCB007105/", ("ipv4", "203.0.113.5"), "hxxp://0xCB007105/"),
    ("http://0313.0.0x71.5/", ("ipv4", "203.0.113.5"), "hxxp://0313[.]0[.]0x71[.]5/"),
    ("http://[2001:db8::66]/x", ("ipv6", "2001:db8::66"), "hxxp://[2001[:]db8[:][:]66]/x"),
    ("http://[2001:db8::66]:8443/x", ("url", "http://[2001:db8::66]:8443/x"), "hxxp://[2001[:]db8[:][:]66][:]8443/x"),
    ("http://intranet-sso/login", ("url", "http://intranet-sso/login"), "hxxp://intranet-sso/login"),
    ("http://пример.рф/", ("domain", "пример.рф"), "hxxp://пример[.]рф/"),
    ("http://xn--e1afmkfd.xn--p1ai/a", ("domain", "xn--e1afmkfd.xn--p1ai"), "hxxp://xn--e1afmkfd[.]xn--p1ai/a"),
    ("bücher-update.de", ("domain", "bücher-update.de"), "bücher-update[.]de"),
    # already defanged, in the spellings reports use
    ("hxxp://evil[.]com/x", ("url", "http://evil.com/x"), "hxxp://evil[.]com/x"),
    ("hXXps://secure-login[.]net/auth", ("url", "https://secure-login.net/auth"), "hxxps://secure-login[.]net/auth"),
    ("hxxps[:]//x[.]org/a", ("url", "https://x.org/a"), "hxxps://x[.]org/a"),
    ("hxxp[://]malware-host[.]biz/p", ("url", "http://malware-host.biz/p"), "hxxp://malware-host[.]biz/p"),
    ("fxp://drop[.]evil[.]net/f", ("url", "ftp://drop.evil.net/f"), "fxp://drop[.]evil[.]net/f"),
    ("evil(.)com", ("domain", "evil.com"), "evil[.]com"),
    ("evil[dot]com", ("domain", "evil.com"), "evil[.]com"),
    ("update-check{.}info", ("domain", "update-check.info"), "update-check[.]info"),
    ("a[at]b[.]com", ("email", "a@b.com"), "a[@]b[.]com"),
    ("ceo(at)fake-corp[.]com", ("email", "ceo@fake-corp.com"), "ceo[@]fake-corp[.]com"),
    ("198[.]51[.]100[.]7", ("ipv4", "198.51.100.7"), "198[.]51[.]100[.]7"),
    ("192(.)0(.)2(.)44", ("ipv4", "192.0.2.44"), "192[.]0[.]2[.]44"),
    ("hxxps://cdn-evil[.]com[/]drop[/]x.js", ("url", "https://cdn-evil.com/drop/x.js"), "hxxps://cdn-evil[.]com/drop/x[.]js"),
    ("2001[:]db8[:][:]bad", ("ipv6", "2001:db8::bad"), "2001[:]db8[:][:]bad"),
    # IPv6 and hashes
    ("2001:db8:85a3::8a2e:370:7334", ("ipv6", "2001:db8:85a3::8a2e:370:7334"), "2001[:]db8[:]85a3[:][:]8a2e[:]370[:]7334"),
    ("mapped ::ffff:198.51.100.9", ("ipv6", "::ffff:198.51.100.9"), "mapped [:][:]ffff[:]198[.]51[.]100[.]9"),
    ("fe80::1ff:fe23:4567:890a", ("ipv6", "fe80::1ff:fe23:4567:890a"), "fe80[:][:]1ff[:]fe23[:]4567[:]890a"),
    ("md5 D41D8CD98F00B204E9800998ECF8427E", ("md5", "d41d8cd98f00b204e9800998ecf8427e"), "md5 D41D8CD98F00B204E9800998ECF8427E"),
    ("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709", ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
     "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    # inside markup people paste
    ("*http://bold-evil.com*", ("url", "http://bold-evil.com"), "*hxxp://bold-evil[.]com*"),
    ("\"https://quoted.evil.io/q\"", ("url", "https://quoted.evil.io/q"), "\"hxxps://quoted[.]evil[.]io/q\""),
    # pasted from a word processor or CJK text: the quote or full stop ends the URL
    ("“http://curly.evil.com/q”", ("url", "http://curly.evil.com/q"), "“hxxp://curly[.]evil[.]com/q”"),
    ("‘https://single.evil.net/a’", ("url", "https://single.evil.net/a"), "‘hxxps://single[.]evil[.]net/a’"),
    ("«http://guillemet.evil.org/x»", ("url", "http://guillemet.evil.org/x"), "«hxxp://guillemet[.]evil[.]org/x»"),
    ("见 http://cn-drop.evil.com/x。", ("url", "http://cn-drop.evil.com/x"), "见 hxxp://cn-drop[.]evil[.]com/x。"),
    ("（http://fw-paren.evil.com/p）", ("url", "http://fw-paren.evil.com/p"), "（hxxp://fw-paren[.]evil[.]com/p）"),
    ("[click](http://md-link.evil.com/)", ("url", "http://md-link.evil.com/"), "[click](hxxp://md-link[.]evil[.]com/)"),
]


def test_table_has_forty_forms() -> None:
    assert len(FORMS) >= 40


@pytest.mark.parametrize(("text", "stored", "shown"), FORMS, ids=[form[0][:40] for form in FORMS])
def test_form_is_stored_real_and_shown_defanged(text: str, stored: tuple[str, str], shown: str) -> None:
    assert stored in extract(text)
    assert defang(text) == shown


@pytest.mark.parametrize("text", ["e.g. report.txt, i.e. fine", "version 1.2.3", "at 10:30:00 UTC", "3.14 is pi",
                                  "x.y", "no indicators at all", "std::string"])
def test_ordinary_words_are_not_indicators(text: str) -> None:
    assert extract(text) == []
    assert defang(text) == text


def test_a_url_brings_its_host_and_an_address_its_domain() -> None:
    assert extract("http://3405803781/gate.php and ops@evil-login.com") == [
        ("url", "http://3405803781/gate.php"), ("ipv4", "203.0.113.5"),
        ("email", "ops@evil-login.com"), ("domain", "evil-login.com"),
    ]


def test_repeats_are_extracted_once() -> None:
    assert extract("evil.com, evil[.]com and evil(.)com") == [("domain", "evil.com")]


def test_display_of_each_kind() -> None:
    assert defanged("url", "https://a.b.com/x.y?z=1") == "hxxps://a[.]b[.]com/x[.]y?z=1"
    assert defanged("email", "a@b.com") == "a[@]b[.]com"
    assert defanged("ipv6", "::1") == "[:][:]1"
    assert defanged("md5", "d41d8cd98f00b204e9800998ecf8427e") == "d41d8cd98f00b204e9800998ecf8427e"


def test_defanged_text_has_nothing_fanged_left() -> None:
    text = " ".join(form[0] for form in FORMS)
    shown = defang(text)
    for kind, value in extract(text):
        if kind in {"url", "email", "domain", "ipv4", "ipv6"}:
            assert value not in shown, value
    assert defang(shown) == shown  # defanging twice changes nothing


def test_huge_numeric_hosts_and_long_dotted_runs_are_read_quickly_without_error() -> None:
    assert extract("http://" + "9" * 5000 + "/x")[0][0] == "url"  # no integer-conversion limit error
    assert extract("http://0x" + "f" * 5000 + "/") == [("url", "http://0x" + "f" * 5000 + "/")]
    assert extract("a." * 20_000) == []  # one pass over the dotted run, not one per position
