"""The gateway against the fake Slack: retries, error translation, unfurl flags."""

from __future__ import annotations

import pytest

from bot.slack.double import BOT_TOKEN, RESPONSE_URL, FakeSlack
from bot.slack.gateway import SlackCallFailed, SlackGateway, SlackOutcomeUnknown, SlackRateLimited
from tests.conftest import LEAD, RESPONDER_BERLIN


@pytest.fixture
def gateway(fake_slack: FakeSlack) -> SlackGateway:
    return SlackGateway(token=BOT_TOKEN, base_url=fake_slack.api_url)


def test_429_is_retried_after_retry_after(gateway: SlackGateway, fake_slack: FakeSlack) -> None:
    fake_slack.inject("chat.postMessage", status=429, retry_after=0, times=2)
    gateway.post_message(channel=LEAD, text="hello")
    assert len(fake_slack.calls_to("chat.postMessage")) == 3
    assert len(fake_slack.dm_messages(LEAD)) == 1


def test_5xx_is_retried_then_gives_up_with_a_typed_error(gateway: SlackGateway, fake_slack: FakeSlack) -> None:
    fake_slack.inject("users.info", status=502, times=1)
    assert gateway.user(LEAD).tz == "America/New_York"
    fake_slack.inject("users.info", status=503, times=3)
    with pytest.raises(SlackCallFailed) as failure:
        gateway.user(RESPONDER_BERLIN)
    assert failure.value.method == "users.info"
    assert len(fake_slack.calls_to("users.info")) == 5  # 2 + 3 (1 try and 2 retries)


def test_messages_never_unfurl(gateway: SlackGateway, fake_slack: FakeSlack) -> None:
    gateway.post_message(channel=LEAD, text="see hxxp://evil[.]example")
    args = fake_slack.calls_to("chat.postMessage")[0]
    assert (args["unfurl_links"], args["unfurl_media"]) == (False, False)


def test_user_lookups_are_remembered_briefly(gateway: SlackGateway, fake_slack: FakeSlack) -> None:
    assert gateway.user(LEAD).tz == gateway.user(LEAD).tz == "America/New_York"
    assert len(fake_slack.calls_to("users.info")) == 1


def test_slack_errors_become_typed_failures(gateway: SlackGateway) -> None:
    with pytest.raises(SlackCallFailed) as failure:
        gateway.user("U0NOBODY00")
    assert failure.value.error == "user_not_found"


def test_already_in_channel_and_already_pinned_are_fine(gateway: SlackGateway, fake_slack: FakeSlack) -> None:
    channel = gateway.create_private_channel(name="pm-test")
    gateway.invite(channel=channel, user_id=LEAD)
    gateway.invite(channel=channel, user_id=LEAD)
    ts = gateway.post_message(channel=channel, text="kickoff")
    gateway.pin(channel=channel, ts=ts)
    gateway.pin(channel=channel, ts=ts)
    assert fake_slack.pins[channel] == [ts]


class FakeTime:
    """An injected clock: `sleep` only moves it forward, and records how long each wait was."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def paced(fake_slack: FakeSlack, fake_time: FakeTime) -> SlackGateway:
    return SlackGateway(token=BOT_TOKEN, base_url=fake_slack.api_url, max_retry_after=60, quiet_period=60,
                        monotonic=fake_time.monotonic, sleep=fake_time.sleep)


def test_a_channels_429_slows_only_that_channel_and_recovers_after_a_quiet_period(
    paced: SlackGateway, fake_slack: FakeSlack, fake_time: FakeTime
) -> None:
    busy = paced.create_private_channel(name="pm-busy")
    calm = paced.create_private_channel(name="pm-calm")
    fake_slack.inject("chat.postMessage", status=429, retry_after=4, channel=busy)
    paced.post_message(channel=busy, text="one")
    assert fake_time.sleeps == [4.0]  # Retry-After honoured, then sent
    assert [m["text"] for m in fake_slack.messages[busy]] == ["one"]

    for text in ("a", "b", "c"):
        paced.post_message(channel=calm, text=text)
    assert fake_time.sleeps == [4.0]  # another channel never waits for it

    paced.post_message(channel=busy, text="two")
    paced.post_message(channel=busy, text="three")
    assert fake_time.sleeps == [4.0, 1.0, 1.0]  # the busy channel is spaced to the pace that got through (1/s)

    fake_time.now += 61  # quiet for longer than the quiet period
    for text in ("four", "five", "six"):
        paced.post_message(channel=busy, text=text)
    assert fake_time.sleeps == [4.0, 1.0, 1.0]  # back to full speed
    assert len(fake_slack.messages[busy]) == 6 and len(fake_slack.messages[calm]) == 3


def test_retry_after_beyond_the_cap_fails_at_once_as_rate_limited(
    paced: SlackGateway, fake_slack: FakeSlack, fake_time: FakeTime
) -> None:
    fake_slack.inject("users.info", status=429, retry_after=120)
    with pytest.raises(SlackRateLimited) as failure:
        paced.user(LEAD)
    assert (failure.value.error, failure.value.retry_after) == ("ratelimited", 120)
    assert fake_time.sleeps == [] and len(fake_slack.calls_to("users.info")) == 1

    fake_time.now += 30  # still 90 s to go: the next lookup fails too, without asking Slack
    with pytest.raises(SlackRateLimited):
        paced.user(RESPONDER_BERLIN)
    assert len(fake_slack.calls_to("users.info")) == 1
    paced.post_message(channel=LEAD, text="other methods go on")
    fake_time.now += 31  # 59 s to go: within the cap, so it is waited out
    assert paced.user(RESPONDER_BERLIN).tz == "Europe/Berlin"
    assert fake_time.sleeps == [59.0]


def test_a_lost_answer_is_repeated_for_reads_but_not_for_posts(paced: SlackGateway, fake_slack: FakeSlack) -> None:
    fake_slack.inject("users.info", reset=True)
    assert paced.user(LEAD).tz == "America/New_York"
    assert len(fake_slack.calls_to("users.info")) == 2

    fake_slack.inject("chat.postMessage", reset=True, effect_first=True)
    with pytest.raises(SlackOutcomeUnknown):
        paced.post_message(channel=LEAD, text="only once")
    assert [m["text"] for m in fake_slack.dm_messages(LEAD)] == ["only once"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_a_message_is_found_again_by_its_metadata(paced: SlackGateway, fake_slack: FakeSlack) -> None:
    channel = paced.create_private_channel(name="pm-find")
    marker = {"event_type": "postmortem_kickoff", "event_payload": {"postmortem_id": 7}}
    ts = paced.post_message(channel=channel, text="kickoff", metadata=marker)
    paced.post_message(channel=channel, text="later")
    assert paced.find_message(channel=channel, event_type="postmortem_kickoff", payload={"postmortem_id": 7}) == ts
    assert paced.find_message(channel=channel, event_type="postmortem_kickoff", payload={"postmortem_id": 8}) is None
    assert paced.private_channel_named(name="pm-find") == channel
    assert paced.private_channel_named(name="pm-missing") is None


def test_answers_to_response_urls_share_one_kept_alive_connection(gateway: SlackGateway, fake_slack: FakeSlack) -> None:
    urls = [fake_slack.response_url() for _ in range(5)]
    opened_before = fake_slack.connections_opened
    for number, url in enumerate(urls):
        gateway.respond(response_url=url, text=f"answer {number}")
    assert [(r["response_url"], r["text"], r["unfurl_links"]) for r in fake_slack.responses] == \
        [(url, f"answer {number}", False) for number, url in enumerate(urls)]
    assert fake_slack.connections_opened - opened_before == 1


def test_an_answer_on_a_connection_closed_while_idle_goes_out_once_on_a_new_one(
    gateway: SlackGateway, fake_slack: FakeSlack
) -> None:
    first, second = fake_slack.response_url(), fake_slack.response_url()
    gateway.respond(response_url=first, text="first")
    fake_slack.close_kept_connections()
    gateway.respond(response_url=second, text="second")
    assert [r["text"] for r in fake_slack.responses if r["response_url"] == second] == ["second"]
    assert fake_slack.connections_opened == 2


def test_a_rate_limited_answer_waits_out_retry_after_and_a_refused_one_fails_truthfully(
    paced: SlackGateway, fake_slack: FakeSlack, fake_time: FakeTime
) -> None:
    url = fake_slack.response_url()
    fake_slack.inject(RESPONSE_URL, status=429, retry_after=3, times=2)
    paced.respond(response_url=url, text="after the wait")
    assert fake_time.sleeps == [3, 3]
    assert [r["text"] for r in fake_slack.responses] == ["after the wait"]

    fake_slack.inject(RESPONSE_URL, status=404)
    with pytest.raises(SlackCallFailed) as failure:
        paced.respond(response_url=fake_slack.response_url(), text="expired")
    assert (failure.value.method, failure.value.error) == ("response_url", "http_404")
    # Closed unanswered every time: once on the kept connection, then a first try and two retries on new ones.
    fake_slack.inject(RESPONSE_URL, reset=True, times=4)
    with pytest.raises(SlackCallFailed) as failure:
        paced.respond(response_url=fake_slack.response_url(), text="never arrives")
    assert failure.value.error == "connection_error"
    assert [r["text"] for r in fake_slack.responses] == ["after the wait"]
