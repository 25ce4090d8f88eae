"""The gateway against the fake Slack: retries, error translation, unfurl flags."""

from __future__ import annotations

import pytest

from bot.slack_gateway import SlackCallFailed, SlackGateway
from tests.conftest import LEAD, RESPONDER_BERLIN
from tests.fake_slack import FakeSlack
from tests.fake_slack.server import BOT_TOKEN


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
