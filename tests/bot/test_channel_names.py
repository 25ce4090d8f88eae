from datetime import date

from bot.postmortems.channel_names import CHANNEL_NAME_MAX, review_channel_name, slugify

DAY = date(2026, 11, 17)


def test_slug_follows_slacks_rules() -> None:
    assert slugify("Phishing à Zürich: <script>!!") == "phishing-a-zurich-script"
    assert review_channel_name(day=DAY, title="VPN credential phishing") == "pm-20261117-vpn-credential-phishing"


def test_unusable_title_falls_back() -> None:
    assert review_channel_name(day=DAY, title="🔥🔥 ???") == "pm-20261117-incident"


def test_long_title_with_suffix_stays_within_80_characters() -> None:
    name = review_channel_name(day=DAY, title="a" * 200, attempt=12)
    assert len(name) == CHANNEL_NAME_MAX and name.endswith("-12")
    name = review_channel_name(day=DAY, title="word " * 40, attempt=2)
    assert len(name) <= CHANNEL_NAME_MAX and "--" not in name
