"""`postmortem-bot demo` end to end, as a user runs it: every step of the story happens, and every file it writes
exists and parses."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from icalendar import Calendar
from markdown_it import MarkdownIt
from stix2validator import validate_string

from bot.cli import main
from bot.demo import story
from bot.demo.outputs import BLOCK_KIT_BUILDER, OUTPUTS
from bot.demo.transcript import Transcript
from bot.slack import safe_text
from bot.slack.double import SPECS_DIR, FakeSlack, _Contract, specs_available
from tests.conftest import REPO_ROOT
from tests.handlers.test_reports import SECTION_IDS, Outline
from tests.hostile import fanged_values, leaks


def play_demo(work: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--output", "out"], cwd=work, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **environment}, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One run of the command, in a fresh folder, on the story's fast clock (a few seconds)."""
    work = tmp_path_factory.mktemp("demo")
    return play_demo(work), work / "out"


def test_every_step_happens_in_order_and_the_files_are_listed(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done = demo[0]
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr
    progress = re.findall(r"^\[\s*(\d+)/(\d+)\] (.+)$", done.stdout, flags=re.MULTILINE)
    assert progress == [(str(n), str(len(story.STEPS)), title) for n, (title, _) in enumerate(story.STEPS, start=1)]
    for output in OUTPUTS:
        assert f"  out/{output.name}  {output.what}" in done.stdout  # the folder as given: --output out


def test_the_transcript_shows_what_each_person_saw(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    transcript = demo[0].stdout
    # The meeting suggestion weighs three time zones, and each invitee reads the time in their own.
    assert "inside working hours for 2 of 3 participants" in transcript
    for zone in ("EST", "CET", "IST"):
        assert re.search(rf"You're invited to the post-mortem review .*\n.*{zone}", transcript), zone
    assert "[Answer the review questions]" in transcript and "[Publish]" in transcript
    # Typed fanged, shown defanged.
    assert "hxxps://northwind-vpn-support[.]com/vpn/auth[.]php" in transcript
    # Both reminders fired under the fast clock, through the real dispatcher.
    assert ":alarm_clock: Reminder: the post-mortem review meeting starts" in transcript
    assert "Coming up: due 2026-11-27" in transcript
    assert "is closed and read-only" in transcript


def test_the_transcript_never_shows_an_indicator_fanged(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    typed = [text for *_, text in story.WAR_ROOM_MESSAGES] + [str(v) for v in story.INCIDENT_REPORT.values()]
    fanged = fanged_values(*typed)
    assert "203.0.113.77" in fanged and "https://northwind-vpn-support.com/vpn/auth.php" in fanged
    assert leaks(demo[0].stdout, fanged) == []


def test_what_people_write_is_shown_defanged_and_cannot_drive_the_terminal() -> None:
    double = FakeSlack().start()
    try:
        double.add_user("U0ANA00001", name="Ana", tz="Europe/Lisbon")
        war_room = double.add_channel("war-room", members=["U0ANA00001"])
        shown = io.StringIO()
        transcript = Transcript(double, shown)
        double.add_message(war_room, user="U0ANA00001",
                           text="<!channel> \x1b[2J\x1b]0;owned\x07 see <https://evil-login.com/x|evil-login.com> 198.51.100.7")
        transcript.act("U0ANA00001", "/postmortem note from evil-login.com \x1b[31m")
        transcript.look()
    finally:
        double.stop()
    text = shown.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert "<!channel>" not in text and "@channel" in text
    assert leaks(text, ["evil-login.com", "https://evil-login.com/x", "198.51.100.7"]) == []
    assert "evil-login[.]com" in text and "198[.]51[.]100[.]7" in text


def test_the_report_files_hold_every_section_defanged(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    out = demo[1]
    markdown = (out / "report.md").read_text()
    headings = [token.content for token in MarkdownIt().parse(markdown) if token.type == "inline"
                and token.map and markdown.splitlines()[token.map[0]].startswith("## ")]
    assert headings == ["1. Incident report", "2. Timeline", "3. Response evaluation", "4. Random or targeted",
                        "5. Indicators of compromise", "6. Preventive initiatives", "7. Follow-up actions",
                        "8. Lessons learned", "9. Participants", "10. Monitoring"]
    assert "| Threats detected or blocked by deployed tools | 57 |" in markdown
    assert "Require phishing-resistant MFA \\(FIDO2 keys\\) on the VPN — owner Jonas Weber" in markdown
    outline = Outline()
    outline.feed((out / "report.html").read_text())
    assert outline.sections == SECTION_IDS
    for document in (markdown, (out / "report.html").read_text()):
        assert "northwind-vpn-support.com" not in document and "203.0.113.77" not in document


def test_what_each_person_typed_is_in_the_published_report(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Each step's outcome, read back from the report: a note, answer or action the app had not saved is missing."""
    markdown = (demo[1] / "report.md").read_text()
    typed = [text for *_, text in story.WAR_ROOM_MESSAGES] + [task for *_, task in story.ACTIONS]
    typed += [answer for answers in story.QUESTIONNAIRE.values() for answer in answers.values()]
    typed += ["Proxy logs show 4 more staff opened the lure; none entered credentials",  # the notes
              "d.okafor entered her credentials on https://northwind-vpn-support.com/vpn/auth.php",
              "Push MFA is not enough against a real-time phishing proxy",
              "Impossible-travel alert fired within 90 minutes"]
    assert [text for text in typed if safe_text.markdown(text) not in markdown] == []
    assert "- Classification: Targeted at us\n- Attack vector: Phishing" in markdown
    assert "- Maya Chen — facilitator\n- Jonas Weber — responder\n- Priya Raman — responder" in markdown


def test_every_file_for_people_shows_the_indicators_defanged(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Only the STIX patterns, which machines read, hold the real values."""
    out = demo[1]
    fanged = fanged_values(*[text for *_, text in story.WAR_ROOM_MESSAGES], str(story.INCIDENT_REPORT["identified_how"]))
    for name in ("report.md", "report.html", "slack-summary.json", "postmortem-review.ics"):
        assert leaks((out / name).read_text(), fanged) == [], name
    assert leaks(unquote((out / "slack-summary-block-kit-builder.url").read_text()), fanged) == []
    stix = json.loads((out / "indicators.stix.json").read_text())
    assert leaks(json.dumps([{k: v for k, v in o.items() if k != "pattern"} for o in stix["objects"]]), fanged) == []


def summary(out: Path) -> list[dict[str, Any]]:
    return list(json.loads((out / "slack-summary.json").read_text())["blocks"])


@pytest.mark.skipif(not specs_available(), reason=f"Slack specs not found at {SPECS_DIR}")
def test_the_summary_blocks_are_valid_block_kit(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    blocks = summary(demo[1])
    assert blocks[0]["type"] == "header" and "Detection to resolution: 18 h 50 min" in json.dumps(blocks)
    assert _Contract.load().block_errors(blocks) == []


def test_the_block_kit_builder_link_opens_the_same_blocks(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    out = demo[1]
    link = (out / "slack-summary-block-kit-builder.url").read_text().strip()
    assert link.startswith(BLOCK_KIT_BUILDER)
    assert json.loads(unquote(link[len(BLOCK_KIT_BUILDER):])) == {"blocks": summary(out)}


def test_the_invite_is_icalendar_for_the_three_time_zones(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    invite = Calendar.from_ical((demo[1] / "postmortem-review.ics").read_bytes())
    [event] = invite.walk("VEVENT")
    assert invite["METHOD"] == "REQUEST" and str(event["SUMMARY"]) == f"Post-mortem review: {story.TITLE}"
    assert sorted(str(a) for a in event.get("ATTENDEE")) == sorted(f"mailto:{email}" for *_, email in story.PEOPLE)


def test_the_stix_bundle_validates_and_holds_the_stories_indicators(
    demo: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    bundle = (demo[1] / "indicators.stix.json").read_text()
    assert validate_string(bundle).is_valid
    patterns = {item["pattern"] for item in json.loads(bundle)["objects"] if item["type"] == "indicator"}
    assert "[domain-name:value = 'northwind-vpn-support.com']" in patterns


def test_the_scorecard_chart_is_a_png_with_something_drawn(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    from matplotlib import image

    pixels = image.imread(demo[1] / "security-scorecard.png")
    assert pixels.shape[0] > 200 and pixels.shape[1] > 600 and pixels.std() > 0.05


def test_a_folder_it_cannot_create_is_said_in_one_line_before_anything_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    assert main(["demo", "--output", str(a_file / "out")]) == 1
    said = capsys.readouterr()
    assert said.out == "" and said.err.startswith(f"postmortem-bot demo: could not write to {a_file / 'out'} (")
    assert said.err.endswith("Pick another folder with --output.\n") and "Traceback" not in said.err


def test_ctrl_c_mid_story_stops_it_at_once_in_one_line(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # A one-page pipe: the demo (15 KB of transcript after step 4, a few seconds in all) cannot run ahead of
    # this reader and finish before the Ctrl-C arrives; it waits to write until the test reads.
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    # A terminal's foreground program takes Ctrl-C. A suite started in the background by a script has SIGINT
    # ignored, and a child inherits that across exec: start the demo as a terminal would.
    ignoring = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        demo = subprocess.Popen([sys.executable, "-m", "bot.cli", "demo", "--output", "out"], cwd=tmp_path,
                                env=environment, stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, ignoring)
    os.close(write_end)
    with os.fdopen(read_end) as transcript:
        for line in transcript:  # mid-story: the app is answering, the dispatcher and both servers run
            if line.startswith("[ 4/"):
                break
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        draining = threading.Thread(target=transcript.read, daemon=True)  # so its last writes never block
        draining.start()
        try:
            _, said = demo.communicate(timeout=60)  # a process that never ends fails here, not the suite
        finally:
            demo.kill()
        draining.join(timeout=10)
    assert demo.returncode == 130, said
    assert said.startswith("postmortem-bot demo: stopped (Ctrl-C)") and said.count("\n") == 1, said
    assert not (tmp_path / "out" / "report.md").exists()


def test_it_speaks_to_someone_trying_the_bot_not_to_its_developers(
    demo: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    done = demo[0]
    assert not re.search(r"\bspecs?\b", done.stdout.lower()) and done.stderr == ""


def test_the_bots_own_configuration_in_the_environment_changes_nothing(
    tmp_path: Path, demo: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    """Someone who runs the real bot has its settings exported: the demo must neither use them (their MISP, their
    database, their reminder plan) nor complain about them."""
    with socket.socket() as closed:  # a port nobody listens on: a demo that calls it would say so
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    (tmp_path / ".env").write_text(f"SLACK_API_URL={nowhere}\n")
    done = play_demo(tmp_path, SLACK_BOT_TOKEN="xoxb-their-real-token", SLACK_SIGNING_SECRET="theirs",
                     SLACK_API_URL=nowhere, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none",
                     MISP_URL=nowhere, MISP_KEY="their-misp-key", WORKING_HOURS="22:00-23:00", RECOVERY_GAP_HOURS="72",
                     MEETING_REMINDERS="2h", ACTION_REMINDERS="1d", REPORT_SUMMARY_CHANNEL="C0THEIRS01",
                     MONITOR_CHANNELS="C0ALERTS01", LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # The same story, line for line (in any order: a listener's messages may land on either side of a look).
    timing = re.compile(r"^Done in [\d.]+ s", flags=re.MULTILINE)
    assert sorted(timing.sub("", done.stdout).splitlines()) == sorted(timing.sub("", demo[0].stdout).splitlines())


def test_a_folder_it_may_not_write_in_is_said_in_one_line_before_anything_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)  # as root, no folder refuses; a read-only mount would
    assert main(["demo", "--output", str(tmp_path)]) == 1
    said = capsys.readouterr()
    assert said.out == "" and said.err == (f"postmortem-bot demo: could not write to {tmp_path} (Permission denied). "
                                           "Pick another folder with --output.\n")
