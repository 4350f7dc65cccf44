"""What a digest says, in each of its forms: the numbers and lists, comparisons with the period
before, and HTML, text and Slack Block Kit that mail clients and Slack accept."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from chalicelib.domain.digest_periods import Period
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.team import DigestConfig
from chalicelib.ports import AlertRecord
from chalicelib.services import digest_render
from chalicelib.services.digests import Report, build, preview
from tests.unit.test_digest_sending import SATURDAY, SUNDAY_8AM, TEAM_DIGEST, Rig, fact, utc

FRIDAY = SATURDAY - timedelta(days=1)
DAY = Period("daily", SATURDAY)


def sat(hour: int, minute: int = 0) -> datetime:
    """An instant on Saturday 21 November (UTC; New York is 5 hours behind)."""
    return utc(2026, 11, 21, hour, minute)


def answered(lead_id: str, hour: int, speed_s: float, **changes: Any) -> LeadFact:
    """A lead answered `speed_s` after arriving, with a 5-minute SLA."""
    arrived = utc(2026, 11, 21, hour)
    return fact(
        lead_id,
        arrived,
        due_at=arrived + timedelta(minutes=5),
        responded_at=arrived + timedelta(seconds=speed_s),
        speed_wall_s=speed_s,
        sla_met=speed_s <= 300,
        **changes,
    )


def unanswered(lead_id: str, hour: int, **changes: Any) -> LeadFact:
    arrived = utc(2026, 11, 21, hour)
    return fact(lead_id, arrived, due_at=arrived + timedelta(minutes=5), **changes)


def report(rig: Rig, digest: DigestConfig = TEAM_DIGEST, period: Period = DAY) -> Report:
    return build(
        rig.team,
        digest,
        period,
        store=rig.store,
        alerts=rig.store.alert_log,
        now=SUNDAY_8AM,
    )


def busy_saturday() -> Rig:
    rig = Rig()
    rig.add(
        SATURDAY,
        answered("ld_fast", 14, 120, stage="sql"),
        answered("ld_late", 15, 900, owner="ben", claimed_by="ben"),
        unanswered("ld_waiting", 16, owner="carmen", source="google-ads"),
        unanswered("ld_nobody", 17, owner=None, source="typeform"),
        answered("ld_won", 18, 60, stage="won", source="google-ads", claimed_by="ana"),
    )
    rig.add(
        FRIDAY,
        fact(
            "ld_fri",
            utc(2026, 11, 20, 15),
            due_at=utc(2026, 11, 20, 15, 5),
            responded_at=utc(2026, 11, 20, 15, 1),
            speed_wall_s=60.0,
            sla_met=True,
        ),
    )
    rig.name("ld_late", "Jane Doe")
    rig.name("ld_waiting", "Bob Builder")
    rig.name("ld_nobody", "Zoe Kim")
    return rig


def test_the_breach_list_puts_the_latest_first_and_says_who_owns_it_and_if_answered_since() -> None:
    r = report(busy_saturday())
    assert [(b.lead_id, b.contacted) for b in r.tables.breaches] == [
        ("ld_waiting", False),  # 20h 55m late and counting
        ("ld_nobody", False),  # 19h 55m
        ("ld_late", True),  # 10m late, answered
    ]
    text = digest_render.text(r)
    breaches = text.split("Breaches (3), most late first\n")[1].split("\n\n")[0].splitlines()
    assert breaches == [
        "  Bob Builder · google-ads · Carmen Vega · 20h 55m late · NOT contacted",
        "  Zoe Kim · typeform · Unassigned · 19h 55m late · NOT contacted",
        "  Jane Doe · website · Ben Okafor · 10m 00s late · contacted since",
    ]


def test_headline_numbers_are_compared_with_the_period_before() -> None:
    r = report(busy_saturday())
    got = {label: (value, change, tone) for label, value, change, tone in digest_render.kpis(r)}
    assert got["Leads in"] == ("5", "▲ 4 (from 1)", "flat")
    assert got["Within SLA"] == ("40%", "▼ 60 pts (from 100%)", "bad")
    assert got["Median speed"] == ("2m 00s", "▲ 1m 00s (from 1m 00s)", "bad")
    assert got["p90 speed"] == ("15m 00s", "▲ 14m 00s (from 1m 00s)", "bad")
    assert got["Breaches"] == ("3", "▲ 3 (from 0)", "bad")
    assert got["Unassigned"] == ("1", "▲ 1 (from 0)", "bad")


def test_getting_faster_and_breaching_less_reads_as_good_news() -> None:
    rig = Rig()
    rig.add(
        FRIDAY,
        fact(
            "ld_f",
            utc(2026, 11, 20, 15),
            due_at=utc(2026, 11, 20, 15, 5),
            speed_wall_s=600.0,
            responded_at=utc(2026, 11, 20, 15, 10),
            sla_met=False,
        ),
    )
    rig.add(SATURDAY, answered("ld_s", 15, 90))
    got = {label: (change, tone) for label, _, change, tone in digest_render.kpis(report(rig))}
    assert got["Median speed"] == ("▼ 8m 30s (from 10m 00s)", "good")
    assert got["Within SLA"] == ("▲ 100 pts (from 0%)", "good")
    assert got["Breaches"] == ("▼ 1 (from 1)", "good")


def test_an_unchanged_number_says_so_and_an_empty_period_has_no_rates() -> None:
    r = report(Rig())
    got = {label: (value, change) for label, value, change, _ in digest_render.kpis(r)}
    assert got["Leads in"] == ("0", "= 0")
    assert got["Within SLA"] == ("-", "")
    assert got["Median speed"] == ("-", "")
    assert "No SLA breaches." in digest_render.html(r)
    assert "Breaches (0), most late first\n  none" in digest_render.text(r)


def test_the_rep_table_credits_owners_with_leads_and_claimers_with_claims() -> None:
    r = report(busy_saturday())
    lines = {line.rep: line for line in r.tables.reps}
    assert (lines["ana"].leads, lines["ana"].claims, lines["ana"].breaches) == (2, 1, 0)
    assert (lines["ben"].leads, lines["ben"].claims, lines["ben"].median_response_s) == (1, 1, 900)
    text = digest_render.text(r)
    assert "  Ana Ruiz: 2 leads, median 1m 30s, 0 breaches, 1 claim" in text
    assert "  Unassigned: 1 lead, median -, 1 breach, 0 claims" in text


def test_the_source_table_gives_sla_and_conversion_to_sql_and_won() -> None:
    text = digest_render.text(report(busy_saturday()))
    assert "  website: 2 leads, 50% in SLA, 50% to SQL, 0% won" in text
    assert "  google-ads: 2 leads, 50% in SLA, 50% to SQL, 50% won" in text
    assert "  typeform: 1 lead, 0% in SLA, 0% to SQL, 0% won" in text


def test_unassigned_leads_and_alerts_that_failed_during_the_period_are_listed() -> None:
    rig = busy_saturday()

    def alert(key: str, at: datetime, status: str = "failed") -> AlertRecord:
        return AlertRecord(
            lead_id="ld_waiting",
            key=key,
            step=1,
            step_name="breach",
            recipient="carmen",
            channel="sms",
            to="+14155550135",
            status=status,
            due_at=at,
            created_at=at,
            error="21610: opted out" if status == "failed" else None,
        )

    rig.fail(alert("1:carmen:sms", sat(16, 5)))
    rig.fail(alert("2:carmen:sms", sat(16, 10), status="undelivered"))
    rig.fail(alert("3:carmen:sms", utc(2026, 11, 22, 5, 1)))  # Sunday 00:01 local: not Saturday's
    rig.fail(alert("4:carmen:sms", utc(2026, 11, 21, 4, 59)))  # Friday 23:59 local
    r = report(rig)
    assert [a.key for a in r.failed_alerts] == ["2:carmen:sms", "1:carmen:sms"]
    assert [f.lead_id for f in r.unassigned] == ["ld_nobody"]
    text = digest_render.text(r)
    assert "Unassigned leads (1)\n  Zoe Kim · typeform · Sat 12:00" in text
    assert "Alerts that reached nobody (2)" in text
    assert "Carmen Vega · sms · Sat 11:05 · 21610: opted out" in text


def test_a_queue_digest_lists_only_failed_alerts_about_its_queues_leads() -> None:
    rig = busy_saturday()
    rig.name("ld_es", "Ana Lopez", queue="espanol")
    for lead_id in ("ld_es", "ld_waiting"):
        rig.fail(
            AlertRecord(
                lead_id,
                "1:ana:sms",
                1,
                "breach",
                "ana",
                "sms",
                "+14155550131",
                "failed",
                sat(16),
                sat(16),
            )
        )
    espanol = DigestConfig(name="espanol", to=("carmen",), daily_at=480, queues=("espanol",))
    assert [a.lead_id for a in report(rig, espanol).failed_alerts] == ["ld_es"]


def test_the_hour_chart_groups_leads_by_their_local_hour_of_arrival() -> None:
    r = report(busy_saturday())
    assert [(h.hour, h.leads, h.breaches, h.median_s) for h in r.by_hour] == [
        (9, 1, 0, 120),
        (10, 1, 1, 900),
        (11, 1, 1, None),
        (12, 1, 1, None),
        (13, 1, 0, 60),
    ]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def test_the_email_html_uses_inline_styles_only_and_escapes_what_leads_typed() -> None:
    rig = busy_saturday()
    rig.name("ld_waiting", '<script>alert("x")</script> & Co')
    page = digest_render.html(report(rig))
    parser = _Tags()
    parser.feed(page)
    assert not {"style", "link", "script", "img", "svg", "iframe"} & set(parser.tags)
    assert "class" not in parser.attributes and "id" not in parser.attributes
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    assert "max-width:600px" in page  # one column that fits a phone
    assert re.search(r'<td width="\d+%" height="10" bgcolor="#1a73e8"', page)  # the bars


def test_the_email_carries_a_subject_an_html_part_and_a_text_part() -> None:
    content = digest_render.email(report(busy_saturday()))
    assert content.subject == (
        "[leadclock] Daily digest: Acme Roofing, Sat 21 Nov 2026: "
        "5 leads, 3 breaches, 40% within SLA"
    )
    assert content.text.startswith("Daily digest: Acme Roofing\nSat 21 Nov 2026, compared with")
    assert "<html" in content.html and "<html" not in content.text


def test_a_named_digest_and_a_week_are_titled_as_such() -> None:
    rig = Rig()
    espanol = DigestConfig(name="espanol", to=("carmen",), weekly_on="mon", queues=("espanol",))
    r = report(rig, espanol, Period("weekly", date(2026, 11, 16)))
    assert digest_render.title(r) == "Weekly digest: Acme Roofing (espanol)"
    assert digest_render.period_label(r) == "Mon 16 Nov \u2013 Sun 22 Nov 2026"
    assert "queues: espanol" in digest_render.html(r)


def _slack_problems(blocks: list[dict[str, object]]) -> list[str]:
    """Where the message breaks Slack's documented limits."""
    problems = []
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks")
    for i, block in enumerate(blocks):
        text = block.get("text")
        if isinstance(text, dict):
            limit = 150 if block["type"] == "header" else 3000
            if len(text["text"]) > limit:
                problems.append(f"block {i}: text of {len(text['text'])}")
        fields = block.get("fields")
        if isinstance(fields, list):
            if len(fields) > 10:
                problems.append(f"block {i}: {len(fields)} fields")
            problems += [f"block {i}: long field" for f in fields if len(f["text"]) > 2000]
    return problems


def test_slack_blocks_stay_within_slacks_limits_on_a_terrible_day() -> None:
    rig = Rig()
    long_name = "Hieronymus " * 40
    facts = []
    for n in range(400):
        lead_id = f"ld_{n:03d}"
        facts.append(unanswered(lead_id, 5 + n % 19, owner=f"rep-{n % 60}", source=f"src-{n % 45}"))
        rig.name(lead_id, f"{long_name}{n}")
    rig.add(SATURDAY, *facts)
    message = digest_render.slack(report(rig))
    blocks = [dict(b) for b in message.blocks]
    assert _slack_problems(blocks) == []
    breaches = next(b for b in blocks if "Breaches (400)" in json.dumps(b))
    assert "more_" in breaches["text"]["text"]  # type: ignore[index]
    assert blocks[0]["type"] == "header"
    assert len(message.text) < 300  # the notification line, not the whole digest


def test_the_slack_message_escapes_mrkdwn_in_what_leads_typed() -> None:
    rig = busy_saturday()
    rig.name("ld_waiting", "<!channel> & friends")
    text = json.dumps([dict(b) for b in digest_render.slack(report(rig)).blocks])
    assert "&lt;!channel&gt; &amp; friends" in text
    assert "<!channel>" not in text


def test_a_preview_without_a_name_is_the_first_digest_in_the_file() -> None:
    rig = busy_saturday()
    r = preview(
        None,
        "daily",
        team=rig.worker.team,
        store=rig.store,
        alerts=rig.store.alert_log,
        clock=rig.clock,
    )
    assert r.digest.name == "team" and r.period == DAY and r.current.leads == 5
