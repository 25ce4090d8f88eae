"""The scorecard's figures against values worked out by hand from tests/scorecard_data.py, on both databases;
the chart, the export and its handling of what people typed."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib import image

from bot.runtime import Runtime
from bot.scorecard import chart, export, periods, service
from bot.slack import safe_text
from models import AttackVector, CheckIn, CheckInAnswer, Classification, Severity, Sighting, Verdict
from models.db import transaction
from tests.scorecard_data import HOSTILE_TITLE, TOKYO, seed
from tests.support import utc

NOW = utc(2026, 11, 20, 15)
TODAY = date(2026, 11, 20)
H = 3600.0


def card_for(runtime: Runtime, key: str) -> service.Scorecard:
    period = periods.parse(key, now=NOW)
    assert period is not None
    with transaction(runtime.sessions) as session:
        return service.scorecard(session, period=period, today=TODAY)


@pytest.fixture
def seeded(runtime: Runtime) -> dict[int, int]:
    with transaction(runtime.sessions) as session:
        return seed(session)


def test_periods_name_their_span_and_the_one_before() -> None:
    q1 = periods.parse("2026-q1", now=NOW)
    assert q1 is not None and q1.previous is not None
    assert (q1.start, q1.end) == (utc(2026, 1, 1), utc(2026, 4, 1))
    assert (q1.previous.label, q1.previous.start, q1.previous.end) == ("2025-Q4", utc(2025, 10, 1), utc(2026, 1, 1))
    rolling = periods.parse("", now=NOW)
    assert rolling is not None and rolling.key == "90d" and rolling.start == utc(2026, 8, 22, 15)
    everything = periods.parse("ALL", now=NOW)
    assert everything is not None and everything.previous is None and everything.granularity == "quarter"
    assert periods.parse("last week", now=NOW) is None and periods.parse("2026-Q5", now=NOW) is None
    assert periods.this_quarter(now=NOW).key == "2026-Q4"


def test_2026_q3_against_hand_computed_figures(runtime: Runtime, seeded: dict[int, int]) -> None:
    card = card_for(runtime, "2026-Q3")
    q3 = card.current
    # #4 to #8 were detected in Q3.
    assert q3.incidents == 5
    assert q3.by_severity == {Severity.CRITICAL: 1, Severity.HIGH: 2, Severity.MEDIUM: 1, Severity.LOW: 1}
    assert q3.by_vector == {AttackVector.PHISHING: 2, AttackVector.MALWARE: 1, AttackVector.CREDENTIAL_STUFFING: 1, None: 1}
    assert q3.by_classification == {Classification.RANDOM: 2, Classification.TARGETED: 1, Classification.UNKNOWN: 1,
                                    None: 1}
    # detect: 6, 24, 2, 24 h (#6 has no compromise time): median (6+24)/2, p90 at rank 2.7 of [2, 6, 24, 24], mean 56/4.
    assert q3.durations["detect"] == service.DurationFigure(measured=4, missing=1, median=15 * H, p90=24 * H, mean=14 * H)
    # contain: 2, 3, 1, 4, 12 h: p90 at rank 3.6 = 4 + 0.6 * 8.
    contain = q3.durations["contain"]
    assert (contain.measured, contain.missing, contain.median, contain.mean) == (5, 0, 3 * H, 15_840)  # mean 22 h / 5 = 4 h 24 min
    assert contain.p90 == pytest.approx(8.8 * H)
    # resolve: 24, 24, 12, 24 h (#7 never resolved).
    assert q3.durations["resolve"] == service.DurationFigure(measured=4, missing=1, median=24 * H, p90=24 * H, mean=21 * H)
    # dwell: 8, 27, 6, 36 h: median (8+27)/2, p90 at rank 2.7 = 27 + 0.7 * 9, mean 77/4.
    dwell = q3.durations["dwell"]
    assert (dwell.measured, dwell.missing, dwell.median, dwell.mean) == (4, 1, 17.5 * H, 19.25 * H)
    assert dwell.p90 == pytest.approx(33.3 * H)
    # Actions created in Q3: on time (6 d), late (13 d), open and 111 days overdue, cancelled, open not due,
    # on time on its due day (8 d 23 h).
    assert q3.follow_through == service.FollowThrough(
        created=6, done_on_time=2, done_late=1, open=2, overdue=1, cancelled=1, oldest_overdue_days=111,
        median_overdue_days=111, median_days_to_close=8 + 23 / 24)
    assert q3.follow_through.on_time_share == pytest.approx(2 / 3)
    # #4 (24 h after resolution), #5 (48 h) and #7 (never resolved) are published.
    assert q3.reporting == service.Reporting(published=3, median_hours_to_publish=36, measured=2)
    assert q3.preventive == {"unpatched_vulnerabilities": 10, "alert_volume": 300, "false_alarms": 30,
                             "tickets_opened": 10, "tickets_closed": 9, "unauthorized_assets": 1, "threats_blocked": 130}
    assert q3.recurring == 1  # #4 repeats #1's domain

    q2 = card.previous
    assert q2 is not None and q2.incidents == 3
    assert q2.by_severity == {Severity.CRITICAL: 1, Severity.HIGH: 1, Severity.MEDIUM: 0, Severity.LOW: 1}
    assert q2.durations["detect"] == service.DurationFigure(measured=2, missing=1, median=30 * H,
                                                            p90=pytest.approx(44.4 * H), mean=30 * H)
    assert q2.durations["contain"] == service.DurationFigure(measured=2, missing=1, median=5 * H, p90=pytest.approx(5.8 * H),
                                                             mean=5 * H)
    assert q2.durations["resolve"].median == 48 * H and q2.durations["dwell"].measured == 1
    assert q2.follow_through.created == 1 and q2.follow_through.on_time_share == 1.0
    assert q2.follow_through.median_days_to_close == 10
    assert q2.preventive == dict.fromkeys(service.PREVENTIVE_FIELDS)
    assert (q2.recurring, q2.reporting.published) == (0, 0)

    assert [(p.key, p.incidents, p.on_time_share) for p in card.trend] == [
        ("2026-07", 2, 0.5), ("2026-08", 2, None), ("2026-09", 1, 1.0)]
    assert card.trend[0].medians == {"detect": 15 * H, "contain": 2.5 * H, "resolve": 24 * H, "dwell": 17.5 * H}
    assert card.trend[1].medians == {"detect": 2 * H, "contain": 2.5 * H, "resolve": 12 * H, "dwell": 6 * H}


def test_this_quarter_so_far_and_all_time(runtime: Runtime, seeded: dict[int, int]) -> None:
    q4 = card_for(runtime, "2026-Q4").current
    assert q4.incidents == 4
    # detect: 4, 1 h; contain: 1, 2, 2 h; resolve: 12, 24, 24 h; dwell: 5, 3 h.
    assert [q4.durations[key].median for key in ("detect", "contain", "resolve", "dwell")] == [2.5 * H, 2 * H, 24 * H, 4 * H]
    assert [q4.durations[key].missing for key in ("detect", "contain", "resolve", "dwell")] == [2, 1, 1, 2]
    # On time (3 d), overdue 19 d, overdue 10 d, late (16 d).
    assert q4.follow_through == service.FollowThrough(
        created=4, done_on_time=1, done_late=1, open=2, overdue=2, cancelled=0, oldest_overdue_days=19,
        median_overdue_days=14.5, median_days_to_close=9.5)
    assert q4.preventive["alert_volume"] == 150 and q4.preventive["tickets_opened"] == 5
    assert q4.recurring == 2  # #9 repeats #1's domain, #11 repeats #9's address
    assert q4.reporting == service.Reporting(published=1, median_hours_to_publish=24, measured=1)  # #10 was never posted

    everything = card_for(runtime, "all")
    assert everything.previous is None and everything.current.incidents == 12
    assert [(p.key, p.incidents) for p in everything.trend] == [("2026-Q2", 3), ("2026-Q3", 5), ("2026-Q4", 4)]
    assert [p.on_time_share for p in everything.trend] == [1.0, pytest.approx(2 / 3), 0.5]
    assert everything.current.recurring == 3


def test_rolling_ninety_days_and_the_ninety_before(runtime: Runtime, seeded: dict[int, int]) -> None:
    card = card_for(runtime, "90d")  # from 22 August 15:00: #8 to #12; before it from 24 May: #3 to #7
    assert card.current.incidents == 5 and card.previous is not None and card.previous.incidents == 5


def test_no_incidents_gives_empty_figures_not_errors(runtime: Runtime) -> None:
    card = card_for(runtime, "2026-Q3")
    assert card.current.incidents == 0 and card.trend == []
    assert card.current.durations["detect"] == service.DurationFigure(0, 0, None, None, None)
    assert card.current.follow_through.on_time_share is None
    png = chart.render(card)
    assert image.imread(io.BytesIO(png), format="png").shape[:2] == (420, 1300)


def test_chart_is_a_png_with_content_and_words_for_it(runtime: Runtime, seeded: dict[int, int]) -> None:
    card = card_for(runtime, "2026-Q3")
    pixels = image.imread(io.BytesIO(chart.render(card)), format="png")
    assert pixels.shape == (420, 1300, 4)
    assert pixels[..., :3].std() > 0.05  # not blank: lines, bars and text on the background
    assert (pixels[..., 3] == 1.0).all()  # opaque: the same in Slack's dark and light themes
    assert chart.alt_text(card) == ("Security scorecard chart, 2026-Q3: 5 incidents; median time to contain 3.0 h; "
                                    "67% of actions closed on time; most common vector phishing (2)")


def test_export_rows_parse_back_from_csv_and_json(runtime: Runtime, seeded: dict[int, int]) -> None:
    period = periods.parse("all", now=NOW)
    assert period is not None
    with transaction(runtime.sessions) as session:
        every = service.export_rows(session, period=period, today=TODAY)
        own = service.export_rows(session, period=period, today=TODAY, postmortem_ids=[seeded[4], seeded[9], seeded[12]])
    assert len(every) == 12
    assert [row.title for row in own] == ["Invoice phishing", "Phishing again", "Suspicious VPN login"]

    parsed = list(csv.DictReader(io.StringIO(export.to_csv(every).decode("utf-8-sig"))))
    assert [int(row["postmortem_id"]) for row in parsed] == [row.postmortem_id for row in every]
    invoice = parsed[3]
    assert invoice["title"] == "Invoice phishing" and invoice["detected_at"] == "2026-07-01T06:00:00Z"
    assert (invoice["detect_hours"], invoice["contain_hours"], invoice["resolve_hours"], invoice["dwell_hours"]) == \
        ("6.0", "2.0", "24.0", "8.0")
    assert (invoice["classification"], invoice["attack_vector"]) == ("random", "phishing")
    assert (invoice["actions_created"], invoice["actions_done_on_time"], invoice["actions_done_late"]) == ("2", "1", "1")
    assert invoice["report_published_at"] == "2026-07-03T06:00:00Z" and invoice["unpatched_vulnerabilities"] == "5"
    hostile = parsed[4]
    assert hostile["title"] == "'" + '=HYPERLINK("hxxp://evil[.]example/x","click")'
    assert hostile["actions_overdue"] == "1" and hostile["detect_hours"] == "24.0"
    assert parsed[5]["detect_hours"] == "" and parsed[11]["resolved_at"] == ""  # not recorded: empty

    document = json.loads(export.to_json(every, period="all", scope="all", generated_at=NOW))
    assert document["generated_at"] == "2026-11-20T15:00:00Z" and len(document["postmortems"]) == 12
    assert document["postmortems"][4]["title"] == '=HYPERLINK("hxxp://evil[.]example/x","click")'
    assert document["postmortems"][5]["detect_hours"] is None
    assert HOSTILE_TITLE != document["postmortems"][4]["title"]


def _row(title: str) -> service.ExportRow:
    return service.ExportRow(
        postmortem_id=1, title=title, severity="high", status="open", facilitator_id="U1", compromised_at=None,
        detected_at=datetime(2026, 7, 1, tzinfo=timezone.utc), contained_at=None, resolved_at=None,
        report_published_at=None, seconds=dict.fromkeys(("detect", "contain", "resolve", "dwell")),
        classification=None, attack_vector=None, actions=dict.fromkeys(export.ACTION_COUNTS, 0),
        preventive=dict.fromkeys(service.PREVENTIVE_FIELDS))


typed_titles = st.one_of(
    st.text(max_size=150),
    st.tuples(st.sampled_from(["=", "+", "-", "@", "\t", "\r", " =", ""]), st.text(max_size=40),
              st.sampled_from(["http://evil-login.com/a.php", "ops@evil-login.com", "203.0.113.7", "cmd|' /C calc'!A0", ""]),
              st.text(max_size=40)).map(lambda parts: f"{parts[0]}{parts[1]} {parts[2]} {parts[3]}"),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(title=typed_titles)
def test_any_title_leaves_the_export_defanged_and_never_as_a_formula(title: str) -> None:
    row = next(csv.DictReader(io.StringIO(export.to_csv([_row(title)]).decode("utf-8-sig"))))
    cell = row["title"]
    assert cell == safe_text.csv_cell(title)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert set(row) == set(export.COLUMNS) and row["postmortem_id"] == "1"  # the title never breaks the row
    stored = json.loads(export.to_json([_row(title)], period="all", scope="all", generated_at=NOW))["postmortems"][0]["title"]
    assert stored == safe_text.export_text(title)
    for value in (cell, stored):
        assert "http://evil-login.com" not in value and "ops@evil-login.com" not in value and "203.0.113.7" not in value


def test_an_incident_that_came_back_after_the_close_counts_as_recurring_once(
    runtime: Runtime, seeded: dict[int, int]
) -> None:
    with transaction(runtime.sessions) as session:
        # #5 shared nothing, but its check-in said "Something's back"; #4 already repeats #1's domain.
        session.add(CheckIn(postmortem_id=seeded[5], reminder_id=1, answer=CheckInAnswer.SOMETHING_BACK,
                            details="", answered_by=TOKYO, answered_at=utc(2026, 8, 1)))
        for number, verdict in ((4, Verdict.RECURRENCE), (6, Verdict.NOT_RELATED)):
            session.add(Sighting(postmortem_id=seeded[number], indicator_id=number, kind="domain", value="x.example",
                                 channel_id="C0ALERTS", message_ts=f"{number}.1", seen_at=utc(2026, 8, 1),
                                 verdict=verdict))
    assert card_for(runtime, "2026-Q3").current.recurring == 2  # #4 and #5; #6's sighting was not related


def test_an_incident_detected_at_the_first_instant_of_a_quarter_counts_in_that_quarter(runtime: Runtime) -> None:
    from models import Postmortem

    with transaction(runtime.sessions) as session:
        for number, detected in enumerate((utc(2026, 7, 1), datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=timezone.utc))):
            session.add(Postmortem(team_id="T0000FAKE", title="Edge", severity=Severity.LOW, detected_at=detected,
                                   compromised_at=detected, contained_at=utc(2026, 7, 1, 1), created_by=TOKYO,
                                   facilitator_id=TOKYO, source_view_id=f"edge-{number}", created_at=detected))
    q3, q2 = card_for(runtime, "2026-Q3"), card_for(runtime, "2026-Q2")
    assert (q3.current.incidents, q2.current.incidents) == (1, 1)
    assert [p.key for p in q3.trend] == ["2026-07"] and [p.key for p in q2.trend] == ["2026-06"]
    assert [p.key for p in card_for(runtime, "all").trend] == ["2026-Q2", "2026-Q3"]
    assert q3.current.durations["dwell"].median == H and q2.current.durations["dwell"].median == H  # rounded to seconds


@settings(max_examples=300, deadline=None)
@given(typed=st.one_of(st.text(max_size=60), st.from_regex(r"\A\s*-?\d{0,6}[-qQdm ]{0,3}\d{0,3}\s*\Z")))
def test_any_typed_period_is_either_a_known_one_or_none_never_an_error(typed: str) -> None:
    period = periods.parse(typed, now=NOW)
    if period is not None:
        assert period.key in {"90d", "12m", "all"} or re.fullmatch(r"\d{4}-Q[1-4]", period.key)
        assert period.start is None or period.end is None or period.start < period.end
        assert period.label.isascii()
