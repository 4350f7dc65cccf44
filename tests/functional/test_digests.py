"""GET /digests/preview and the digests schedule, through the app on fakes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.domain.facts import LeadFact
from tests.fakes import MemoryDigestLog
from tests.functional.conftest import Stack, body_of

PREVIEW = "/digests/preview"
# Sunday 22 November 2026, 08:00 in New York: the demo's team digest is due.
SUNDAY_8AM = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
SATURDAY = date(2026, 11, 21)


@pytest.fixture
def saturday(stack: Stack) -> Stack:
    """The demo team on Sunday morning, with two leads from Saturday: one answered in time,
    one breached and still waiting."""
    stack.clock.current = SUNDAY_8AM
    arrived = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    facts = [
        LeadFact(
            "ld_ok",
            arrived,
            "website",
            queue="inbound",
            owner="ana",
            due_at=arrived + timedelta(minutes=5),
            responded_at=arrived + timedelta(minutes=2),
            speed_wall_s=120.0,
            sla_met=True,
        ),
        LeadFact(
            "ld_late",
            arrived,
            "google-ads",
            queue="espanol",
            owner="ben",
            due_at=arrived + timedelta(minutes=5),
        ),
    ]
    stack.store.fact_rows[SATURDAY] = {f.lead_id: f for f in facts}
    return stack


def test_the_preview_needs_the_admin_key(saturday: Stack) -> None:
    assert saturday.api(PREVIEW, key=None).status_code == 401
    assert saturday.api(PREVIEW, key="wrong").status_code == 401


def test_the_preview_is_yesterdays_team_digest_as_html_never_cached(saturday: Stack) -> None:
    response = saturday.api(PREVIEW)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.body.decode()
    assert page.startswith("<!doctype html>")
    assert "Daily digest: Acme Roofing" in page and "Sat 21 Nov 2026" in page
    assert "Breaches (1), most late first" in page and "ld_late" in page


def test_the_preview_shows_a_named_digest_for_a_named_period(saturday: Stack) -> None:
    response = saturday.api(f"{PREVIEW}?team=espanol&period=daily:2026-11-21&format=text")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = response.body.decode()
    assert text.startswith("Daily digest: Acme Roofing (espanol)\nSat 21 Nov 2026")
    assert "Leads in      1" in text  # the espanol queue's lead only


def test_the_preview_of_a_week_covers_the_seven_days_before_the_weekly_day(saturday: Stack) -> None:
    text = saturday.api(f"{PREVIEW}?period=weekly&format=text").body.decode()
    assert text.startswith("Weekly digest: Acme Roofing\nMon 09 Nov \u2013 Sun 15 Nov 2026")


def test_the_preview_gives_the_slack_message_as_json(saturday: Stack) -> None:
    response = saturday.api(f"{PREVIEW}?format=slack")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    message = body_of(response)
    assert message["blocks"][0]["type"] == "header"
    assert "2 leads" in message["text"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=monthly", "period"),
        ("period=daily:2026-02-30", "period"),
        ("period=daily:2026-11-23", "period"),  # not started yet
        ("format=pdf", "format"),
        ("color=red", "color"),
    ],
)
def test_a_bad_preview_request_is_a_400_naming_the_field(
    saturday: Stack, query: str, field: str
) -> None:
    response = saturday.api(f"{PREVIEW}?{query}")
    assert response.status_code == 400
    assert body_of(response)["Field"] == field


def test_an_unknown_digest_is_a_404(saturday: Stack) -> None:
    response = saturday.api(f"{PREVIEW}?team=nobody")
    assert response.status_code == 404 and body_of(response)["Field"] == "team"


def test_the_preview_sends_nothing_and_records_nothing(saturday: Stack) -> None:
    log = MemoryDigestLog()
    wiring.use(dataclasses.replace(wiring.container(), digest_log=log))
    saturday.api(PREVIEW)
    assert log.runs == {} and log.since == {}
    assert all(sender.attempts == [] for sender in saturday.senders.values())


def test_the_schedule_sends_due_digests_once_however_often_it_fires(saturday: Stack) -> None:
    log = MemoryDigestLog()
    wiring.use(dataclasses.replace(wiring.container(), digest_log=log))
    with Client(app) as client:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        client.lambda_.invoke("digests", event)
        client.lambda_.invoke("digests", event)  # EventBridge delivered it twice
    emails = saturday.senders["email"].sent
    assert sorted(d.to for d in emails) == ["carmen@example.com", "gerente@example.com"]
    assert [d.to for d in saturday.senders["slack"].sent] == ["C012LEADS"]
    assert {key: run.status for key, run in log.runs.items()} == {
        ("team", "daily:2026-11-21"): "sent",
        ("espanol", "daily:2026-11-21"): "sent",
    }
