"""The fake Slack holds the bot to Slack's contract; if it didn't, the other tests would prove little."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.double import BOT_TOKEN, SPECS_DIR, FakeSlack, specs_available

needs_specs = pytest.mark.skipif(not specs_available(), reason=f"Slack specs not found at {SPECS_DIR}")


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)


def error_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


@needs_specs
def test_unknown_method_and_missing_arguments_are_refused(client: WebClient) -> None:
    assert error_of(lambda: client.api_call("chat.postMessageTypo")) == "unknown_method"
    assert error_of(lambda: client.api_call("users.info", params={})) == "invalid_arguments"


@needs_specs
def test_blocks_are_checked_against_block_kit_schema(client: WebClient) -> None:
    bad = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert error_of(lambda: client.chat_postMessage(channel="U0LEAD0001", text="t", blocks=bad)) == "invalid_blocks"


def test_fifty_one_blocks_are_refused(client: WebClient) -> None:
    blocks = [{"type": "divider"}] * 51
    assert error_of(lambda: client.chat_postMessage(channel="U0LEAD0001", text="t", blocks=blocks)) == "invalid_blocks"


def test_bad_token_and_private_channel_visibility(fake_slack: FakeSlack, client: WebClient) -> None:
    assert error_of(lambda: WebClient(token="xoxb-wrong", base_url=fake_slack.api_url).auth_test()) == "invalid_auth"
    channel = fake_slack.add_channel("secret", is_private=True)
    assert error_of(lambda: client.chat_postMessage(channel=channel, text="hi")) == "channel_not_found"


def test_trigger_is_single_use(fake_slack: FakeSlack, client: WebClient) -> None:
    trigger = fake_slack.issue_trigger()
    view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [{"type": "divider"}]}
    client.views_open(trigger_id=trigger, view=view)
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=view)) == "exchanged_trigger_id"
    long_title = {**view, "title": {"type": "plain_text", "text": "x" * 25}}
    assert error_of(lambda: client.views_open(trigger_id=fake_slack.issue_trigger(), view=long_title)) == "invalid_arguments"


def test_a_reset_after_the_effect_leaves_the_effect_and_no_answer(fake_slack: FakeSlack, client: WebClient) -> None:
    client.retry_handlers = []
    fake_slack.inject("conversations.create", reset=True, effect_first=True)
    with pytest.raises(OSError):
        client.conversations_create(name="pm-lost-answer", is_private=True)
    assert [c.name for c in fake_slack.channels_named("pm-")] == ["pm-lost-answer"]


def test_failures_can_target_one_channel_and_methods_can_be_slow(fake_slack: FakeSlack, client: WebClient) -> None:
    busy, calm = fake_slack.add_channel("busy", members=["UBOT000001"]), fake_slack.add_channel("calm", members=["UBOT000001"])
    fake_slack.inject("chat.postMessage", status=429, retry_after=7, channel=busy)
    fake_slack.slow("chat.postMessage", seconds=0.3)
    client.retry_handlers = []
    assert client.chat_postMessage(channel=calm, text="fine")["ok"]
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=busy, text="limited")
    assert (raised.value.response.status_code, raised.value.response.headers["Retry-After"]) == (429, "7")
    began = time.monotonic()
    assert client.chat_postMessage(channel=busy, text="now fine")["ok"]
    assert time.monotonic() - began >= 0.3


def test_history_shows_message_metadata_only_when_asked(fake_slack: FakeSlack, client: WebClient) -> None:
    channel = fake_slack.add_channel("with-metadata", members=["UBOT000001"])
    client.chat_postMessage(channel=channel, text="kickoff",
                            metadata={"event_type": "postmortem_kickoff", "event_payload": {"postmortem_id": 1}})
    assert "metadata" not in client.conversations_history(channel=channel)["messages"][0]
    with_metadata = client.conversations_history(channel=channel, include_all_metadata=True)["messages"][0]
    assert with_metadata["metadata"] == {"event_type": "postmortem_kickoff", "event_payload": {"postmortem_id": 1}}


@needs_specs
def test_user_groups_and_direct_messages_follow_slacks_contract(fake_slack: FakeSlack, client: WebClient) -> None:
    fake_slack.add_user_group("S0LEADS001", members=["U0LEAD0001"])
    assert client.usergroups_users_list(usergroup="S0LEADS001")["users"] == ["U0LEAD0001"]
    assert error_of(lambda: client.usergroups_users_list(usergroup="S0NOSUCH01")) == "no_such_subteam"
    assert error_of(lambda: client.api_call("usergroups.users.list", params={})) == "invalid_arguments"
    assert client.conversations_open(users="U0LEAD0001")["channel"]["id"] == "D0LEAD0001"
    assert error_of(lambda: client.conversations_open(users="U0NOBODY01")) == "user_not_found"
