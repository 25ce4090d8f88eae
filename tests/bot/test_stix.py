"""The STIX 2.1 bundle on its own: patterns per kind, escaping, ids, labels, sightings, hostile titles.
Every bundle is checked by the OASIS validator (stix2-validator)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from stix2patterns.v21.pattern import Pattern
from stix2validator import ValidationOptions, validate_string

from bot.intel import stix
from models import Classification
from tests.hostile import INDICATOR_FORMS, fanged_values, hostile_text, leaks

FAST = settings(max_examples=40, deadline=None)
DETECTED = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
FACTS = stix.PostmortemFacts(team_id="T0000FAKE", postmortem_id=7, title="VPN credential phishing", severity="high",
                             created_at=DETECTED + timedelta(hours=1), detected_at=DETECTED,
                             classification=Classification.TARGETED, attack_vector="phishing")
EVERY_KIND = [
    ("ipv4", "198.51.100.7"), ("ipv6", "2001:db8::66"), ("domain", "evil-login.com"),
    ("url", "http://evil-login.com/vpn?a=1&b='2'"), ("email", "hr@evil-login.com"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e"), ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
]
EXPECTED_PATTERNS = {
    "[ipv4-addr:value = '198.51.100.7']", "[ipv6-addr:value = '2001:db8::66']", "[domain-name:value = 'evil-login.com']",
    "[url:value = 'http://evil-login.com/vpn?a=1&b=\\'2\\'']", "[email-addr:value = 'hr@evil-login.com']",
    "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
    "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
    "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
}


def valid_stix(content: bytes | str) -> dict[str, Any]:
    """The bundle, after the OASIS validator found no error. Its only warning may be that the ids are
    UUIDv5, not v4: that is how re-exports keep their ids (the spec says SHOULD)."""
    text = content.decode() if isinstance(content, bytes) else content
    results = validate_string(text, ValidationOptions(version="2.1"))
    assert results.is_valid, [str(error) for error in results.errors]
    assert all("{103}" in str(warning) for warning in results.warnings), [str(w) for w in results.warnings]
    return json.loads(text)


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item for item in bundle["objects"] if item["type"] == kind]


def records(pairs: list[tuple[str, str]], first_seen: datetime = DETECTED + timedelta(hours=2)) -> list[stix.IndicatorRecord]:
    return [stix.IndicatorRecord(kind, value, first_seen) for kind, value in pairs]


def bundle_of(pairs: list[tuple[str, str]], *, facts: stix.PostmortemFacts = FACTS,
              sightings: list[stix.SightingRecord] | None = None) -> dict[str, Any]:
    built = stix.build_bundle(facts=facts, indicator_records=records(pairs), sightings=sightings or [],
                              published_at=DETECTED + timedelta(days=2))
    return valid_stix(stix.serialize(built))


def literal_value(stix_pattern: str) -> str:
    """The value a STIX parser reads from the pattern's one comparison."""
    [(_, [(_, _, literal)])] = Pattern(stix_pattern).inspect().comparisons.items()
    return re.sub(r"\\(.)", r"\1", literal[1:-1], flags=re.DOTALL)


def test_every_kind_gets_its_pattern_with_the_real_value_and_the_classification() -> None:
    bundle = bundle_of(EVERY_KIND)
    indicators = of_type(bundle, "indicator")
    assert {item["pattern"] for item in indicators} == EXPECTED_PATTERNS
    for item in indicators:
        assert item["valid_from"] == "2026-11-17T10:00:00Z"  # detection: before the note that named it
        assert item["indicator_types"] == ["malicious-activity", "attribution"]
        assert item["labels"] == ["classification:targeted", "attack-vector:phishing"]
    names = {item["name"] for item in indicators}
    assert "Domain evil-login[.]com" in names and "Email address hr[@]evil-login[.]com" in names
    [report] = of_type(bundle, "report")
    assert report["name"] == "VPN credential phishing" and report["published"] == "2026-11-19T10:00:00Z"
    assert sorted(report["object_refs"]) == sorted(item["id"] for item in indicators)
    assert {item["created_by_ref"] for item in [*indicators, report]} == {of_type(bundle, "identity")[0]["id"]}


def test_a_random_attack_is_not_labelled_attribution_and_an_unclassified_one_says_so() -> None:
    random = bundle_of(EVERY_KIND[:1], facts=replace(FACTS, classification=Classification.RANDOM))
    assert of_type(random, "indicator")[0]["indicator_types"] == ["malicious-activity"]
    unclassified = bundle_of(EVERY_KIND[:1], facts=replace(FACTS, classification=None,
                                                                     attack_vector=None))
    assert of_type(unclassified, "indicator")[0]["labels"] == ["classification:unknown"]


def test_ids_are_the_same_on_every_export_and_differ_between_post_mortems() -> None:
    first, again = bundle_of(EVERY_KIND), bundle_of(EVERY_KIND)
    ids = sorted(item["id"] for item in first["objects"])
    assert ids == sorted(item["id"] for item in again["objects"])
    other = bundle_of(EVERY_KIND, facts=replace(FACTS, postmortem_id=8))
    assert not {item["id"] for item in of_type(first, "indicator")} & {item["id"] for item in of_type(other, "indicator")}


def test_a_sighting_per_recorded_hit_naming_its_alert_message() -> None:
    seen = DETECTED + timedelta(days=5)
    hits = [stix.SightingRecord("domain", "evil-login.com", seen, "C0ALERTS01", "1763400000.000100"),
            stix.SightingRecord("domain", "evil-login.com", seen + timedelta(hours=1), "C0ALERTS01", "1763403600.000200"),
            stix.SightingRecord("domain", "not-in-this-postmortem.com", seen, "C0ALERTS01", "1763400000.000300")]
    bundle = bundle_of(EVERY_KIND, sightings=hits)
    sightings = of_type(bundle, "sighting")
    domain = next(item for item in of_type(bundle, "indicator") if item["pattern"].startswith("[domain-name"))
    assert [s["sighting_of_ref"] for s in sightings] == [domain["id"], domain["id"]]
    assert [s["external_references"][0]["external_id"] for s in sightings] == [
        "C0ALERTS01/1763400000.000100", "C0ALERTS01/1763403600.000200"]
    assert sightings[0]["first_seen"] == "2026-11-22T10:00:00Z"
    [report] = of_type(bundle, "report")
    assert {s["id"] for s in sightings} <= set(report["object_refs"])


def test_a_post_mortem_without_indicators_still_makes_a_valid_report() -> None:
    bundle = bundle_of([])
    [report] = of_type(bundle, "report")
    assert report["object_refs"] == [of_type(bundle, "identity")[0]["id"]]


@FAST
@given(kind=st.sampled_from(["url", "domain", "email", "ipv4", "ipv6"]),
       value=st.one_of(st.text(max_size=60), st.sampled_from(["'", "\\", "\\'", "'\\", "a'b\\c", "é'ü\\\n", "\\\\''"])))
def test_any_value_makes_a_valid_pattern_that_reads_back_as_that_value(kind: str, value: str) -> None:
    bundle = bundle_of([(kind, value)])
    [indicator] = of_type(bundle, "indicator")
    assert literal_value(indicator["pattern"]) == value


@FAST
@given(kind=st.sampled_from(["md5", "sha1", "sha256"]), data=st.data())
def test_any_hash_makes_a_valid_pattern(kind: str, data: st.DataObject) -> None:
    length = {"md5": 32, "sha1": 40, "sha256": 64}[kind]
    value = data.draw(st.text(alphabet="0123456789abcdef", min_size=length, max_size=length))
    [indicator] = of_type(bundle_of([(kind, value)]), "indicator")
    assert literal_value(indicator["pattern"]) == value


@FAST
@given(title=hostile_text(max_repeat=2400))
def test_hostile_titles_make_valid_bundles_with_their_indicators_defanged(title: str) -> None:
    bundle = bundle_of(EVERY_KIND, facts=replace(FACTS, title=title))
    [report] = of_type(bundle, "report")
    assert "\n" not in report["name"] and "\x00" not in report["name"]
    assert not leaks(report["name"], fanged_values(title))


def test_indicator_forms_people_type_are_defanged_in_the_report_name() -> None:
    title = " ".join(INDICATOR_FORMS)
    [report] = of_type(bundle_of([], facts=replace(FACTS, title=title)), "report")
    assert not leaks(report["name"], fanged_values(title)) and "evil-dl[.]net" in report["name"]


def test_the_workspace_identity_is_one_unchanging_object_in_every_bundle() -> None:
    # STIX: objects with one id are versions of one object, and `created` never changes between them.
    later = replace(FACTS, postmortem_id=8, created_at=FACTS.created_at + timedelta(days=30))
    [first] = of_type(bundle_of(EVERY_KIND), "identity")
    [second] = of_type(bundle_of(EVERY_KIND, facts=later), "identity")
    assert first == second


def test_an_indicator_that_changed_is_a_newer_version_of_itself() -> None:
    # Consumers keep one version per (id, modified): a changed Indicator with the same `modified` is dropped.
    def indicator_published(facts: stix.PostmortemFacts, published_at: datetime) -> dict[str, Any]:
        built = stix.build_bundle(facts=facts, indicator_records=records(EVERY_KIND[:1]), sightings=[],
                                  published_at=published_at)
        return of_type(valid_stix(stix.serialize(built)), "indicator")[0]

    before = indicator_published(replace(FACTS, classification=None, attack_vector=None), DETECTED + timedelta(days=1))
    after = indicator_published(FACTS, DETECTED + timedelta(days=2))
    assert before["id"] == after["id"] and before["labels"] != after["labels"]
    assert after["modified"] > before["modified"] and after["created"] == before["created"]
