"""The digest schedule: each digest goes out once per period, at its local time, through DST,
catching up after missed runs and retrying failed sends, on fakes with a movable clock."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.domain.facts import LeadFact
from chalicelib.domain.model import Attribution, Lead
from chalicelib.domain.team import DigestConfig, TeamConfig
from chalicelib.ports import AlertRecord, Delivery, DeliveryError, Sent
from chalicelib.services.digests import MAX_ATTEMPTS, Outcome, recipients, send_due
from chalicelib.services.worker import Worker
from chalicelib.team_file import load_team_file
from tests.fakes import (
    FakeClock,
    FakeSleep,
    FakeTimers,
    MemoryDigestLog,
    MemoryLeadStore,
    MemoryRoutingStore,
    RecordingSender,
    RecordingUpdatingSender,
    StaticTeamStore,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = load_team_file(ROOT / "infra" / "team.demo.yaml")  # New York; carmen manages
TEAM_DIGEST = DigestConfig(name="team", to=("carmen",), slack_channel="C012LEADS", daily_at=480)
# Sunday 22 November 2026, 08:00 in New York (EST, UTC-5): Saturday's digest is due.
SUNDAY_8AM = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
SATURDAY = date(2026, 11, 21)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fact(lead_id: str, created_at: datetime, **changes: Any) -> LeadFact:
    """A lead that arrived at `created_at` from the website into the inbound queue."""
    base: dict[str, Any] = {"source": "website", "queue": "inbound", "owner": "ana"}
    return LeadFact(lead_id=lead_id, created_at=created_at, **(base | changes))


class Rig:
    """The digest worker on fakes: a team, facts by day, senders that record, a clock."""

    def __init__(
        self, *digests: DigestConfig, team: TeamConfig = DEMO, start: datetime = SUNDAY_8AM
    ) -> None:
        self.team = dataclasses.replace(team, digests=digests or (TEAM_DIGEST,))
        self.clock = FakeClock(start)
        self.store = MemoryLeadStore()
        self.log = MemoryDigestLog()
        self.email = RecordingSender()
        self.slack = RecordingUpdatingSender()
        self.sleep = FakeSleep(self.clock)
        senders = {"email": self.email, "slack": self.slack, "sms": RecordingSender()}
        self.worker = Worker(
            store=self.store,
            team=StaticTeamStore(self.team),
            routing=MemoryRoutingStore(),
            timers=FakeTimers(),
            alerts=self.store.alert_log,
            senders=lambda _team: senders,
            clock=self.clock,
            sleep=self.sleep,
        )

    def run(self) -> list[Outcome]:
        """One scheduled run, now."""
        return send_due(self.worker, self.log)

    def at(self, when: datetime) -> list[Outcome]:
        """Move the clock to `when` and run."""
        self.clock.current = when
        return self.run()

    def add(self, day: date, *facts: LeadFact) -> None:
        """Facts of leads that arrived on the team's local `day`."""
        for f in facts:
            self.store.fact_rows.setdefault(day, {})[f.lead_id] = f

    def name(self, lead_id: str, name: str, queue: str = "inbound") -> None:
        """A stored lead with a name, as the digest looks leads up."""
        touch = Attribution(source="website", channel="form")
        self.store.leads[lead_id] = Lead(
            lead_id=lead_id,
            created_at=SUNDAY_8AM,
            updated_at=SUNDAY_8AM,
            first_touch=touch,
            last_touch=touch,
            name=name,
            queue=queue,
        )

    def fail(self, record: AlertRecord) -> None:
        """An alert that reached nobody."""
        self.store.alert_log.finish(record)

    def subjects(self) -> list[str]:
        return [d.content.subject for d in self.email.sent]


def test_a_due_digest_goes_to_each_recipients_email_and_to_the_slack_channel() -> None:
    rig = Rig()
    rig.add(SATURDAY, fact("ld_1", utc(2026, 11, 21, 15)))

    outcomes = rig.run()

    assert [(o.period, o.status) for o in outcomes] == [("daily:2026-11-21", "sent")]
    [email] = rig.email.sent
    assert email.channel == "email" and email.to == "carmen@example.com"
    assert "Daily digest: Acme Roofing" in email.content.subject
    assert "Sat 21 Nov 2026" in email.content.subject
    assert email.content.html.startswith("<!doctype html>")
    assert "Leads in      1" in email.content.text
    [post] = rig.slack.sent
    assert post.to == "C012LEADS"
    assert post.content.blocks[0]["type"] == "header"
    run = rig.log.get("team", "daily:2026-11-21")
    assert run is not None and run.status == "sent"
    assert run.done == {"email:carmen@example.com", "slack:C012LEADS"}


def test_nothing_more_goes_out_until_the_next_local_send_time() -> None:
    rig = Rig(start=utc(2026, 11, 22, 9, 0))  # 04:00 in New York: Friday's is the latest due
    assert [o.period for o in rig.run()] == ["daily:2026-11-20"]
    assert rig.at(utc(2026, 11, 22, 12, 59)) == []
    assert [o.period for o in rig.at(SUNDAY_8AM)] == ["daily:2026-11-21"]
    assert len(rig.email.sent) == 2


def test_a_duplicated_schedule_event_sends_the_digest_once() -> None:
    rig = Rig()
    first, again = rig.run(), rig.run()
    assert [o.status for o in first] == ["sent"]
    assert again == []  # the log says it went: not even taken again
    assert len(rig.email.sent) == len(rig.slack.sent) == 1


def test_two_runs_at_the_same_moment_send_the_digest_once() -> None:
    rig = Rig()
    barrier = threading.Barrier(2)
    results: list[list[Outcome]] = []

    def run() -> None:
        barrier.wait()
        results.append(rig.run())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    statuses = sorted(o.status for outcomes in results for o in outcomes)
    assert statuses in (["sent"], ["sent", "skipped"])
    assert len(rig.email.sent) == len(rig.slack.sent) == 1


def test_a_run_that_finds_the_period_taken_by_a_live_run_leaves_it() -> None:
    rig = Rig()
    now = SUNDAY_8AM
    rig.log.first_seen("team", now)
    taken = rig.log.take(
        "team", "daily:2026-11-21", now=now, lease_until=now + timedelta(minutes=15), max_attempts=3
    )
    assert taken is not None
    assert rig.run() == []
    assert rig.email.sent == []
    # The other run died: once its lease is over, a run takes the period over and sends it.
    assert [o.status for o in rig.at(now + timedelta(minutes=16))] == ["sent"]
    assert len(rig.email.sent) == 1


def test_missed_runs_catch_up_on_three_days_oldest_first_and_not_further() -> None:
    rig = Rig()
    rig.run()  # Sunday: Saturday's
    # No run for five days, until Friday 08:00: the last three days' digests go, in order.
    outcomes = rig.at(utc(2026, 11, 27, 13, 0))
    assert [o.period for o in outcomes] == [
        "daily:2026-11-24",
        "daily:2026-11-25",
        "daily:2026-11-26",
    ]
    days = ["Sat 21 Nov", "Tue 24 Nov", "Wed 25 Nov", "Thu 26 Nov"]
    assert [day in subject for day, subject in zip(days, rig.subjects(), strict=True)] == [True] * 4


def test_a_failed_send_is_retried_by_the_next_run_for_that_address_only() -> None:
    rig = Rig()
    rig.slack.fail_next(DeliveryError("Slack 404: channel_not_found", permanent=True, code="x"))

    [first] = rig.run()

    assert first.status == "failed" and first.sent_to == ("email:carmen@example.com",)
    assert first.error is not None and "slack C012LEADS" in first.error
    run = rig.log.get("team", "daily:2026-11-21")
    assert run is not None and run.status == "failed" and run.error == first.error
    [second] = rig.at(SUNDAY_8AM + timedelta(minutes=15))
    assert second.status == "sent" and second.sent_to == ("slack:C012LEADS",)
    assert len(rig.email.sent) == 1 and len(rig.slack.sent) == 1


def test_a_period_that_keeps_failing_is_given_up_after_its_attempts() -> None:
    rig = Rig(dataclasses.replace(TEAM_DIGEST, to=()))
    error = DeliveryError("Slack 404: channel_not_found", permanent=True, code="x")
    rig.slack.fail_next(error, times=100)
    for n in range(MAX_ATTEMPTS + 2):
        rig.at(SUNDAY_8AM + timedelta(minutes=15 * n))
    assert len(rig.slack.attempts) == MAX_ATTEMPTS
    run = rig.log.get("team", "daily:2026-11-21")
    assert run is not None and run.status == "failed" and run.attempts == MAX_ATTEMPTS


def test_a_throttled_provider_is_retried_within_the_run() -> None:
    rig = Rig()
    rig.email.fail_next(DeliveryError("SES Throttling", permanent=False, code="Throttling"))
    [outcome] = rig.run()
    assert outcome.status == "sent"
    assert len(rig.email.attempts) == 2 and rig.sleep.calls == [0.5]


def test_a_digest_is_sent_once_on_a_spring_forward_night_at_a_skipped_time() -> None:
    # 02:30 does not exist in New York on 8 March 2026; the digest goes at 03:30 EDT.
    digest = DigestConfig(name="night", to=("carmen",), daily_at=150)
    rig = Rig(digest, start=utc(2026, 3, 7, 5, 0))
    rig.run()  # first seen: Thursday's, the latest due
    sent_at: dict[str, datetime] = {}
    while rig.clock.now() < utc(2026, 3, 9, 12, 0):
        rig.clock.advance(minutes=15)
        for outcome in rig.run():
            assert outcome.period not in sent_at, f"{outcome.period} sent twice"
            sent_at[outcome.period] = rig.clock.now()
    assert sent_at == {
        "daily:2026-03-06": utc(2026, 3, 7, 7, 30),  # 02:30 EST
        "daily:2026-03-07": utc(2026, 3, 8, 7, 30),  # 03:30 EDT: the skipped 02:30
        "daily:2026-03-08": utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    }


def test_a_digest_is_sent_once_on_a_fall_back_night_at_a_time_shown_twice() -> None:
    digest = DigestConfig(name="night", to=("carmen",), daily_at=90)
    rig = Rig(digest, start=utc(2026, 10, 31, 12, 0))
    rig.run()
    sent_at: dict[str, datetime] = {}
    while rig.clock.now() < utc(2026, 11, 1, 12, 0):
        rig.clock.advance(minutes=15)
        for outcome in rig.run():
            sent_at[outcome.period] = rig.clock.now()
    assert sent_at == {"daily:2026-10-31": utc(2026, 11, 1, 5, 30)}  # the first 01:30 (EDT)


def test_each_team_zone_gets_its_digest_at_its_own_local_time() -> None:
    kathmandu = dataclasses.replace(DEMO, timezone="Asia/Kathmandu")
    rig = Rig(team=kathmandu, start=utc(2026, 11, 21, 3, 0))
    rig.run()
    sent_at = {}
    while rig.clock.now() < utc(2026, 11, 22, 3, 0):
        rig.clock.advance(minutes=15)
        for outcome in rig.run():
            sent_at[outcome.period] = rig.clock.now()
    assert sent_at == {"daily:2026-11-21": utc(2026, 11, 22, 2, 15)}  # 08:00 at +05:45


def test_weekly_and_daily_digests_due_together_are_two_records() -> None:
    weekly = dataclasses.replace(TEAM_DIGEST, weekly_on="mon", weekly_at=480, slack_channel=None)
    rig = Rig(weekly, start=utc(2026, 11, 23, 13, 0))  # Monday 08:00
    outcomes = rig.run()
    assert [o.period for o in outcomes] == ["daily:2026-11-22", "weekly:2026-11-16"]
    assert "Weekly digest" in rig.subjects()[1]
    assert "Mon 16 Nov" in rig.subjects()[1] and "Sun 22 Nov 2026" in rig.subjects()[1]


def test_a_queue_digest_counts_only_that_queues_leads() -> None:
    espanol = DigestConfig(
        name="espanol", to=("gerente@example.com",), daily_at=480, queues=("espanol",)
    )
    rig = Rig(espanol)
    rig.add(
        SATURDAY,
        fact("ld_1", utc(2026, 11, 21, 15), queue="espanol"),
        fact("ld_2", utc(2026, 11, 21, 16)),
        fact("ld_3", utc(2026, 11, 21, 17)),
    )
    rig.run()
    [email] = rig.email.sent
    assert email.to == "gerente@example.com"
    assert "1 lead, 0 breaches" in email.content.subject and "(espanol)" in email.content.subject


def test_a_rep_who_lost_their_email_since_is_left_out_and_the_rest_still_get_it() -> None:
    team = dataclasses.replace(
        DEMO,
        reps=tuple(dataclasses.replace(r, email=None) if r.id == "ana" else r for r in DEMO.reps),
    )
    rig = Rig(dataclasses.replace(TEAM_DIGEST, to=("ana", "carmen")), team=team)
    [outcome] = rig.run()
    assert outcome.status == "sent"
    assert [d.to for d in rig.email.sent] == ["carmen@example.com"]


def test_a_team_without_digests_sends_nothing() -> None:
    rig = Rig()
    rig.worker = dataclasses.replace(rig.worker, team=StaticTeamStore(TeamConfig(name="Solo")))
    assert rig.run() == []
    assert rig.email.sent == [] and rig.log.runs == {}


def test_a_rep_and_their_own_address_in_to_get_one_email() -> None:
    digest = dataclasses.replace(TEAM_DIGEST, to=("carmen", "carmen@example.com", "boss@x.com"))
    assert recipients(DEMO, digest) == [
        ("email", "carmen@example.com"),
        ("email", "boss@x.com"),
        ("slack", "C012LEADS"),
    ]


class SlowSender(RecordingSender):
    """A provider that takes `seconds` of the (fake) clock per send."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock = clock
        self.seconds = seconds

    def send(self, delivery: Delivery) -> Sent:
        self.clock.advance(seconds=self.seconds)
        return super().send(delivery)


def test_a_run_starts_no_period_past_its_time_budget_and_the_next_run_goes_on() -> None:
    rig = Rig(dataclasses.replace(TEAM_DIGEST, slack_channel=None))
    rig.run()
    slow = SlowSender(rig.clock, 25)
    rig.worker = dataclasses.replace(rig.worker, senders=lambda _team: {"email": slow})
    first = rig.at(utc(2026, 11, 25, 13, 0))  # three days due; each send takes 25 s
    assert [o.period for o in first] == ["daily:2026-11-22", "daily:2026-11-23"]
    second = rig.at(rig.clock.now() + timedelta(minutes=15))
    assert [o.period for o in second] == ["daily:2026-11-24"]
