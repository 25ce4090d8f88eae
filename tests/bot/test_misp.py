"""The MISP push through the real PyMISP against a fake MISP REST API over HTTP: one event per
post-mortem whatever happens, the right attribute types, sightings, and failures as one short line."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.intel import misp, stix
from bot.settings import EXPECTED_SHAPE, ConfigurationError, Settings, load_settings
from tests.bot.test_stix import DETECTED, EVERY_KIND, FACTS, records
from tests.fake_misp import MISP_KEY, FakeMisp


def misp_settings(url: str, *, key: str = MISP_KEY) -> Settings:
    return Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", MISP_URL=url, MISP_KEY=key)


def attributes(fake: FakeMisp) -> set[tuple[str, str, str]]:
    [event] = fake.events.values()
    return {(a["type"], a["category"], a["value"]) for a in event["Attribute"]}


def test_publishing_creates_one_event_with_the_right_attribute_types(fake_misp: FakeMisp) -> None:
    uuid = misp.push(misp_settings(fake_misp.url), facts=FACTS, records=records(EVERY_KIND))
    assert list(fake_misp.events) == [uuid] == [misp.event_uuid(team_id=FACTS.team_id, postmortem_id=FACTS.postmortem_id)]
    assert attributes(fake_misp) == {
        ("ip-dst", "Network activity", "198.51.100.7"), ("ip-dst", "Network activity", "2001:db8::66"),
        ("domain", "Network activity", "evil-login.com"), ("url", "Network activity", "http://evil-login.com/vpn?a=1&b='2'"),
        ("email-src", "Payload delivery", "hr@evil-login.com"), ("md5", "Payload delivery", "d41d8cd98f00b204e9800998ecf8427e"),
        ("sha1", "Payload delivery", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("sha256", "Payload delivery", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    }
    event = fake_misp.events[uuid]
    assert event["info"] == "Post-mortem: VPN credential phishing"
    assert (event["threat_level_id"], event["distribution"], event["date"]) == ("1", "0", "2026-11-17")
    assert all(a["to_ids"] is True for a in event["Attribute"])


def test_publishing_again_updates_the_same_event_and_its_attributes(fake_misp: FakeMisp) -> None:
    settings = misp_settings(fake_misp.url)
    misp.push(settings, facts=FACTS, records=records(EVERY_KIND[:2]))
    misp.push(settings, facts=FACTS, records=records(EVERY_KIND[:3]))
    assert len(fake_misp.events) == 1 and len(fake_misp.calls("POST", "/events/add")) == 1
    assert len(fake_misp.calls("POST", "/events/edit/")) == 1
    assert {value for _, _, value in attributes(fake_misp)} == {"198.51.100.7", "2001:db8::66", "evil-login.com"}
    [event] = fake_misp.events.values()
    assert len(event["Attribute"]) == 3  # matched by uuid: the two already there were not added twice


def test_publishing_again_adds_only_new_indicators_and_keeps_what_an_analyst_changed(fake_misp: FakeMisp) -> None:
    settings = misp_settings(fake_misp.url)
    uuid = misp.push(settings, facts=FACTS, records=records(EVERY_KIND[:2]))
    # An analyst shares the event, renames it and clears the IDS flag of an indicator found harmless.
    event = fake_misp.events[uuid]
    event.update(distribution="1", info="Phishing wave, VPN vendor lure", analysis="1")
    harmless = event["Attribute"][0]
    harmless.update(to_ids=False, comment="shared CDN, not malicious")
    misp.push(settings, facts=FACTS, records=records(EVERY_KIND[:3]))
    assert (event["distribution"], event["info"], event["analysis"]) == ("1", "Phishing wave, VPN vendor lure", "1")
    assert (harmless["to_ids"], harmless["comment"]) == (False, "shared CDN, not malicious")
    assert {value for _, _, value in attributes(fake_misp)} == {"198.51.100.7", "2001:db8::66", "evil-login.com"}
    # Nothing new: MISP is not written to at all.
    edits = len(fake_misp.calls("POST", "/events/edit/"))
    misp.push(settings, facts=FACTS, records=records(EVERY_KIND[:3]))
    assert len(fake_misp.calls("POST", "/events/edit/")) == edits


def test_a_retry_after_the_answer_was_lost_finds_the_event_it_made(fake_misp: FakeMisp) -> None:
    settings = misp_settings(fake_misp.url)
    fake_misp.fail("POST", "/events/add", status=500, after_effect=True)  # created, but the bot never hears it
    with pytest.raises(misp.MispFailed):
        misp.push(settings, facts=FACTS, records=records(EVERY_KIND[:1]))
    assert len(fake_misp.events) == 1
    misp.push(settings, facts=FACTS, records=records(EVERY_KIND[:2]))
    assert len(fake_misp.events) == 1 and len(attributes(fake_misp)) == 2


def test_two_pushes_at_once_make_one_event(fake_misp: FakeMisp) -> None:
    settings = misp_settings(fake_misp.url)
    # Both ask whether the event exists before either creates it.
    barrier = fake_misp.hold("/events/view/", parties=2)
    outcomes: list[object] = []

    def push() -> None:
        try:
            outcomes.append(misp.push(settings, facts=FACTS, records=records(EVERY_KIND)))
        except misp.MispFailed as failure:
            outcomes.append(failure)

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not barrier.broken  # the two really overlapped
    assert len(outcomes) == 2 and all(isinstance(outcome, str) for outcome in outcomes)
    assert len(fake_misp.events) == 1 and len(fake_misp.calls("POST", "/events/add")) == 2
    assert len(next(iter(fake_misp.events.values()))["Attribute"]) == len(EVERY_KIND)


def test_sightings_go_to_the_attribute_of_their_indicator(fake_misp: FakeMisp) -> None:
    settings = misp_settings(fake_misp.url)
    misp.push(settings, facts=FACTS, records=records(EVERY_KIND))
    seen = DETECTED + timedelta(days=3)
    misp.add_sightings(settings, team_id=FACTS.team_id, postmortem_id=FACTS.postmortem_id, sightings=[
        stix.SightingRecord("domain", "evil-login.com", seen, "C0ALERTS01", "1763400000.000100")])
    [event] = fake_misp.events.values()
    domain = next(a for a in event["Attribute"] if a["type"] == "domain")
    [sighting] = fake_misp.sightings
    assert sighting["attribute_uuid"] == domain["uuid"]
    assert (sighting["timestamp"], sighting["type"]) == (int(seen.timestamp()), "0")
    assert sighting["source"] == "postmortem-bot: Slack C0ALERTS01/1763400000.000100"


def test_a_sighting_of_an_indicator_never_pushed_fails_in_one_line(fake_misp: FakeMisp) -> None:
    with pytest.raises(misp.MispFailed, match=r"^MISP refused to add a sighting \(HTTP 404\)$"):
        misp.add_sightings(misp_settings(fake_misp.url), team_id="T1", postmortem_id=1, sightings=[
            stix.SightingRecord("domain", "evil-login.com", DETECTED, "C1", "1.2")])


def test_failures_are_one_short_line_that_never_holds_the_key(fake_misp: FakeMisp) -> None:
    with pytest.raises(misp.MispFailed) as refused:
        misp.push(misp_settings(fake_misp.url, key="wrong-key"), facts=FACTS, records=records(EVERY_KIND))
    assert str(refused.value) == "MISP refused the request"
    fake_misp.fail("POST", "/events/add", status=500)
    with pytest.raises(misp.MispFailed) as broken:
        misp.push(misp_settings(fake_misp.url), facts=FACTS, records=records(EVERY_KIND))
    assert str(broken.value) == "MISP refused the request" and MISP_KEY not in str(broken.value)
    assert not fake_misp.events
    url = fake_misp.url
    fake_misp.stop()
    with pytest.raises(misp.MispFailed, match="^MISP could not be reached$"):
        misp.push(misp_settings(url), facts=FACTS, records=records(EVERY_KIND))
    fake_misp.start()  # for the fixture's stop


def test_a_slow_misp_is_given_up_on_after_the_timeout(fake_misp: FakeMisp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(misp, "TIMEOUT", (1.0, 0.3))
    fake_misp.slow("/events/add", seconds=1.5)
    with pytest.raises(misp.MispFailed, match="^MISP did not answer in time$"):
        misp.push(misp_settings(fake_misp.url), facts=FACTS, records=records(EVERY_KIND))


def test_misp_settings_are_optional_checked_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", MISP_URL=" ", MISP_KEY="")
    assert not misp.configured(plain) and plain.misp_verify_tls is True
    configured = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", MISP_URL="https://misp.example.org",
                          MISP_KEY="k" * 40, MISP_VERIFY_TLS="false")
    assert misp.configured(configured) and configured.misp_verify_tls is False
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("MISP_URL", "misp.example.org/?key=secret-in-url")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == f"MISP_URL is malformed: set it to {EXPECTED_SHAPE['MISP_URL']}."


def test_sightings_without_misp_configured_call_nothing(fake_misp: FakeMisp) -> None:
    unconfigured = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test")
    misp.add_sightings(unconfigured, team_id="T1", postmortem_id=1, sightings=[
        stix.SightingRecord("domain", "evil-login.com", DETECTED, "C1", "1.2")])
    assert not fake_misp.requests
