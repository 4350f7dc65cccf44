"""The escalation ladder on fakes, with a movable clock: what fires when, to whom, on which
channel, exactly once; retries, fallbacks, quiet hours, claims and responses."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.capture import Capture
from chalicelib.domain.inbound import form_capture
from chalicelib.domain.model import Contact, FormSubmission, Lead
from chalicelib.domain.sla import UNASSIGNED, LadderStep, SlaPolicy, TimerMessage
from chalicelib.domain.team import Member, QueueConfig, RepConfig, SourceConfig, TeamConfig
from chalicelib.ports import AlertRecord, DeliveryError
from chalicelib.services.assignment import Assigner
from chalicelib.services.delivery import send_held
from chalicelib.services.escalation import fire, on_timer, sweep
from chalicelib.services.landing import accept
from chalicelib.services.responses import claim, record_event
from chalicelib.services.worker import Worker
from tests.fakes import (
    T0,
    FakeClock,
    FakeSleep,
    FakeTimers,
    MemoryLeadStore,
    RecordingSender,
    RecordingUpdatingSender,
    StaticTeamStore,
)

# T0 is Monday 2026-11-02 14:00 UTC; every rep here works around the clock.
ANA = RepConfig("ana", "Ana", phone="+14155550131", email="ana@example.com", slack_user_id="UANA")
BEN = RepConfig("ben", "Ben", phone="+14155550132", email="ben@example.com", slack_user_id="UBEN")
DEV = RepConfig("dev", "Dev", phone="+14155550136", email="dev@example.com")
WEBSITE = SourceConfig(name="website", auth_scheme="token", secret_ref="env:X")
POLICY = SlaPolicy(
    name="standard",
    target_s=300,
    steps=(
        LadderStep("warn", -120, ("owner",), ("sms", "slack")),
        LadderStep("breach", 0, ("owner", "channel"), ("slack",)),
        LadderStep("reassign", 180, ("owner",), ("sms",), reassign=True),
        LadderStep("manager", 600, ("manager",), ("sms", "email")),
    ),
    repeat_every_s=900,
    repeat_times=1,
    claim_grace_s=600,
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
    reps=(ANA, BEN, DEV),
    queues=(SALES,),
    default_queue="sales",
    sources=(WEBSITE,),
    sla_policies=(POLICY,),
)


def form(event: str, email: str = "pat@example.com") -> Capture:
    """A website form lead."""
    sub = FormSubmission(contact=Contact(name="Pat Doe", email=email))
    capture, _ = form_capture(WEBSITE, sub, provider_id=event, default_region="US")
    return capture


class Rig:
    """The worker's ports as fakes, and a way to capture leads into them."""

    def __init__(self, team: TeamConfig = TEAM) -> None:
        self.clock = FakeClock()
        self.store = MemoryLeadStore()
        self.team = StaticTeamStore(team)
        self.timers = FakeTimers()
        self.alerts = self.store.alert_log  # where finish_step logs a step's alerts
        self.sms, self.email = RecordingSender(), RecordingSender()
        self.slack = RecordingUpdatingSender()
        self.sleep = FakeSleep(self.clock)
        senders: dict[str, Any] = {"sms": self.sms, "slack": self.slack, "email": self.email}
        self.worker = Worker(
            store=self.store,
            team=self.team,
            routing=self.store.routing,
            timers=self.timers,
            alerts=self.alerts,
            senders=lambda _: senders,
            clock=self.clock,
            sleep=self.sleep,
            public_url="https://leads.example.test",
        )

    def capture(self, event: str = "e1", email: str = "pat@example.com") -> Lead:
        assigner = Assigner(
            team=self.team, routing=self.store.routing, clock=self.clock, timers=self.timers
        )
        landed = accept(form(event, email), store=self.store, clock=self.clock, assigner=assigner)
        assert landed.lead_id is not None
        return self.lead(landed.lead_id)

    def lead(self, lead_id: str) -> Lead:
        found = self.store.get_lead(lead_id)
        assert found is not None
        return found

    def at(self, seconds_after_capture: float) -> None:
        self.clock.current = T0 + timedelta(seconds=seconds_after_capture)

    def deliver_timers(self) -> list[Any]:
        """Hand every scheduled timer that is due to the worker, like the SQS consumer."""
        fired = []
        due = [t for t in self.timers.scheduled if t[2] <= self.clock.now()]
        self.timers.scheduled = [t for t in self.timers.scheduled if t not in due]
        for lead_id, step, at in due:
            fired.append(on_timer(TimerMessage(lead_id, step, at).to_json(), self.worker))
        return fired

    def sent_to(self) -> list[tuple[str, str]]:
        return [(r.channel, r.recipient) for r in self._records() if r.status == "sent"]

    def _records(self) -> list[AlertRecord]:
        return list(self.alerts.records.values())  # in the order they were first logged


def test_capture_starts_the_clock_and_schedules_the_first_step() -> None:
    rig = Rig()

    lead = rig.capture()

    assert (lead.owner, lead.sla_policy) == ("ana", "standard")
    assert lead.sla_due_at == T0 + timedelta(minutes=5)
    assert (lead.next_step, lead.next_step_at) == (0, T0 + timedelta(minutes=3))
    assert rig.timers.scheduled == [(lead.lead_id, 0, T0 + timedelta(minutes=3))]


def test_the_ladder_climbs_step_by_step_with_the_right_people_and_channels() -> None:
    rig = Rig()
    lead = rig.capture()

    rig.at(180)
    rig.deliver_timers()
    assert rig.sent_to() == [("sms", "ana"), ("slack", "ana")]
    rig.at(300)
    rig.deliver_timers()
    assert rig.sent_to()[2:] == [("slack", "ana"), ("slack", "channel")]
    rig.at(480)
    rig.deliver_timers()
    moved = rig.lead(lead.lead_id)
    assert (moved.owner, moved.previous_owners) == ("ben", ("ana",))
    assert rig.sent_to()[4:] == [("sms", "ben")]
    rig.at(900)
    rig.deliver_timers()
    assert rig.sent_to()[5:] == [("sms", "dev"), ("email", "dev")]
    rig.at(1800)
    rig.deliver_timers()
    assert rig.sent_to()[7:] == [("sms", "dev"), ("email", "dev")]  # the one repeat
    done = rig.lead(lead.lead_id)
    assert (done.next_step, done.next_step_at, rig.timers.scheduled) == (None, None, [])


def test_reassignment_by_the_ladder_keeps_the_clock() -> None:
    rig = Rig()
    lead = rig.capture()
    for t in (180, 300, 480):
        rig.at(t)
        rig.deliver_timers()
    moved = rig.lead(lead.lead_id)
    assert moved.owner == "ben"
    assert (moved.sla_due_at, moved.created_at) == (lead.sla_due_at, lead.created_at)


def test_an_early_timer_message_is_sent_again_for_the_remaining_time() -> None:
    rig = Rig()
    lead = rig.capture()
    message = TimerMessage(lead.lead_id, 0, T0 + timedelta(minutes=3)).to_json()
    rig.timers.scheduled.clear()

    rig.at(60)
    on_timer(message, rig.worker)

    assert rig.sent_to() == []
    assert rig.timers.scheduled == [(lead.lead_id, 0, T0 + timedelta(minutes=3))]


def test_a_message_a_fraction_of_a_second_early_waits_it_out_and_fires() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(179.4)

    on_timer(TimerMessage(lead.lead_id, 0, T0 + timedelta(minutes=3)).to_json(), rig.worker)

    assert len(rig.sleep.calls) == 1 and abs(rig.sleep.total - 0.6) < 1e-6
    assert rig.sent_to() == [("sms", "ana"), ("slack", "ana")]


def test_duplicate_deliveries_and_the_sweeper_racing_the_queue_alert_once() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(180)
    body = TimerMessage(lead.lead_id, 0, T0 + timedelta(minutes=3)).to_json()

    on_timer(body, rig.worker)
    on_timer(body, rig.worker)
    sweep(rig.worker)

    assert rig.sent_to() == [("sms", "ana"), ("slack", "ana")]
    assert len(rig.sms.sent) == 1


def test_a_lost_timer_message_is_fired_by_the_sweeper() -> None:
    rig = Rig()
    rig.timers.fail_next = ConnectionError("queue unreachable")
    lead = rig.capture()
    assert rig.timers.scheduled == []  # the send failed after the lead was stored
    rig.at(181)

    fired = sweep(rig.worker)

    assert fired == 1
    assert rig.sent_to() == [("sms", "ana"), ("slack", "ana")]
    assert rig.lead(lead.lead_id).next_step == 1


def test_an_answered_lead_fires_nothing_more() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(100)
    record_event(lead.lead_id, kind="contacted", by="ana", at=None, worker=rig.worker)
    rig.at(180)

    rig.deliver_timers()
    sweep(rig.worker)

    assert rig.sent_to() == []
    stopped = rig.lead(lead.lead_id)
    assert (stopped.speed_wall_s, stopped.sla_met, stopped.next_step) == (100.0, True, None)
    assert stopped.first_response_by == "ana"


def test_a_late_response_is_recorded_as_a_breach_with_its_speed() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(420)

    record_event(lead.lead_id, kind="contacted", by="ana", at=None, worker=rig.worker)

    stopped = rig.lead(lead.lead_id)
    assert (stopped.speed_wall_s, stopped.speed_business_s, stopped.sla_met) == (420, 420, False)


def test_a_claim_pauses_escalation_for_the_grace_period_and_not_the_clock() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(170)
    claim(lead.lead_id, by="ana", worker=rig.worker)

    rig.at(180)
    rig.deliver_timers()
    assert rig.sent_to() == []
    claimed = rig.lead(lead.lead_id)
    assert claimed.sla_due_at == lead.sla_due_at
    assert claimed.next_step_at == T0 + timedelta(seconds=170 + 600)

    rig.at(770)
    rig.deliver_timers()
    assert rig.sent_to() == [("sms", "ana"), ("slack", "ana")]


def test_a_second_claim_by_the_same_rep_inside_the_grace_changes_nothing() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(10)
    first = claim(lead.lead_id, by="ana", worker=rig.worker)
    rig.at(20)

    again = claim(lead.lead_id, by="ana", worker=rig.worker)

    assert again.claimed_at == first.claimed_at
    kinds = [t.kind for t in rig.store.touchpoints(lead.lead_id)]
    assert kinds.count("claimed") == 1


def test_transient_sms_errors_are_retried_with_backoff_and_send_once() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.sms.fail_next(DeliveryError("500", permanent=False, code="500"))
    rig.at(180)

    rig.deliver_timers()

    record = rig.alerts.get(lead.lead_id, "0:ana:sms")
    assert record is not None
    assert (record.status, record.attempts, len(rig.sms.sent)) == ("sent", 2, 1)
    assert rig.sleep.calls == [0.5]
    assert record.lateness_s == 0.0


def test_a_slack_rate_limit_waits_for_retry_after() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.slack.fail_next(DeliveryError("ratelimited", permanent=False, code="429", retry_after=3))
    rig.at(180)

    rig.deliver_timers()

    record = rig.alerts.get(lead.lead_id, "0:ana:slack")
    assert record is not None and (record.status, record.attempts) == ("sent", 2)
    assert 3 in rig.sleep.calls


def test_a_permanent_error_falls_back_to_the_recipients_next_channel() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.sms.fail_next(DeliveryError("opted out", permanent=True, code="21610"))
    rig.at(180)

    rig.deliver_timers()

    failed = rig.alerts.get(lead.lead_id, "0:ana:sms")
    assert failed is not None and (failed.status, failed.attempts) == ("failed", 1)
    assert failed.error is not None and "21610" in failed.error
    # Slack was in the step already; the fallback is the next channel not yet tried: email.
    fallback = rig.alerts.get(lead.lead_id, "0:ana:email")
    assert fallback is not None and (fallback.status, fallback.fallback_of) == ("sent", "sms")


def test_a_worker_that_died_after_the_provider_call_never_sends_twice() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(180)

    class Crash(Exception):
        pass

    original = rig.sms.send

    def send_then_die(delivery: Any) -> Any:
        original(delivery)
        raise Crash()  # the provider took it; the worker dies before recording that

    rig.sms.send = send_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        fire(lead.lead_id, 0, rig.worker)
    rig.sms.send = original  # type: ignore[method-assign]
    assert len(rig.sms.sent) == 1

    rig.at(180 + 61)  # the step's lease has run out: the sweeper takes it up again
    sweep(rig.worker)

    # At most once: the second attempt sends nothing (the first may have reached a provider)
    # and says so in the log, then the ladder goes on.
    assert (len(rig.sms.sent), len(rig.slack.sent)) == (1, 0)
    for key in ("0:ana:sms", "0:ana:slack"):
        unsure = rig.alerts.get(lead.lead_id, key)
        assert unsure is not None and unsure.status == "unconfirmed"
    assert rig.lead(lead.lead_id).next_step == 1
    rig.at(300)
    rig.deliver_timers()
    assert len(rig.slack.sent) == 2  # the breach step: the owner and the channel


def test_an_unassigned_lead_alerts_the_manager_at_once() -> None:
    nobody = replace(SALES, members=(Member("ana"),))
    paused = replace(ANA, status="paused")
    rig = Rig(replace(TEAM, queues=(nobody,), reps=(paused, BEN, DEV)))

    lead = rig.capture()
    assert lead.owner is None
    assert rig.timers.scheduled == [(lead.lead_id, UNASSIGNED, T0)]
    rig.deliver_timers()

    assert rig.sent_to() == [("sms", "dev"), ("email", "dev")]  # dev has no Slack id
    assert rig.lead(lead.lead_id).next_step == 0


def test_sms_in_quiet_hours_goes_by_email_instead() -> None:
    # 14:00 UTC is 09:00 in New York; Ana's quiet hours run 22:00-10:00 there.
    quiet = replace(ANA, timezone="America/New_York", quiet_hours=(1320, 600))
    rig = Rig(replace(TEAM, reps=(quiet, BEN, DEV)))
    lead = rig.capture()
    rig.at(180)

    rig.deliver_timers()

    assert rig.sent_to() == [("email", "ana"), ("slack", "ana")]
    assert rig.sms.sent == []
    email = rig.alerts.get(lead.lead_id, "0:ana:email")
    assert email is not None and email.fallback_of == "sms"


def test_sms_in_quiet_hours_is_held_when_the_rep_prefers() -> None:
    quiet = replace(ANA, timezone="America/New_York", quiet_hours=(1320, 600), quiet_sms="hold")
    rig = Rig(replace(TEAM, reps=(quiet, BEN, DEV)))
    lead = rig.capture()
    rig.at(180)

    rig.deliver_timers()

    held = rig.alerts.get(lead.lead_id, "0:ana:sms")
    assert held is not None and held.status == "held"
    assert held.due_at == T0 + timedelta(hours=1)  # 10:00 in New York
    assert rig.sms.sent == []


def test_a_held_sms_goes_out_when_quiet_hours_end_and_only_once() -> None:
    quiet = replace(ANA, timezone="America/New_York", quiet_hours=(1320, 600), quiet_sms="hold")
    rig = Rig(replace(TEAM, reps=(quiet, BEN, DEV)))
    lead = rig.capture()
    rig.at(180)
    rig.deliver_timers()

    rig.at(3599)
    send_held(rig.worker)
    assert rig.sms.sent == []
    rig.at(3630)
    send_held(rig.worker)
    send_held(rig.worker)  # a second sweeper, or the next minute's

    assert len(rig.sms.sent) == 1
    sent = rig.alerts.get(lead.lead_id, "0:ana:sms")
    assert sent is not None and (sent.status, sent.lateness_s) == ("sent", 30.0)


def test_a_held_sms_for_a_lead_answered_meanwhile_is_cancelled() -> None:
    quiet = replace(ANA, timezone="America/New_York", quiet_hours=(1320, 600), quiet_sms="hold")
    rig = Rig(replace(TEAM, reps=(quiet, BEN, DEV)))
    lead = rig.capture()
    rig.at(180)
    rig.deliver_timers()
    record_event(lead.lead_id, kind="contacted", by="ana", at=None, worker=rig.worker)

    rig.at(3700)
    sweep(rig.worker)

    assert rig.sms.sent == []
    held = rig.alerts.get(lead.lead_id, "0:ana:sms")
    assert held is not None and held.status == "cancelled"


def test_claiming_marks_the_slack_alerts_and_removes_their_buttons() -> None:
    rig = Rig()
    lead = rig.capture()
    rig.at(180)
    rig.deliver_timers()

    claim(lead.lead_id, by="ana", worker=rig.worker)

    assert [ref for ref, _ in rig.slack.updates] == ["slack-1"]
    content = rig.slack.updates[0][1]
    assert "Claimed by Ana" in content.text
    assert all(block.get("type") != "actions" for block in content.blocks)


def test_a_lead_outside_business_hours_starts_its_clock_at_the_next_opening() -> None:
    from chalicelib.domain.calendar import Calendar

    # T0 is Monday 09:00 in New York; the office opens at 10:00 and closes 12:00-13:00.
    office = Calendar(
        "office",
        timezone="America/New_York",
        hours={d: ((600, 720), (780, 1020)) for d in ("mon", "tue", "wed", "thu", "fri")},
    )
    policy = replace(POLICY, calendar="office", target_s=2 * 3600 + 300)
    rig = Rig(replace(TEAM, calendars=(office,), sla_policies=(policy,)))

    lead = rig.capture()

    # 10:00-12:00 counts two hours; lunch does not count; the last 5 minutes run 13:00-13:05.
    assert lead.clock_started_at == T0 + timedelta(hours=1)
    assert lead.sla_due_at == T0 + timedelta(hours=4, minutes=5)
    rig.at(4 * 3600 + 5 * 60 + 60)
    record_event(lead.lead_id, kind="contacted", by="ana", at=None, worker=rig.worker)
    answered = rig.lead(lead.lead_id)
    assert (answered.speed_wall_s, answered.speed_business_s) == (4 * 3600 + 360, 2 * 3600 + 360)
    assert answered.sla_met is False


def test_a_held_sms_for_a_lead_reassigned_meanwhile_is_cancelled() -> None:
    quiet = replace(ANA, timezone="America/New_York", quiet_hours=(1320, 600), quiet_sms="hold")
    rig = Rig(replace(TEAM, reps=(quiet, BEN, DEV)))
    lead = rig.capture()
    rig.at(180)
    rig.deliver_timers()

    rig.at(3630)
    while rig.deliver_timers():  # the ladder catches up: its reassign step moves the lead
        pass
    send_held(rig.worker)

    assert rig.lead(lead.lead_id).owner == "ben"
    held = rig.alerts.get(lead.lead_id, "0:ana:sms")
    assert held is not None and (held.status, held.error) == ("cancelled", "no longer a recipient")
    assert all(d.to != ANA.phone for d in rig.sms.sent)


def test_a_sweep_starts_no_step_after_its_time_budget_and_the_next_sweep_carries_on() -> None:
    rig = Rig()
    leads = [rig.capture(f"e{i}", email=f"p{i}@example.com") for i in range(3)]
    rig.timers.scheduled.clear()  # every message lost: the sweeper is the only timer
    rig.at(181)
    original = rig.sms.send

    def slow_send(delivery: Any) -> Any:
        rig.clock.advance(seconds=25)  # a provider taking its time
        return original(delivery)

    rig.sms.send = slow_send  # type: ignore[method-assign]

    first = sweep(rig.worker)

    assert first == 2  # 25 s, 50 s: the third lead's step is not started past 40 s
    assert [rig.lead(x.lead_id).next_step for x in leads].count(1) == 2
    assert sweep(rig.worker) == 1
    assert all(rig.lead(x.lead_id).next_step == 1 for x in leads)
