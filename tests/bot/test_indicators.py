from bot.indicators import defang, extract, safe_mrkdwn


def test_extracts_each_kind_including_already_defanged_input() -> None:
    found = set(extract("hxxp://bad[.]ru/x from 198.51.100.7, mail ops@evil-login.com, md5 d41d8cd98f00b204e9800998ecf8427e"))
    assert {("url", "http://bad.ru/x"), ("ipv4", "198.51.100.7"), ("email", "ops@evil-login.com"),
            ("md5", "d41d8cd98f00b204e9800998ecf8427e")} <= found


def test_only_indicators_are_defanged() -> None:
    text = "See https://evil-login.com/a?b=1, e.g. report.txt; hash d41d8cd98f00b204e9800998ecf8427e"
    assert defang(text) == "See hXXps://evil-login[.]com/a?b=1, e.g. report.txt; hash d41d8cd98f00b204e9800998ecf8427e"


def test_safe_mrkdwn_defangs_then_escapes() -> None:
    assert safe_mrkdwn("<http://evil-login.com|click> <!here>") == "&lt;hXXp://evil-login[.]com|click&gt; &lt;!here&gt;"
