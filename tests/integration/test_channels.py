"""The alert channel adapters against local servers playing Twilio and Slack, and SES on moto:
what reaches the provider, and which failures are transient (retry) or permanent (fall back)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.adapters.channels import UpdatingSender
from chalicelib.adapters.channels.email import SesEmail
from chalicelib.adapters.channels.factory import build_senders
from chalicelib.adapters.channels.outbox import Outbox, OutboxSender
from chalicelib.adapters.channels.slack import SlackBot, SlackWebhook
from chalicelib.adapters.channels.sms import TwilioSms
from chalicelib.adapters.secrets import SecretResolver
from chalicelib.domain.team import AlertChannels
from chalicelib.ports import AlertContent, Delivery, DeliveryError
from tests.fakes import T0, FakeClock
from tests.providers import ACCOUNT_SID, FakeSlack, FakeTwilio

REGION = "us-east-1"
SENDER = "alerts@leadclock.example"
BLOCKS = ({"type": "section", "text": {"type": "mrkdwn", "text": "*Ada Lovelace* waited 5m"}},)
CONTENT = AlertContent(
    subject="Lead waiting: Ada Lovelace",
    text="Ada Lovelace (typeform / spring) has waited 5m; SLA 5m.",
    html="<p><b>Ada Lovelace</b> has waited 5m.</p>",
    blocks=BLOCKS,
)


def sms(to: str = "+15005550006", callback: str | None = None) -> Delivery:
    return Delivery(channel="sms", to=to, content=CONTENT, status_callback=callback)


def slack(to: str = "C0123ALERTS") -> Delivery:
    return Delivery(channel="slack", to=to, content=CONTENT)


def email(to: str = "rep@leadclock.example") -> Delivery:
    return Delivery(channel="email", to=to, content=CONTENT)


def failure(sender: Any, delivery: Delivery) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        sender.send(delivery)
    return caught.value


def closed_port_url() -> str:
    """A 127.0.0.1 URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def twilio(twilio_server: FakeTwilio) -> FakeTwilio:
    """The Twilio stand-in with no requests recorded and nothing scripted."""
    twilio_server.reset()
    return twilio_server


@pytest.fixture(scope="module")
def slack_server() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def slack_api(slack_server: FakeSlack) -> FakeSlack:
    """The Slack stand-in with no requests recorded and nothing scripted."""
    slack_server.reset()
    return slack_server


@pytest.fixture
def twilio_sms(twilio: FakeTwilio) -> TwilioSms:
    return TwilioSms(ACCOUNT_SID, "auth-token", sms_from="+15550001111", api_base=twilio.url)


# --- SMS ---------------------------------------------------------------------------------------


def test_sms_reaches_twilio_with_sender_body_and_status_callback(
    twilio: FakeTwilio, twilio_sms: TwilioSms
) -> None:
    sent = twilio_sms.send(sms(callback="https://alerts.example/twilio/sms-status"))

    assert sent.provider_id is not None and sent.provider_id.startswith("SM")
    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form() == {
        "To": "+15005550006",
        "From": "+15550001111",
        "Body": CONTENT.text,
        "StatusCallback": "https://alerts.example/twilio/sms-status",
    }
    basic = base64.b64encode(f"{ACCOUNT_SID}:auth-token".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"


def test_sms_without_callback_sends_no_status_callback(
    twilio: FakeTwilio, twilio_sms: TwilioSms
) -> None:
    twilio_sms.send(sms())

    assert "StatusCallback" not in twilio.messages[0]


def test_sms_uses_the_messaging_service_when_set(twilio: FakeTwilio) -> None:
    sender = TwilioSms(
        ACCOUNT_SID, "auth-token", messaging_service_sid="MG" + "1" * 32, api_base=twilio.url
    )

    sender.send(sms())

    (form,) = twilio.messages
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


def test_sms_to_a_lead_goes_from_the_number_the_delivery_names(twilio: FakeTwilio) -> None:
    sender = TwilioSms(
        ACCOUNT_SID, "auth-token", messaging_service_sid="MG" + "1" * 32, api_base=twilio.url
    )

    sender.send(replace(sms(), sender="+14155550111"))

    (form,) = twilio.messages
    assert form["From"] == "+14155550111"
    assert "MessagingServiceSid" not in form


def test_sms_to_an_opted_out_number_is_permanent_21610(
    twilio: FakeTwilio, twilio_sms: TwilioSms
) -> None:
    twilio.fail(status=400, code=21610, message="Attempt to send to unsubscribed recipient")

    error = failure(twilio_sms, sms())

    assert (error.permanent, error.code) == (True, "21610")


@pytest.mark.parametrize("code", [21211, 21614, 21635, 21606, 21608, 21612])
def test_sms_to_an_unusable_number_is_permanent(
    twilio: FakeTwilio, twilio_sms: TwilioSms, code: int
) -> None:
    twilio.fail(status=400, code=code)

    error = failure(twilio_sms, sms())

    assert (error.permanent, error.code) == (True, str(code))


def test_sms_twilio_500_is_transient_and_the_next_send_goes_through(
    twilio: FakeTwilio, twilio_sms: TwilioSms
) -> None:
    twilio.fail(status=500, code=20500, message="Internal Server Error")

    error = failure(twilio_sms, sms())
    sent = twilio_sms.send(sms())

    assert (error.permanent, error.code) == (False, "20500")
    assert sent.provider_id is not None
    # One request each: the adapter never retries behind the service's back.
    assert len(twilio.messages) == 2


def test_sms_rate_limited_20429_is_transient(twilio: FakeTwilio, twilio_sms: TwilioSms) -> None:
    twilio.fail(status=429, code=20429, message="Too Many Requests")

    error = failure(twilio_sms, sms())

    assert (error.permanent, error.code) == (False, "20429")


def test_sms_other_client_error_is_permanent(twilio: FakeTwilio, twilio_sms: TwilioSms) -> None:
    twilio.fail(status=401, code=20003, message="Authenticate")

    error = failure(twilio_sms, sms())

    assert (error.permanent, error.code) == (True, "20003")


def test_sms_when_twilio_is_unreachable_is_transient() -> None:
    sender = TwilioSms(ACCOUNT_SID, "t", sms_from="+15550001111", api_base=closed_port_url())

    error = failure(sender, sms())

    assert (error.permanent, error.code) == (False, "connection")


# --- Slack -------------------------------------------------------------------------------------


def test_slack_bot_posts_text_and_blocks_and_returns_channel_and_ts(slack_api: FakeSlack) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)

    sent = bot.send(slack("C0123ALERTS"))

    (call,) = slack_api.calls("chat.postMessage")
    assert call == {"channel": "C0123ALERTS", "text": CONTENT.text, "blocks": list(BLOCKS)}
    assert slack_api.requests[0].headers["authorization"] == "Bearer xoxb-test"
    assert sent.provider_id == "C0123ALERTS:1700000000.000001"


def test_slack_bot_dm_to_a_user_id_returns_the_dm_channel(slack_api: FakeSlack) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)

    sent = bot.send(slack("U012ABCDEF"))

    assert slack_api.calls("chat.postMessage")[0]["channel"] == "U012ABCDEF"
    assert sent.provider_id is not None and sent.provider_id.startswith("D012ABCDEF:")


def test_slack_bot_without_blocks_sends_text_only(slack_api: FakeSlack) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)
    plain = Delivery(channel="slack", to="C1", content=AlertContent("s", "just text", ""))

    bot.send(plain)

    assert slack_api.calls("chat.postMessage") == [{"channel": "C1", "text": "just text"}]


def test_slack_429_is_transient_with_retry_after_from_the_header(slack_api: FakeSlack) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)
    slack_api.fail(status=429, error="ratelimited", retry_after=3)

    error = failure(bot, slack())

    assert (error.permanent, error.code, error.retry_after) == (False, "ratelimited", 3.0)
    # slack_sdk's own 429 retry is off: the service waits and counts the attempt.
    assert len(slack_api.requests) == 1


def test_slack_channel_not_found_is_permanent(slack_api: FakeSlack) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)
    slack_api.fail(error="channel_not_found")

    error = failure(bot, slack())

    assert (error.permanent, error.code) == (True, "channel_not_found")


@pytest.mark.parametrize(
    "name", ["not_in_channel", "user_not_found", "is_archived", "invalid_auth", "no_permission"]
)
def test_slack_errors_that_no_retry_fixes_are_permanent(slack_api: FakeSlack, name: str) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)
    slack_api.fail(error=name)

    assert failure(bot, slack()).permanent


def test_slack_server_error_is_transient(slack_api: FakeSlack) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)
    slack_api.fail(status=503, error="service_unavailable")

    error = failure(bot, slack())

    assert (error.permanent, error.code) == (False, "service_unavailable")


def test_slack_unreachable_is_transient_after_one_attempt() -> None:
    bot = SlackBot("xoxb-test", base_url=closed_port_url() + "/api/")

    error = failure(bot, slack())

    assert (error.permanent, error.code) == (False, "connection")


def test_slack_update_calls_chat_update_with_channel_and_ts(slack_api: FakeSlack) -> None:
    bot = SlackBot("xoxb-test", base_url=slack_api.api_url)
    claimed = AlertContent("Claimed", "Claimed by Grace", "", blocks=BLOCKS)

    sent = bot.update("D012ABCDEF:1700000000.000001", claimed)

    (call,) = slack_api.calls("chat.update")
    assert call == {
        "channel": "D012ABCDEF",
        "ts": "1700000000.000001",
        "text": "Claimed by Grace",
        "blocks": list(BLOCKS),
    }
    assert sent.provider_id == "D012ABCDEF:1700000000.000001"
    assert isinstance(bot, UpdatingSender)


def test_slack_webhook_posts_to_its_channel(slack_api: FakeSlack) -> None:
    hook = SlackWebhook(slack_api.webhook_url)

    sent = hook.send(slack("C0123ALERTS"))

    assert sent.provider_id is None
    assert slack_api.webhook_posts == [{"text": CONTENT.text, "blocks": list(BLOCKS)}]


def test_slack_webhook_429_is_transient_with_retry_after(slack_api: FakeSlack) -> None:
    hook = SlackWebhook(slack_api.webhook_url)
    slack_api.fail_webhook(status=429, body="rate_limited", retry_after=3)

    error = failure(hook, slack())

    assert (error.permanent, error.retry_after) == (False, 3.0)
    assert len(slack_api.requests) == 1


@pytest.mark.parametrize(("status", "body"), [(404, "no_service"), (410, "channel_is_archived")])
def test_slack_webhook_gone_is_permanent(slack_api: FakeSlack, status: int, body: str) -> None:
    hook = SlackWebhook(slack_api.webhook_url)
    slack_api.fail_webhook(status=status, body=body)

    error = failure(hook, slack())

    assert (error.permanent, error.code) == (True, body)


def test_slack_webhook_server_error_is_transient(slack_api: FakeSlack) -> None:
    hook = SlackWebhook(slack_api.webhook_url)
    slack_api.fail_webhook(status=500, body="rollup_error")

    assert not failure(hook, slack()).permanent


def test_slack_webhook_cannot_dm_a_person(slack_api: FakeSlack) -> None:
    hook = SlackWebhook(slack_api.webhook_url)

    error = failure(hook, slack("U012ABCDEF"))

    assert (error.permanent, error.code) == (True, "not_configured")
    assert slack_api.requests == []


# --- Email (SES on moto) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ses_v2() -> Iterator[Any]:
    """An SES v2 client on moto with SENDER verified (built once: clients are slow)."""
    with mock_aws():
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        yield boto3.client("sesv2", region_name=REGION)


def sent_messages() -> list[Any]:
    messages: list[Any] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return messages


def test_email_goes_out_through_ses_with_its_message_id(ses_v2: Any) -> None:
    before = len(sent_messages())
    sender = SesEmail(lambda: ses_v2, sender=SENDER, configuration_set="alerts")

    sent = sender.send(email())

    message = sent_messages()[before]
    assert sent.provider_id == message.id
    assert (message.source, message.subject) == (SENDER, CONTENT.subject)
    assert message.destinations["ToAddresses"] == ["rep@leadclock.example"]
    assert message.body == CONTENT.html  # moto keeps the HTML part when there is one


def test_email_from_an_unverified_sender_is_permanent(ses_v2: Any) -> None:
    sender = SesEmail(lambda: ses_v2, sender="nobody@elsewhere.example")

    error = failure(sender, email())

    assert (error.permanent, error.code) == (True, "MessageRejected")


def test_email_throttled_by_ses_is_transient() -> None:
    client = boto3.client("sesv2", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_email",
            service_error_code="TooManyRequestsException",
            service_message="Maximum sending rate exceeded.",
            http_status_code=429,
        )
        error = failure(SesEmail(lambda: client, sender=SENDER), email())
        stub.assert_no_pending_responses()

    assert (error.permanent, error.code) == (False, "TooManyRequestsException")


@pytest.mark.parametrize(
    ("message", "permanent"),
    [("Maximum sending rate exceeded.", False), ("Too many recipients.", True)],
)
def test_email_limit_exceeded_is_transient_only_for_rate(message: str, permanent: bool) -> None:
    client = boto3.client("sesv2", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_email", service_error_code="LimitExceededException", service_message=message
        )
        error = failure(SesEmail(lambda: client, sender=SENDER), email())

    assert error.permanent is permanent


def test_email_when_ses_is_unreachable_is_transient() -> None:
    from botocore.config import Config

    client = boto3.client(
        "sesv2",
        region_name=REGION,
        endpoint_url=closed_port_url(),
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )

    error = failure(SesEmail(lambda: client, sender=SENDER), email())

    assert (error.permanent, error.code) == (False, "connection")


# --- Outbox ------------------------------------------------------------------------------------


def test_outbox_records_sends_newest_first_and_echoes_them() -> None:
    printed: list[str] = []
    outbox = Outbox(clock=FakeClock(), echo=printed.append)
    sms_box, email_box = OutboxSender(outbox, "sms"), OutboxSender(outbox, "email")

    first = sms_box.send(sms("+15005550006"))
    second = email_box.send(email("rep@leadclock.example"))

    assert (first.provider_id, second.provider_id) == ("outbox-1", "outbox-2")
    newest, oldest = outbox.items()
    assert (newest.channel, newest.to, newest.subject) == (
        "email",
        "rep@leadclock.example",
        CONTENT.subject,
    )
    assert (oldest.channel, oldest.text, oldest.at) == ("sms", CONTENT.text, T0)
    assert outbox.items(limit=1) == [newest]
    assert len(printed) == 2 and "+15005550006" in printed[0]


def test_outbox_update_is_recorded_against_the_original_recipient() -> None:
    outbox = Outbox(clock=FakeClock())
    box = OutboxSender(outbox, "slack")
    sent = box.send(slack("U012ABCDEF"))
    assert sent.provider_id is not None

    box.update(sent.provider_id, AlertContent("Claimed", "Claimed by Grace", ""))

    update = outbox.items()[0]
    assert (update.kind, update.to, update.text) == ("update", "U012ABCDEF", "Claimed by Grace")


# --- Factory -----------------------------------------------------------------------------------


def no_ssm() -> Any:
    raise AssertionError("these tests use env: references only")


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    """Secrets from the environment: the test Twilio and Slack credentials are set."""
    monkeypatch.setenv("LC_TEST_TWILIO_SID", ACCOUNT_SID)
    monkeypatch.setenv("LC_TEST_TWILIO_TOKEN", "auth-token")
    monkeypatch.setenv("LC_TEST_SLACK_TOKEN", "xoxb-test")
    monkeypatch.delenv("LC_TEST_MISSING", raising=False)
    return SecretResolver(no_ssm)


def test_unconfigured_channels_go_to_the_outbox_when_there_is_one(
    secrets: SecretResolver,
) -> None:
    outbox = Outbox(clock=FakeClock())
    senders = build_senders(
        AlertChannels(),
        twilio_auth_token_ref=None,
        secrets=secrets,
        ses_client=no_ssm,
        outbox=outbox,
    )

    for channel, delivery in (("sms", sms()), ("slack", slack()), ("email", email())):
        assert senders[channel].send(delivery).provider_id is not None
    assert [i.channel for i in outbox.items()] == ["email", "slack", "sms"]


def test_unconfigured_channels_fail_permanently_without_an_outbox(
    secrets: SecretResolver,
) -> None:
    senders = build_senders(
        AlertChannels(),
        twilio_auth_token_ref=None,
        secrets=secrets,
        ses_client=no_ssm,
        outbox=None,
    )

    for channel, delivery in (("sms", sms()), ("slack", slack()), ("email", email())):
        error = failure(senders[channel], delivery)
        assert (error.permanent, error.code) == (True, "not_configured")


def test_configured_channels_use_their_providers(
    secrets: SecretResolver, twilio: FakeTwilio, slack_api: FakeSlack, ses_v2: Any
) -> None:
    alerts = AlertChannels(
        twilio_account_sid_ref="env:LC_TEST_TWILIO_SID",
        sms_from="+15550001111",
        slack_bot_token_ref="env:LC_TEST_SLACK_TOKEN",
        slack_webhook_url_ref="env:LC_TEST_MISSING",  # the bot token wins
        email_from=SENDER,
    )
    senders = build_senders(
        alerts,
        twilio_auth_token_ref="env:LC_TEST_TWILIO_TOKEN",
        secrets=secrets,
        ses_client=lambda: ses_v2,
        outbox=None,
        twilio_api_base=twilio.url,
        slack_base_url=slack_api.api_url,
    )

    assert str(senders["sms"].send(sms()).provider_id).startswith("SM")
    posted = senders["slack"].send(slack("U012ABCDEF"))
    assert posted.provider_id is not None
    assert str(senders["email"].send(email()).provider_id) == sent_messages()[-1].id
    slack_sender = senders["slack"]
    assert isinstance(slack_sender, UpdatingSender)
    slack_sender.update(posted.provider_id, CONTENT)
    assert len(twilio.messages) == 1
    assert len(slack_api.calls("chat.postMessage")) == len(slack_api.calls("chat.update")) == 1


def test_a_missing_secret_fails_the_send_not_the_build(secrets: SecretResolver) -> None:
    alerts = AlertChannels(
        twilio_account_sid_ref="env:LC_TEST_MISSING",
        sms_from="+15550001111",
        slack_webhook_url_ref="env:LC_TEST_MISSING",
    )
    senders = build_senders(
        alerts,
        twilio_auth_token_ref="env:LC_TEST_TWILIO_TOKEN",
        secrets=secrets,
        ses_client=no_ssm,
        outbox=None,
    )

    for channel, delivery in (("sms", sms()), ("slack", slack())):
        error = failure(senders[channel], delivery)
        assert (error.permanent, error.code) == (True, "not_configured")


def test_locally_a_channel_whose_secrets_are_unset_and_email_go_to_the_outbox(
    secrets: SecretResolver,
) -> None:
    alerts = AlertChannels(
        twilio_account_sid_ref="env:LC_TEST_MISSING",
        sms_from="+15550001111",
        slack_bot_token_ref="env:LC_TEST_MISSING",
        email_from=SENDER,
    )
    outbox = Outbox(clock=FakeClock())
    senders = build_senders(
        alerts,
        twilio_auth_token_ref="env:LC_TEST_TWILIO_TOKEN",
        secrets=secrets,
        ses_client=no_ssm,
        outbox=outbox,
    )

    for channel, delivery in (("sms", sms()), ("slack", slack()), ("email", email())):
        senders[channel].send(delivery)

    assert [i.channel for i in reversed(outbox.items())] == ["sms", "slack", "email"]


def test_sms_without_a_from_number_or_service_is_not_configured(secrets: SecretResolver) -> None:
    senders = build_senders(
        AlertChannels(twilio_account_sid_ref="env:LC_TEST_TWILIO_SID"),
        twilio_auth_token_ref="env:LC_TEST_TWILIO_TOKEN",
        secrets=secrets,
        ses_client=no_ssm,
        outbox=None,
    )

    error = failure(senders["sms"], sms())

    assert (error.permanent, error.code) == (True, "not_configured")


def test_slack_webhook_only_posts_channel_messages_and_refuses_dms(
    secrets: SecretResolver, slack_api: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_TEST_SLACK_HOOK", slack_api.webhook_url)
    senders = build_senders(
        AlertChannels(slack_webhook_url_ref="env:LC_TEST_SLACK_HOOK"),
        twilio_auth_token_ref=None,
        secrets=secrets,
        ses_client=no_ssm,
        outbox=None,
    )

    assert senders["slack"].send(slack("C0123ALERTS")).provider_id is None
    error = failure(senders["slack"], slack("U012ABCDEF"))
    assert (error.permanent, error.code) == (True, "not_configured")
    assert len(slack_api.webhook_posts) == 1
