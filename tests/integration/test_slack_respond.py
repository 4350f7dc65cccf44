"""The Slack click answers over HTTP: WebhookResponder (slack_sdk's WebhookClient) against the
fake Slack's response_url, and the local outbox that stands in without Slack credentials."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from chalicelib.adapters.channels.outbox import Outbox
from chalicelib.adapters.slack_respond import (
    OutboxResponder,
    WebhookResponder,
    build_responder,
)
from chalicelib.ports import DeliveryError
from tests.fakes import FakeClock
from tests.providers import FakeSlack, Reply

BLOCKS = (
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Lead*"}},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Claimed by Ana"}]},
)


@pytest.fixture(scope="module")
def slack_server() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def slack(slack_server: FakeSlack) -> FakeSlack:
    slack_server.reset()
    return slack_server


def test_a_replacing_answer_posts_text_blocks_and_replace_original(slack: FakeSlack) -> None:
    WebhookResponder().respond(
        slack.response_url, text="Lead (Claimed by Ana)", blocks=BLOCKS, replace_original=True
    )

    assert slack.responses == [
        {"text": "Lead (Claimed by Ana)", "blocks": list(BLOCKS), "replace_original": True}
    ]
    assert slack.requests[0].path == FakeSlack.RESPONSE_PATH
    assert slack.requests[0].headers["content-type"].startswith("application/json")


def test_an_ephemeral_answer_leaves_the_original_and_goes_to_the_clicker_alone(
    slack: FakeSlack,
) -> None:
    WebhookResponder().respond(slack.response_url, text="Not a rep", replace_original=False)

    assert slack.responses == [
        {"text": "Not a rep", "response_type": "ephemeral", "replace_original": False}
    ]


def test_with_a_base_url_slacks_own_response_urls_go_to_it_path_kept(slack: FakeSlack) -> None:
    responder = WebhookResponder(base_url=slack.api_url)

    responder.respond(
        "https://hooks.slack.com/actions/T000/42/xyz?a=1", text="hi", replace_original=False
    )

    assert [r.path for r in slack.requests] == ["/actions/T000/42/xyz?a=1"]


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply(404, "expired_url"), "expired_url"),
        (Reply(404, {"ok": False, "error": "used_url"}), "used_url"),
        (Reply(200, {"ok": False, "error": "invalid_blocks"}), "invalid_blocks"),
        (Reply(200, "no_text"), "no_text"),
    ],
)
def test_an_answer_slack_refuses_is_permanent(slack: FakeSlack, reply: Reply, code: str) -> None:
    slack.fail_next(1, reply)

    with pytest.raises(DeliveryError) as raised:
        WebhookResponder().respond(slack.response_url, text="hi", replace_original=False)

    assert (raised.value.permanent, raised.value.code) == (True, code)


def test_a_rate_limited_answer_is_transient_with_retry_after(slack: FakeSlack) -> None:
    slack.fail_next(1, Reply(429, "rate_limited", {"Retry-After": "7"}))

    with pytest.raises(DeliveryError) as raised:
        WebhookResponder().respond(slack.response_url, text="hi", replace_original=True)

    assert (raised.value.permanent, raised.value.retry_after) == (False, 7.0)


def test_a_slack_server_error_is_transient(slack: FakeSlack) -> None:
    slack.fail_next(1, Reply(503, "service unavailable"))

    with pytest.raises(DeliveryError) as raised:
        WebhookResponder().respond(slack.response_url, text="hi", replace_original=True)

    assert raised.value.permanent is False


def test_slack_unreachable_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed

    with pytest.raises(DeliveryError) as raised:
        WebhookResponder(timeout_s=2).respond(
            f"http://127.0.0.1:{port}/actions/T/1/a", text="hi", replace_original=True
        )

    assert (raised.value.permanent, raised.value.code) == (False, "connection")


def test_the_outbox_responder_records_the_answer_addressed_to_the_response_url() -> None:
    outbox = Outbox(clock=FakeClock())
    url = "https://hooks.slack.com/actions/T/1/a"

    OutboxResponder(outbox).respond(url, text="Claimed", blocks=BLOCKS, replace_original=True)
    OutboxResponder(outbox).respond(url, text="Not a rep", replace_original=False)

    update, ephemeral = reversed(outbox.items())
    assert (update.kind, update.channel, update.to, update.text) == (
        "update",
        "slack",
        url,
        "Claimed",
    )
    assert (ephemeral.kind, ephemeral.text) == ("send", "Not a rep")
    assert "only the clicker" in ephemeral.subject


def test_locally_answers_go_to_the_outbox_until_slack_credentials_are_set(
    slack: FakeSlack,
) -> None:
    outbox = Outbox(clock=FakeClock())
    configured = [False]
    responder = build_responder(
        base_url=slack.api_url, outbox=outbox, slack_configured=lambda: configured[0]
    )

    responder.respond(slack.response_url, text="first", replace_original=False)
    configured[0] = True
    responder.respond(slack.response_url, text="second", replace_original=False)

    assert [i.text for i in outbox.items()] == ["first"]
    assert [r["text"] for r in slack.responses] == ["second"]


def test_in_aws_answers_go_to_slack_whatever_the_credentials(slack: FakeSlack) -> None:
    responder = build_responder(base_url=slack.api_url, outbox=None, slack_configured=lambda: False)

    responder.respond(slack.response_url, text="hi", replace_original=False)

    assert [r["text"] for r in slack.responses] == ["hi"]
