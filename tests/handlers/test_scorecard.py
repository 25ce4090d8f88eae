"""`/postmortem scorecard`, its export and the App Home section, through signed requests and the Slack double:
what a security lead, a facilitator outside the leads group, and anyone else get."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from matplotlib import image

from bot.demo.signed_requests import SlackSim, eventually, wait_for_dm
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.double import FakeSlack
from models import Postmortem
from models.db import transaction
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.races import at_once, most_in_flight
from tests.scorecard_data import seed

LEADS_GROUP = "S0SECLEADS"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"security_leads": LEADS_GROUP})


@pytest.fixture
def seeded(runtime: Runtime, fake_slack: FakeSlack) -> dict[int, int]:
    fake_slack.add_user_group(LEADS_GROUP, members=[LEAD, "U0OTHERLD1"])
    with transaction(runtime.sessions) as session:
        return seed(session)


def uploads(fake: FakeSlack, user_id: str, suffix: str) -> list[dict[str, Any]]:
    dm = "D" + user_id[1:]
    return [f for f in fake.files.values() if dm in f["channels"] and f["filename"].endswith(suffix)]


def text_of(answer: dict[str, Any]) -> str:
    return "\n".join(json.dumps(block) for block in answer.get("blocks") or []) + answer.get("text", "")


def test_lead_gets_the_quarter_compared_with_the_one_before_and_the_chart_in_their_dm(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    answer = slack.ask("scorecard 2026-Q3", user=LEAD).json()
    assert answer["text"] == "Security scorecard: 2026-Q3: 5 incidents"
    sections = [block["text"]["text"] for block in answer["blocks"] if block["type"] == "section"]
    incidents, times, trend, follow, preventive, recurrence = sections
    assert incidents.startswith("*Incidents: 5* (before: 3, +2)\nBy severity: critical 1 (1), high 2 (1), medium 1 (0), low 1 (1)")
    assert "Random or targeted: Random (opportunistic) 2, Targeted at us 1, Unknown 1, Not classified 1" in incidents
    assert "• Time to detect (compromise → detection): 15 h · 1 d · 14 h (before: median 1 d 6 h)\n" \
           "    _1 of 5 incidents has no compromise time_" in times
    assert "• Time to contain (detection → containment): 3 h · 8 h 48 min · 4 h 24 min (before: median 5 h)" in times
    assert "• Dwell time (compromise → containment): 17 h 30 min · 1 d 9 h 18 min · 19 h 15 min (before: median 18 h)\n" \
           "    _1 of 5 incidents has no compromise or containment time_" in times
    assert "• 2026-07: 2 incidents; 15 h / 2 h 30 min / 1 d / 17 h 30 min; 50%" in trend
    assert "• 2026-08: 2 incidents; 2 h / 2 h 30 min / 12 h / 6 h; none closed" in trend
    assert follow == ("*Follow-through* — actions created: 6 (before: 1, +5)\n"
                      "Done on time 2 · done late 1 · open 2 · cancelled 1\n"
                      "Overdue: 1 (oldest 111 days, median 111 days overdue)\n"
                      "Closed on time: 67% (before: 100%) · median time to close: 9.0 days\n"
                      "Reports published: 3 of 5 incidents; 1 d 12 h after resolution (median)")
    assert "• Unpatched vulnerabilities: 10 (before: not recorded)" in preventive
    assert "• Threats detected or blocked by deployed tools: 130 (before: not recorded)" in preventive
    assert recurrence.startswith("*Recurrence*: 1 of 5 incidents shared an indicator of compromise with an earlier incident")
    assert "_targeted_: the victim was specifically chosen" in text_of(answer)
    assert "The chart is in your DM with me" in text_of(answer)

    [chart] = uploads(fake_slack, LEAD, ".png")
    assert chart["title"].startswith("Security scorecard chart, 2026-Q3: 5 incidents; median time to contain 3.0 h")
    pixels = image.imread(io.BytesIO(chart["content"]), format="png")
    assert pixels.shape == (420, 1300, 4) and pixels[..., :3].std() > 0.05


def test_facilitator_sees_the_figures_and_exports_only_their_own_postmortems(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    figures = slack.ask("scorecard all", user=RESPONDER_BERLIN).json()
    assert figures["text"] == "Security scorecard: all time: 12 incidents"  # aggregates cover every incident
    assert "_4 of 12 incidents have no compromise time_" in text_of(figures)

    answer = slack.ask("scorecard export", user=RESPONDER_BERLIN)
    assert answer.text == (":white_check_mark: The export is in your DM with me: 3 post-mortems (all time), as CSV and JSON. "
                           "It holds the post-mortems you facilitated; the security leads group sees every row.")
    [exported] = uploads(fake_slack, RESPONDER_BERLIN, ".csv")
    rows = list(csv.DictReader(io.StringIO(exported["content"].decode("utf-8-sig"))))
    assert [row["title"] for row in rows] == ["Invoice phishing", "Phishing again", "Suspicious VPN login"]
    assert {row["facilitator_id"] for row in rows} == {RESPONDER_BERLIN}
    [document] = uploads(fake_slack, RESPONDER_BERLIN, ".json")
    parsed = json.loads(document["content"])
    assert parsed["scope"] == "facilitated" and [p["postmortem_id"] for p in parsed["postmortems"]] == \
        [seeded[4], seeded[9], seeded[12]]


def test_lead_exports_every_postmortem_with_typed_text_made_safe(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    answer = slack.ask("scorecard export 2026-Q3", user=LEAD)
    assert answer.text == ":white_check_mark: The export is in your DM with me: 5 post-mortems (2026-Q3), as CSV and JSON."
    [exported] = uploads(fake_slack, LEAD, ".csv")
    assert exported["filename"] == "security-scorecard-2026-Q3-20261120.csv"
    rows = list(csv.DictReader(io.StringIO(exported["content"].decode("utf-8-sig"))))
    assert len(rows) == 5 and rows[1]["title"] == "'" + '=HYPERLINK("hxxp://evil[.]example/x","click")'
    assert (rows[1]["dwell_hours"], rows[1]["actions_overdue"]) == ("27.0", "1")


def test_a_chart_slack_refuses_leaves_the_figures_and_says_so(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    fake_slack.inject("files.completeUploadExternal", error="invalid_channel")
    answer = slack.ask("scorecard 2026-Q3", user=LEAD).json()
    assert answer["text"] == "Security scorecard: 2026-Q3: 5 incidents"
    assert answer["blocks"][-1]["elements"][0]["text"] == (
        "I couldn't upload the chart (Slack said `invalid_channel`); the figures here are complete. "
        "Run the command again in a minute for the chart.")


def test_anyone_else_is_refused_kindly_and_gets_no_files(slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]) -> None:
    for text in ("scorecard", "scorecard export"):
        answer = slack.ask(text, user=OUTSIDER)
        assert answer.text == ("The security scorecard is for security leads and for facilitators of post-mortems. "
                               "If you need the figures, ask someone in your security leads group.")
    assert not fake_slack.files


def test_an_unknown_period_says_which_ones_exist(slack: SlackSim, seeded: dict[int, int]) -> None:
    assert slack.ask("scorecard last <!here> week", user=LEAD).text == (
        "I don't know the period `last @here week`. Use `90d`, `12m`, a quarter like `2026-Q3`, or `all`, "
        "for example `/postmortem scorecard 2026-Q3`.")


def test_help_lists_the_scorecard(slack: SlackSim) -> None:
    assert "`/postmortem scorecard`" in slack.command("help", user=LEAD).body


def test_home_tab_has_the_quarter_for_leads_and_its_button_posts_the_scorecard(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    assert slack.event({"type": "app_home_opened", "user": LEAD, "tab": "home"}).status == 200
    home = eventually(lambda: fake_slack.home_views.get(LEAD), what="the lead's Home tab")
    headers = [block["text"]["text"] for block in home["blocks"] if block["type"] == "header"]
    assert headers[0] == "Your follow-ups" and headers[-1] == "Security scorecard"
    summary = home["blocks"][-2]["text"]["text"]
    assert summary == ("*2026-Q4 so far* (before: 2026-Q3)\nIncidents: 4 (before: 5, -1)\n"
                       "Median time to detect: 2 h 30 min (before: 15 h)\nMedian time to contain: 2 h (before: 3 h)\n"
                       "Actions closed on time: 50% (before: 67%) · overdue: 2")
    button = home["blocks"][-1]["elements"][0]
    assert (button["text"]["text"], button["value"]) == ("Post the full scorecard", "2026-Q4")

    slack.interaction({"type": "block_actions", "user": {"id": LEAD}, "trigger_id": fake_slack.issue_trigger(),
                       "view": {"type": "home", "id": "VHOME"}, "actions": [{**button, "action_ts": "1", "block_id": "b"}]})
    posted = wait_for_dm(fake_slack, LEAD, "Security scorecard: 2026-Q4")
    assert posted["text"] == "Security scorecard: 2026-Q4: 4 incidents"
    eventually(lambda: uploads(fake_slack, LEAD, "security-scorecard-2026-Q4.png"), what="the chart in the lead's DM")


def test_home_tab_section_follows_who_may_see_the_scorecard(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    for user in (RESPONDER_BERLIN, OUTSIDER):
        assert slack.event({"type": "app_home_opened", "user": user, "tab": "home"}, event_id=f"Ev{user}").status == 200
    facilitator = eventually(lambda: fake_slack.home_views.get(RESPONDER_BERLIN), what="the facilitator's Home tab")
    outsider = eventually(lambda: fake_slack.home_views.get(OUTSIDER), what="the outsider's Home tab")
    assert "Security scorecard" in json.dumps(facilitator["blocks"])
    assert "Security scorecard" not in json.dumps(outsider["blocks"]) and outsider["blocks"][0]["text"]["text"] == "Your follow-ups"


def test_a_wrong_leads_group_leaves_leads_with_what_facilitators_get(
    slack: SlackSim, fake_slack: FakeSlack, runtime: Runtime
) -> None:
    # No such user group in this workspace: the lookup fails for good, so nobody counts as a lead.
    assert slack.ask("scorecard", user=LEAD).text.startswith("The security scorecard is for security leads")
    assert [call["usergroup"] for call in fake_slack.calls_to("usergroups.users.list")] == [LEADS_GROUP]


@pytest.mark.parametrize("lost", [{"reset": True}, {"status": 503}], ids=["connection-closed", "server-error"])
def test_a_chart_whose_answer_is_lost_after_slack_shared_it_is_not_shared_twice(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int], lost: dict[str, Any]
) -> None:
    fake_slack.inject("files.completeUploadExternal", effect_first=True, **lost)
    answer = slack.ask("scorecard 2026-Q3", user=LEAD).json()
    assert answer["text"] == "Security scorecard: 2026-Q3: 5 incidents"
    [chart] = uploads(fake_slack, LEAD, ".png")
    assert chart["channels"] == ["D0LEAD0001"]  # completing the upload again would share it a second time
    assert answer["blocks"][-1]["elements"][0]["text"] == (
        "I lost Slack's answer while sharing the chart: it is probably in your DM with me. "
        "If it isn't there, run the command again; the figures here are complete.")


def test_an_export_half_shared_says_which_file_is_in_the_dm(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    fake_slack.inject("files.getUploadURLExternal", error="not_allowed_token_type",
                      filename="security-scorecard-2026-Q3-20261120.json")
    answer = slack.ask("scorecard export 2026-Q3", user=LEAD)
    assert len(uploads(fake_slack, LEAD, ".csv")) == 1 and not uploads(fake_slack, LEAD, ".json")
    assert answer.text == ("The CSV is in your DM with me, but the JSON may not have arrived (Slack answered "
                           "`not_allowed_token_type`): if it isn't there, run the export again in a minute.")


def test_a_facilitator_removed_from_a_review_channel_no_longer_exports_that_postmortem(
    slack: SlackSim, fake_slack: FakeSlack, runtime: Runtime, seeded: dict[int, int]
) -> None:
    # Leaving the review channel revokes access by every path (bot/postmortems/access.py): the export too.
    with transaction(runtime.sessions) as session:
        for number, members in ((4, [RESPONDER_TOKYO]), (9, [RESPONDER_BERLIN]), (12, [RESPONDER_TOKYO])):
            session.get_one(Postmortem, seeded[number]).channel_id = fake_slack.add_channel(f"pm-{number}", members=members)
    answer = slack.ask("scorecard export", user=RESPONDER_BERLIN)
    assert answer.text.startswith(":white_check_mark: The export is in your DM with me: 1 post-mortem (all time), as CSV and JSON.")
    [exported] = uploads(fake_slack, RESPONDER_BERLIN, ".csv")
    assert [row["title"] for row in csv.DictReader(io.StringIO(exported["content"].decode("utf-8-sig")))] == ["Phishing again"]
    [document] = uploads(fake_slack, RESPONDER_BERLIN, ".json")
    assert [p["postmortem_id"] for p in json.loads(document["content"])["postmortems"]] == [seeded[9]]

    with transaction(runtime.sessions) as session:
        session.get_one(Postmortem, seeded[9]).channel_id = fake_slack.add_channel("pm-9-moved", members=[RESPONDER_TOKYO])
    for text in ("scorecard 2026-Q3", "scorecard export"):
        assert slack.ask(text, user=RESPONDER_BERLIN).text.startswith("The security scorecard is for security leads")


def test_two_leads_at_once_each_get_their_scorecard_and_one_chart_in_their_own_dm(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    fake_slack.slow("usergroups.users.list", seconds=0.5)  # both are in flight while the group is read
    leads = [LEAD, "U0OTHERLD1"]
    fake_slack.add_user("U0OTHERLD1", name="Other Lead")
    answers, intervals = at_once(lambda index: slack.ask("scorecard 2026-Q3", user=leads[index]).json(), 2)
    assert most_in_flight(intervals) == 2
    assert [answer["text"] for answer in answers] == ["Security scorecard: 2026-Q3: 5 incidents"] * 2
    for lead in leads:
        [chart] = uploads(fake_slack, lead, ".png")
        assert chart["channels"] == ["D" + lead[1:]]


def test_a_server_error_before_the_chart_is_shared_says_it_was_not_uploaded(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    fake_slack.inject("files.getUploadURLExternal", status=502)
    answer = slack.ask("scorecard 2026-Q3", user=LEAD).json()
    assert not uploads(fake_slack, LEAD, ".png")
    assert answer["blocks"][-1]["elements"][0]["text"] == (
        "I couldn't upload the chart (Slack said `http_502`); the figures here are complete. "
        "Run the command again in a minute for the chart.")


def test_an_export_whose_csv_answer_is_lost_after_sharing_does_not_say_it_failed(
    slack: SlackSim, fake_slack: FakeSlack, seeded: dict[int, int]
) -> None:
    fake_slack.inject("files.completeUploadExternal", reset=True, effect_first=True)
    answer = slack.ask("scorecard export 2026-Q3", user=LEAD)
    [exported] = uploads(fake_slack, LEAD, ".csv")
    assert exported["channels"] == ["D0LEAD0001"] and not uploads(fake_slack, LEAD, ".json")
    assert answer.text == ("I lost Slack's answer while sharing the CSV: it is probably in your DM with me, without "
                           "the JSON. Run the export again in a minute for both.")
