"""The issue's delivery faults through the real channel adapters: a ladder step fired by the
escalation service, its alerts sent by `build_senders`' Twilio, Slack and SES adapters to local
servers playing the providers (SES on moto, or a Stubber where SES has to throttle).

What the unit tests claim with recording senders, these claim end to end: a retried SMS reaches
Twilio once, a Retry-After from Slack is the wait, a permanent error falls back, and a worker
killed after the provider took an SMS never sends a second one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.adapters.channels.factory import build_senders
from chalicelib.domain.capture import Capture
from chalicelib.domain.inbound import form_capture
from chalicelib.domain.model import Contact, FormSubmission, Lead
from chalicelib.domain.sla import LadderStep, SlaPolicy, TimerMessage
from chalicelib.domain.team import (
    AlertChannels,
    Member,
    QueueConfig,
    RepConfig,
    SourceConfig,
    TeamConfig,
)
from chalicelib.ports import AlertRecord, Delivery, Sender, Sent
from chalicelib.services.assignment import Assigner
from chalicelib.services.delivery import BACKOFF_S
from chalicelib.services.escalation import Fired, on_timer, sweep
from chalicelib.services.landing import accept
from chalicelib.services.worker import Worker
from tests.fakes import (
    T0,
    DictSecrets,
    FakeClock,
    FakeSleep,
    FakeTimers,
    MemoryLeadStore,
    StaticTeamStore,
)
from tests.providers import ACCOUNT_SID, FakeSlack, FakeTwilio, Recorded, Reply

REGION = "us-east-1"
SENDER = "alerts@leadclock.example"
SMS_FROM = "+15550001111"
PUBLIC_URL = "https://leads.example.test"

# T0 is Monday 2026-11-02 14:00 UTC; nobody here has working hours, so everyone is always on.
ANA = RepConfig("ana", "Ana", phone="+14155550131", email="ana@example.com", slack_user_id="UANA")
BEN = RepConfig("ben", "Ben", phone="+14155550132", email="ben@example.com", slack_user_id="UBEN")
DEV = RepConfig("dev", "Dev", phone="+14155550136", email="dev@example.com", slack_user_id="UDEV")
WEBSITE = SourceConfig(name="website", auth_scheme="token", secret_ref="env:X")
POLICY = SlaPolicy(
    name="standard",
    target_s=300,
    steps=(
        LadderStep("warn", -120, ("owner",), ("sms", "slack")),  # step 0, 3 min after capture
        LadderStep("breach", 0, ("channel",), ("slack",)),  # step 1, at 5 min
        LadderStep("manager", 600, ("manager",), ("email",)),  # step 2, at 15 min
    ),
)
SALES = QueueConfig(
    name="sales",
    members=(Member("ana"), Member("ben")),
    backup="ben",
    manager="dev",
    slack_channel="CSALES",
    sla_policy="standard",
)
TEAM = TeamConfig(
    name="acme",
    twilio_auth_token_ref="env:LC_FAULTS_TWILIO_TOKEN",
    reps=(ANA, BEN, DEV),
    queues=(SALES,),
    default_queue="sales",
    sources=(WEBSITE,),
    sla_policies=(POLICY,),
    alerts=AlertChannels(
        twilio_account_sid_ref="env:LC_FAULTS_TWILIO_SID",
        sms_from=SMS_FROM,
        slack_bot_token_ref="env:LC_FAULTS_SLACK_TOKEN",
        email_from=SENDER,
    ),
)
SECRETS = DictSecrets(
    {
        "env:LC_FAULTS_TWILIO_SID": ACCOUNT_SID,
        "env:LC_FAULTS_TWILIO_TOKEN": "auth-token",
        "env:LC_FAULTS_SLACK_TOKEN": "xoxb-test",
    }
)
# Seconds after capture at which each step is due.
WARN_AT, BREACH_AT, MANAGER_AT = 180, 300, 900


class TwilioAccount(FakeTwilio):
    """FakeTwilio that also keeps the sid of every message it accepted (a failed request is
    recorded in `requests` but never accepted)."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[str] = []

    def answer(self, request: Recorded) -> Reply:
        reply = super().answer(request)
        if reply.status == 201:
            self.accepted.append(str(reply.body["sid"]))
        return reply

    def reset(self) -> None:
        super().reset()
        self.accepted.clear()


class SlackWorkspace(FakeSlack):
    """FakeSlack where the channels in `missing` do not exist, so posting to one answers
    channel_not_found, as Slack does for a deleted channel or one the bot cannot see."""

    def __init__(self) -> None:
        super().__init__()
        self.missing: set[str] = set()

    def answer(self, request: Recorded) -> Reply:
        if request.path == "/api/chat.postMessage" and request.json().get("channel") in (
            self.missing
        ):
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        return super().answer(request)

    def reset(self) -> None:
        super().reset()
        self.missing.clear()

    def posts(self, channel: str) -> list[Any]:
        """Every chat.postMessage request addressed to `channel`, failed or not."""
        return [c for c in self.calls("chat.postMessage") if c.get("channel") == channel]


class WorkerKilled(BaseException):
    """The Lambda killed mid-step (timeout, out of memory): not an Exception, so nothing in the
    worker catches it, just as nothing runs after a real kill."""


class DiesAfterSending:
    """A sender that hands the message to the real adapter, then kills the worker before the
    service can record that the provider took it."""

    def __init__(self, real: Sender) -> None:
        self.real = real

    def send(self, delivery: Delivery) -> Sent:
        self.real.send(delivery)
        raise WorkerKilled()


def form(event: str) -> Capture:
    """A website form lead."""
    sub = FormSubmission(contact=Contact(name="Pat Doe", email="pat@example.com"))
    capture, _ = form_capture(WEBSITE, sub, provider_id=event, default_region="US")
    return capture


class Rig:
    """The alert worker on in-memory stores and a movable clock, its senders built by
    `build_senders` and pointed at the fake providers."""

    def __init__(self, twilio: FakeTwilio, slack: FakeSlack, ses_client: Callable[[], Any]) -> None:
        self.clock = FakeClock()
        self.store = MemoryLeadStore()
        self.team = StaticTeamStore(TEAM)
        self.timers = FakeTimers()
        self.alerts = self.store.alert_log  # where finish_step logs a step's alerts
        self.sleep = FakeSleep(self.clock)
        # Built once, as the wiring's SenderCache does: each adapter keeps its client.
        self.senders: Mapping[str, Sender] = build_senders(
            TEAM.alerts,
            twilio_auth_token_ref=TEAM.twilio_auth_token_ref,
            secrets=SECRETS,
            ses_client=ses_client,
            outbox=None,
            twilio_api_base=twilio.url,
            slack_base_url=slack.api_url,
        )
        self.worker = Worker(
            store=self.store,
            team=self.team,
            routing=self.store.routing,
            timers=self.timers,
            alerts=self.alerts,
            senders=lambda _: self.senders,
            clock=self.clock,
            sleep=self.sleep,
            public_url=PUBLIC_URL,
        )

    def capture(self, event: str = "e1") -> Lead:
        assigner = Assigner(
            team=self.team, routing=self.store.routing, clock=self.clock, timers=self.timers
        )
        landed = accept(form(event), store=self.store, clock=self.clock, assigner=assigner)
        assert landed.lead_id is not None
        lead = self.lead(landed.lead_id)
        assert lead.owner == "ana"
        return lead

    def lead(self, lead_id: str) -> Lead:
        found = self.store.get_lead(lead_id)
        assert found is not None
        return found

    def at(self, seconds_after_capture: float) -> None:
        self.clock.current = T0 + timedelta(seconds=seconds_after_capture)

    def deliver_timers(self, worker: Worker | None = None) -> list[Fired | None]:
        """Hand every scheduled timer that is due to the worker, like the SQS consumer."""
        due = [t for t in self.timers.scheduled if t[2] <= self.clock.now()]
        self.timers.scheduled = [t for t in self.timers.scheduled if t not in due]
        return [
            on_timer(TimerMessage(lead_id, step, at).to_json(), worker or self.worker)
            for lead_id, step, at in due
        ]

    def climb_to(self, seconds_after_capture: float) -> None:
        """Fire every step due by then, one timer at a time, as the queue would."""
        for t in (WARN_AT, BREACH_AT, MANAGER_AT):
            if t <= seconds_after_capture:
                self.at(t)
                self.deliver_timers()

    def alert(self, lead_id: str, key: str) -> AlertRecord:
        record = self.alerts.get(lead_id, key)
        assert record is not None, f"no alert {key}"
        return record

    def step_alerts(self, lead_id: str, step: int) -> list[AlertRecord]:
        return [r for r in self.alerts.for_lead(lead_id) if r.step == step]


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[TwilioAccount]:
    with TwilioAccount() as server:
        yield server


@pytest.fixture
def twilio(twilio_server: TwilioAccount) -> TwilioAccount:
    """The Twilio stand-in with no requests recorded and nothing scripted."""
    twilio_server.reset()
    return twilio_server


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackWorkspace]:
    with SlackWorkspace() as server:
        yield server


@pytest.fixture
def slack(slack_server: SlackWorkspace) -> SlackWorkspace:
    """The Slack stand-in with no requests recorded, nothing scripted, every channel there."""
    slack_server.reset()
    return slack_server


@pytest.fixture(scope="module")
def ses_v2() -> Iterator[Any]:
    """An SES v2 client on moto with SENDER verified (built once: clients are slow)."""
    with mock_aws():
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        yield boto3.client("sesv2", region_name=REGION)


@pytest.fixture
def rig(twilio: TwilioAccount, slack: SlackWorkspace, ses_v2: Any) -> Rig:
    return Rig(twilio, slack, lambda: ses_v2)


def sent_emails() -> list[Any]:
    """Every email moto's SES has accepted in this module."""
    messages: list[Any] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return messages


def test_twilio_500_then_201_sends_one_sms_after_one_backoff(
    rig: Rig, twilio: TwilioAccount
) -> None:
    lead = rig.capture()
    twilio.fail(1, status=500, message="Internal Server Error")
    rig.at(WARN_AT)

    rig.deliver_timers()

    assert len(twilio.messages) == 2  # the failed request and the accepted one
    (sid,) = twilio.accepted
    record = rig.alert(lead.lead_id, "0:ana:sms")
    assert (record.status, record.attempts, record.provider_id) == ("sent", 2, sid)
    assert record.lateness_s == 0.0  # counted from the first call, not the successful one
    assert rig.sleep.calls == [BACKOFF_S]
    # The accepted SMS carries the status callback that names this alert.
    assert twilio.messages[-1]["StatusCallback"] == (
        f"{PUBLIC_URL}/webhooks/twilio/alert-status/{lead.lead_id}/0:ana:sms"
    )
    # A redelivered timer message and the sweeper after the lease send no second SMS.
    rig.at(WARN_AT + 61)
    on_timer(TimerMessage(lead.lead_id, 0, T0 + timedelta(seconds=WARN_AT)).to_json(), rig.worker)
    sweep(rig.worker)
    assert len(twilio.accepted) == 1


def test_twilio_rate_limit_20429_is_retried_and_sends_one_sms(
    rig: Rig, twilio: TwilioAccount
) -> None:
    lead = rig.capture()
    twilio.fail(1, status=429, code=20429, message="Too Many Requests")
    rig.at(WARN_AT)

    rig.deliver_timers()

    assert (len(twilio.messages), len(twilio.accepted)) == (2, 1)
    record = rig.alert(lead.lead_id, "0:ana:sms")
    assert (record.status, record.attempts, record.provider_id) == ("sent", 2, twilio.accepted[0])
    assert rig.sleep.calls == [BACKOFF_S]


def test_twilio_opted_out_21610_fails_at_once_and_falls_back_to_email(
    rig: Rig, twilio: TwilioAccount, slack: SlackWorkspace
) -> None:
    lead = rig.capture()
    twilio.fail(1, status=400, code=21610, message="Attempt to send to unsubscribed recipient")
    before = len(sent_emails())
    rig.at(WARN_AT)

    rig.deliver_timers()

    assert (len(twilio.messages), twilio.accepted) == (1, [])  # not retried
    failed = rig.alert(lead.lead_id, "0:ana:sms")
    assert (failed.status, failed.attempts, failed.provider_id) == ("failed", 1, None)
    assert failed.error is not None and failed.error.startswith("21610")
    assert rig.sleep.calls == []
    # Slack is in the step already, so the fallback is the next channel not yet tried: email.
    fallback = rig.alert(lead.lead_id, "0:ana:email")
    assert (fallback.status, fallback.fallback_of, fallback.to) == ("sent", "sms", ANA.email)
    (email,) = sent_emails()[before:]
    assert fallback.provider_id == email.id
    assert email.destinations["ToAddresses"] == [ANA.email]
    assert rig.alert(lead.lead_id, "0:ana:slack").status == "sent"
    assert len(slack.posts("UANA")) == 1


def test_slack_429_waits_the_providers_retry_after_and_posts_once(
    rig: Rig, twilio: TwilioAccount, slack: SlackWorkspace
) -> None:
    lead = rig.capture()
    slack.fail(1, error="ratelimited", status=429, retry_after=2)
    rig.at(WARN_AT)

    rig.deliver_timers()

    assert rig.sleep.calls == [2.0]  # Slack's Retry-After, not the service's own backoff
    assert len(slack.posts("UANA")) == 2  # the rate-limited request and the accepted one
    record = rig.alert(lead.lead_id, "0:ana:slack")
    assert (record.status, record.attempts) == ("sent", 2)
    assert record.provider_id is not None and record.provider_id.startswith("DANA:")
    assert len(twilio.accepted) == 1  # the step's SMS went out once, before the Slack DM


def test_slack_channel_not_found_for_the_channel_fails_without_a_retry(
    rig: Rig, slack: SlackWorkspace
) -> None:
    lead = rig.capture()
    slack.missing.add("CSALES")
    rig.climb_to(WARN_AT)
    rig.sleep.calls.clear()
    rig.at(BREACH_AT)

    rig.deliver_timers()

    assert len(slack.posts("CSALES")) == 1  # not retried
    (failed,) = rig.step_alerts(lead.lead_id, 1)  # a channel has no other way to be reached
    assert (failed.key, failed.status, failed.attempts) == ("1:channel:slack", "failed", 1)
    assert failed.error is not None and failed.error.startswith("channel_not_found")
    assert rig.sleep.calls == []
    assert rig.lead(lead.lead_id).next_step == 2


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("TooManyRequestsException", "Maximum sending rate exceeded."),
        ("Throttling", "Maximum sending rate exceeded."),
    ],
)
def test_ses_throttling_is_retried_and_sends_one_email(
    twilio: TwilioAccount, slack: SlackWorkspace, code: str, message: str
) -> None:
    client = boto3.client("sesv2", region_name=REGION)
    rig = Rig(twilio, slack, lambda: client)
    lead = rig.capture()
    rig.climb_to(BREACH_AT)
    rig.sleep.calls.clear()
    rig.at(MANAGER_AT)

    with Stubber(client) as ses:
        ses.add_client_error(
            "send_email", service_error_code=code, service_message=message, http_status_code=400
        )
        to_manager = {"ToAddresses": [DEV.email]}
        expected = {"FromEmailAddress": SENDER, "Destination": to_manager, "Content": ANY}
        ses.add_response("send_email", {"MessageId": "ses-message-1"}, expected)
        rig.deliver_timers()
        ses.assert_no_pending_responses()  # exactly two calls: the throttled one and the send

    record = rig.alert(lead.lead_id, "2:dev:email")
    assert (record.status, record.attempts, record.provider_id) == ("sent", 2, "ses-message-1")
    assert rig.sleep.calls == [BACKOFF_S]


def test_a_worker_killed_after_twilio_took_the_sms_never_sends_it_again(
    rig: Rig, twilio: TwilioAccount, slack: SlackWorkspace
) -> None:
    lead = rig.capture()
    dying = dict(rig.senders)
    dying["sms"] = DiesAfterSending(rig.senders["sms"])
    doomed = replace(rig.worker, senders=lambda _: dying)
    rig.at(WARN_AT)

    with pytest.raises(WorkerKilled):
        rig.deliver_timers(doomed)
    assert len(twilio.accepted) == 1  # Twilio has it; the step was begun, not finished
    assert rig.lead(lead.lead_id).step_attempts == 1
    assert slack.calls("chat.postMessage") == []

    rig.at(WARN_AT + 61)  # the step's lease has run out
    fired = sweep(rig.worker)

    # At most once: the second attempt calls no provider and logs the step as unconfirmed.
    assert fired == 1
    assert len(twilio.messages) == len(twilio.accepted) == 1  # no second SMS
    for key in ("0:ana:sms", "0:ana:slack"):
        unsure = rig.alert(lead.lead_id, key)
        assert (unsure.status, unsure.provider_id, unsure.attempts) == ("unconfirmed", None, 0)
    assert slack.calls("chat.postMessage") == []
    assert rig.lead(lead.lead_id).next_step == 1


def test_duplicate_sqs_deliveries_and_the_sweeper_send_one_sms_and_one_slack_post(
    rig: Rig, twilio: TwilioAccount, slack: SlackWorkspace
) -> None:
    lead = rig.capture()
    rig.timers.scheduled.clear()
    body = TimerMessage(lead.lead_id, 0, T0 + timedelta(seconds=WARN_AT)).to_json()
    rig.at(WARN_AT)

    first = on_timer(body, rig.worker)
    again = on_timer(body, rig.worker)  # SQS standard queues deliver at least once
    swept = sweep(rig.worker)  # the sweeper racing the queue

    assert (first and first.status, again and again.status, swept) == ("fired", "stale", 0)
    assert len(twilio.messages) == len(twilio.accepted) == 1
    assert len(slack.calls("chat.postMessage")) == 1
    assert [(r.key, r.status) for r in rig.step_alerts(lead.lead_id, 0)] == [
        ("0:ana:slack", "sent"),
        ("0:ana:sms", "sent"),
    ]
