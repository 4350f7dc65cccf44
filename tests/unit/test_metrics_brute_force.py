"""The metrics and the digest's tables against a plain recount of thousands of generated leads.

Three teams (Los Angeles, Kolkata, Chatham: a whole-hour DST shift, a half-hour zone with no
DST, a 45-minute zone with its own DST) get a seeded random two months of leads, with a tenth
of them landing within two minutes of a local midnight. The windows are read the way the route
will read them (facts bucketed by `bucket_day`, the window's days concatenated); the recount
picks its leads by the UTC instants of the window's local midnights instead, and computes every
number with loops, `statistics.median` and a counting definition of the 90th percentile.
Counts and money must be identical, floats identical before and after the JSON rounding.
"""

from __future__ import annotations

import functools
import random
import statistics
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.digest_tables import digest_tables
from chalicelib.domain.facts import LOST, STAGES, LeadFact, bucket_day
from chalicelib.domain.metrics import Metrics, Row, compute, window_days

START = datetime(2026, 2, 20, tzinfo=UTC)
NOW = datetime(2026, 4, 18, 12, 0, tzinfo=UTC)
LEADS_PER_TEAM = 3000
SOURCES = ("google", "facebook", "referral", "webinar", "email")
CAMPAIGNS = (None, "spring", "brand", "retarget")
QUEUES = (None, "sales", "enterprise", "smb")
REPS = ("ana", "ben", "cat", "dev", "eve")
TARGETS_S = (300, 900, 3600, 4 * 3600, 86400)
CURRENCIES = ("USD", "EUR", "INR", "JPY")

# (team zone, window name, first day, last day); the DST shifts of 2026 are Los Angeles
# 8 March (a 23-hour day) and Chatham 5 April (a 25-hour day).
WINDOWS = [
    ("America/Los_Angeles", "DST day", date(2026, 3, 8), date(2026, 3, 8)),
    ("America/Los_Angeles", "DST week", date(2026, 3, 5), date(2026, 3, 11)),
    ("America/Los_Angeles", "30 days", date(2026, 3, 1), date(2026, 3, 30)),
    ("America/Los_Angeles", "last week", date(2026, 4, 12), date(2026, 4, 18)),
    ("Asia/Kolkata", "one day", date(2026, 3, 15), date(2026, 3, 15)),
    ("Asia/Kolkata", "30 days", date(2026, 3, 10), date(2026, 4, 8)),
    ("Asia/Kolkata", "last week", date(2026, 4, 12), date(2026, 4, 18)),
    ("Pacific/Chatham", "DST day", date(2026, 4, 5), date(2026, 4, 5)),
    ("Pacific/Chatham", "DST week", date(2026, 4, 2), date(2026, 4, 8)),
    ("Pacific/Chatham", "30 days", date(2026, 3, 1), date(2026, 3, 30)),
]
GROUPINGS = (None, "source", "campaign", "rep", "queue")


# --- the generated leads


def _amount(rng: random.Random, currency: str) -> Decimal:
    if currency == "JPY":
        return Decimal(rng.randint(1_000, 2_000_000))
    cents = rng.randint(1, 5_000_000)
    return Decimal(f"{cents // 100}.{cents % 100:02d}")


def _arrival(rng: random.Random, zone: str) -> datetime:
    if rng.random() < 0.1:  # around a local midnight, where a wrong day bucket would show
        day = (START + timedelta(days=rng.randint(1, 56))).date()
        midnight = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
        return midnight + timedelta(seconds=rng.randint(-120, 120))
    span = int((NOW - START).total_seconds())
    return START + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(1_000_000))


def _fact(rng: random.Random, zone: str, n: int) -> LeadFact:
    target = timedelta(seconds=rng.choice(TARGETS_S))
    if rng.random() < 0.01:  # due at the very instant the SLA is judged
        created = NOW - target
    else:
        created = min(_arrival(rng, zone), NOW - timedelta(seconds=1))
    due = created + target if rng.random() < 0.85 else None
    fields: dict[str, Any] = {
        "lead_id": f"{zone[:3]}-{n:05d}",
        "created_at": created,
        "source": rng.choice(SOURCES),
        "campaign": rng.choice(CAMPAIGNS),
        "queue": rng.choice(QUEUES),
        "owner": rng.choice((None, *REPS)),
        "due_at": due,
        "claimed_by": rng.choice((None, None, None, *REPS)),
    }
    if rng.random() < 0.75:
        # Whole seconds half the time, so equal speeds (ties) occur.
        delay = rng.randint(1, 3 * 86400) if rng.random() < 0.5 else rng.uniform(0.5, 7200)
        delay = round(delay, 3)
        responded = created + timedelta(seconds=delay)
        if responded <= NOW:
            fields["responded_at"] = responded
            fields["responded_by"] = fields["owner"]
            if due is not None:  # as the clock records it: no clock, no speed
                fields["speed_wall_s"] = float(delay)
                fields["speed_business_s"] = round(delay * rng.choice((0.0, 0.25, 0.5, 1.0)), 3)
                fields["sla_met"] = responded <= due
    stage = rng.choices(STAGES, weights=(40, 20, 15, 10, 15))[0]
    fields["stage"] = stage
    if stage != "won":
        fields["lost"] = rng.random() < 0.25
    else:
        currency = rng.choice(CURRENCIES)
        fields["won_amount"] = _amount(rng, currency)
        fields["currency"] = currency
        fields["last_source"] = rng.choice((None, *SOURCES))
    return LeadFact(**fields)


@functools.cache
def team_facts(zone: str) -> tuple[LeadFact, ...]:
    rng = random.Random(f"leadclock-metrics-{zone}")
    return tuple(_fact(rng, zone, n) for n in range(LEADS_PER_TEAM))


def read_window(zone: str, first: date, last: date) -> list[LeadFact]:
    """What the route will do: the facts bucketed on the window's days."""
    buckets: dict[date, list[LeadFact]] = {}
    for fact in team_facts(zone):
        buckets.setdefault(bucket_day(fact.created_at, zone), []).append(fact)
    return [f for day in window_days(first, last) for f in buckets.get(day, [])]


# --- the plain recount


def local_midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def in_window(zone: str, first: date, last: date) -> list[LeadFact]:
    begin = local_midnight(first, zone)
    end = local_midnight(last + timedelta(days=1), zone)
    return [f for f in team_facts(zone) if begin <= f.created_at < end]


def p90(values: list[float]) -> float | None:
    """The smallest value with at least 90 % of the values at or below it."""
    for candidate in sorted(values):
        at_or_below = len([v for v in values if v <= candidate])
        if at_or_below * 10 >= len(values) * 9:
            return candidate
    return None


def spread(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    top = p90(values)
    assert top is not None
    return statistics.median(values), top


def pct(part: int, whole: int) -> float | None:
    if whole == 0:
        return None
    return part * 100 / whole


def money(facts: list[LeadFact]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for f in facts:
        if f.stage == "won" and f.won_amount is not None:
            assert f.currency is not None
            totals[f.currency] = totals.get(f.currency, Decimal(0)) + f.won_amount
    return totals


def key_of(f: LeadFact, group_by: str) -> str:
    if group_by == "source":
        return f.source
    if group_by == "campaign":
        return "(none)" if f.campaign is None else f.campaign
    if group_by == "rep":
        return "(unassigned)" if f.owner is None else f.owner
    return "(none)" if f.queue is None else f.queue


def recount_row(
    key: str, facts: list[LeadFact], last_touch: list[LeadFact] | None
) -> dict[str, Any]:
    """One row's numbers, unrounded, straight from the definitions."""
    contacted = [f for f in facts if f.responded_at is not None]
    met = decided = breaches = 0
    for f in facts:
        if f.due_at is None:
            continue
        if f.breached(NOW):
            breaches += 1
            decided += 1
        elif f.responded_at is not None:
            met += 1
            decided += 1
    reached = []
    for stage in STAGES:
        reached.append(len([f for f in facts if STAGES.index(f.stage) >= STAGES.index(stage)]))
    return {
        "key": key,
        "leads": len(facts),
        "contacted": len(contacted),
        "speed_wall_s": spread([f.speed_wall_s for f in contacted if f.speed_wall_s is not None]),
        "speed_business_s": spread(
            [f.speed_business_s for f in contacted if f.speed_business_s is not None]
        ),
        "sla_met": met,
        "sla_decided": decided,
        "breaches": breaches,
        "reached": tuple(reached),
        "lost": len([f for f in facts if f.lost]),
        "revenue_first_touch": money(facts),
        "revenue_last_touch": None if last_touch is None else money(last_touch),
    }


def recount(facts: list[LeadFact], group_by: str | None) -> dict[str, Any]:
    def last_source(f: LeadFact) -> str:
        return f.source if f.last_source is None else f.last_source

    won = [f for f in facts if f.stage == "won"]
    groups: dict[str, list[LeadFact]] = {}
    if group_by is not None:
        for f in facts:
            groups.setdefault(key_of(f, group_by), []).append(f)
        if group_by == "source":
            for f in won:
                groups.setdefault(last_source(f), [])
    rows = []
    for key, members in groups.items():
        credited = [f for f in won if last_source(f) == key] if group_by == "source" else None
        rows.append(recount_row(key, members, credited))
    rows.sort(key=lambda r: (-r["leads"], r["key"]))
    by_last_touch = {}
    for source in sorted({last_source(f) for f in won}):
        by_last_touch[source] = money([f for f in won if last_source(f) == source])
    return {
        "total": recount_row("total", facts, facts),
        "groups": rows,
        "revenue_by_last_touch": by_last_touch,
    }


def row_as_recounted(row: Row) -> dict[str, Any]:
    wall, business = row.speed_wall_s, row.speed_business_s
    return {
        "key": row.key,
        "leads": row.leads,
        "contacted": row.contacted,
        "speed_wall_s": None if wall is None else (wall.median, wall.p90),
        "speed_business_s": None if business is None else (business.median, business.p90),
        "sla_met": row.sla_met,
        "sla_decided": row.sla_decided,
        "breaches": row.breaches,
        "reached": row.reached,
        "lost": row.lost,
        "revenue_first_touch": dict(row.revenue_first_touch),
        "revenue_last_touch": (
            None if row.revenue_last_touch is None else dict(row.revenue_last_touch)
        ),
    }


def as_recounted(metrics: Metrics) -> dict[str, Any]:
    return {
        "total": row_as_recounted(metrics.total),
        "groups": [row_as_recounted(row) for row in metrics.groups],
        "revenue_by_last_touch": {
            s: dict(amounts) for s, amounts in metrics.revenue_by_last_touch.items()
        },
    }


def recounted_json(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON a recounted row should render to."""

    def seconds(s: tuple[float, float] | None) -> dict[str, float] | None:
        return None if s is None else {"median": round(s[0], 3), "p90": round(s[1], 3)}

    def one_decimal(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    reached = row["reached"]
    conversion = {}
    for i in range(len(STAGES) - 1):
        conversion[f"{STAGES[i]}_to_{STAGES[i + 1]}"] = one_decimal(pct(reached[i + 1], reached[i]))
    conversion["lead_to_won"] = one_decimal(pct(reached[4], reached[0]))
    last = row["revenue_last_touch"]
    return {
        "key": row["key"],
        "leads": row["leads"],
        "contacted": row["contacted"],
        "speed_wall_s": seconds(row["speed_wall_s"]),
        "speed_business_s": seconds(row["speed_business_s"]),
        "within_sla_pct": one_decimal(pct(row["sla_met"], row["sla_decided"])),
        "sla_met": row["sla_met"],
        "sla_decided": row["sla_decided"],
        "breaches": row["breaches"],
        "funnel": dict(zip(STAGES, reached, strict=True)),
        "conversion_pct": conversion,
        "lost": row["lost"],
        "revenue_first_touch": {c: str(a) for c, a in sorted(row["revenue_first_touch"].items())},
        "revenue_last_touch": (
            None if last is None else {c: str(a) for c, a in sorted(last.items())}
        ),
    }


def recount_digest(facts: list[LeadFact]) -> dict[str, Any]:
    """The digest's three tables as JSON, recounted."""
    reps: dict[str, dict[str, Any]] = {}

    def rep(name: str) -> dict[str, Any]:
        return reps.setdefault(name, {"leads": 0, "speeds": [], "breaches": 0, "claims": 0})

    for f in facts:
        line = rep("(unassigned)" if f.owner is None else f.owner)
        line["leads"] += 1
        if f.responded_at is not None and f.speed_wall_s is not None:
            line["speeds"].append(f.speed_wall_s)
        if f.due_at is not None and f.breached(NOW):
            line["breaches"] += 1
        if f.claimed_by is not None:
            rep(f.claimed_by)["claims"] += 1
    rep_lines = [
        {
            "rep": name,
            "leads": r["leads"],
            "contacted": len(
                [
                    f
                    for f in facts
                    if (f.owner or "(unassigned)") == name and f.responded_at is not None
                ]
            ),
            "median_response_s": (
                round(statistics.median(r["speeds"]), 3) if r["speeds"] else None
            ),
            "breaches": r["breaches"],
            "claims": r["claims"],
        }
        for name, r in reps.items()
    ]
    rep_lines.sort(key=lambda line: (-line["leads"], line["rep"]))

    source_lines = []
    for source in sorted({f.source for f in facts}):
        mine = [f for f in facts if f.source == source]
        row = recount_row(source, mine, None)
        source_lines.append(
            {
                "source": source,
                "leads": len(mine),
                "within_sla_pct": _round1(pct(row["sla_met"], row["sla_decided"])),
                "to_sql_pct": _round1(pct(row["reached"][2], len(mine))),
                "to_won_pct": _round1(pct(row["reached"][4], len(mine))),
            }
        )
    source_lines.sort(key=lambda line: -line["leads"])  # stable: ties stay by name

    breach_lines = []
    for f in facts:
        if f.due_at is None or not f.breached(NOW):
            continue
        until = NOW if f.responded_at is None else f.responded_at
        breach_lines.append(
            {
                "lead_id": f.lead_id,
                "source": f.source,
                "owner": f.owner,
                "late_s": (until - f.due_at).total_seconds(),
                "contacted": f.responded_at is not None,
            }
        )
    breach_lines.sort(key=lambda line: line["lead_id"])
    breach_lines.sort(key=lambda line: line["late_s"], reverse=True)  # stable
    for line in breach_lines:
        line["late_s"] = round(line["late_s"], 3)
    return {"reps": rep_lines, "sources": source_lines, "breaches": breach_lines}


def _round1(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- the comparisons


@pytest.mark.parametrize(("zone", "name", "first", "last"), WINDOWS)
def test_reading_a_windows_day_buckets_gives_exactly_the_leads_between_its_local_midnights(
    zone: str, name: str, first: date, last: date
) -> None:
    read = read_window(zone, first, last)
    assert len(read) == len({f.lead_id for f in read})
    assert {f.lead_id for f in read} == {f.lead_id for f in in_window(zone, first, last)}


@pytest.mark.parametrize("group_by", GROUPINGS)
@pytest.mark.parametrize(("zone", "name", "first", "last"), WINDOWS)
def test_metrics_equal_a_brute_force_recount(
    zone: str, name: str, first: date, last: date, group_by: str | None
) -> None:
    metrics = compute(read_window(zone, first, last), group_by=group_by, now=NOW)
    expected = recount(in_window(zone, first, last), group_by)
    assert as_recounted(metrics) == expected
    body = metrics.to_json()
    assert body["total"] == recounted_json(expected["total"])
    assert body["groups"] == [recounted_json(row) for row in expected["groups"]]
    assert body["revenue_by_last_touch"] == {
        source: {c: str(a) for c, a in amounts.items()}
        for source, amounts in expected["revenue_by_last_touch"].items()
    }


@pytest.mark.parametrize(("zone", "name", "first", "last"), WINDOWS)
def test_digest_tables_equal_a_brute_force_recount(
    zone: str, name: str, first: date, last: date
) -> None:
    tables = digest_tables(read_window(zone, first, last), now=NOW)
    assert tables.to_json() == recount_digest(in_window(zone, first, last))


# --- the data set covers what the comparisons are meant to exercise


def test_the_dst_days_are_23_and_25_hours_long() -> None:
    def hours(zone: str, day: date) -> float:
        length = local_midnight(day + timedelta(days=1), zone) - local_midnight(day, zone)
        return length.total_seconds() / 3600

    assert hours("America/Los_Angeles", date(2026, 3, 8)) == 23
    assert hours("Pacific/Chatham", date(2026, 4, 5)) == 25


def test_every_window_has_leads_and_the_data_covers_every_case() -> None:
    for zone, _, first, last in WINDOWS:
        assert in_window(zone, first, last), (zone, first)
    every = [f for zone in {w[0] for w in WINDOWS} for f in team_facts(zone)]
    assert {f.stage for f in every} == set(STAGES)
    assert len([f for f in every if f.lost]) > 100
    assert LOST not in {f.stage for f in every}  # lost is a flag; the stage reached is kept
    assert {f.currency for f in every if f.stage == "won"} == set(CURRENCIES)
    assert any(f.last_source not in (None, f.source) for f in every)
    assert any(f.due_at is None for f in every)
    assert any(f.due_at is None and f.responded_at is not None for f in every)
    dues = [f.due_at for f in every if f.due_at is not None and f.responded_at is None]
    assert any(due < NOW for due in dues)
    assert any(due == NOW for due in dues)
    assert any(due > NOW for due in dues)
    assert any(f.sla_met is True for f in every) and any(f.sla_met is False for f in every)
    speeds = [f.speed_wall_s for f in every if f.speed_wall_s is not None]
    assert len(speeds) > len(set(speeds))  # ties
    for zone in {w[0] for w in WINDOWS}:
        clock = [f.created_at.astimezone(ZoneInfo(zone)).time() for f in team_facts(zone)]
        assert any(t < time(0, 2) for t in clock) and any(t > time(23, 58) for t in clock)


def test_the_last_week_has_leads_not_yet_due_so_undecided_ones_are_left_out() -> None:
    total = compute(
        read_window("Asia/Kolkata", date(2026, 4, 12), date(2026, 4, 18)), group_by=None, now=NOW
    ).total
    with_clock = len(
        [f for f in in_window("Asia/Kolkata", date(2026, 4, 12), date(2026, 4, 18)) if f.due_at]
    )
    assert 0 < total.sla_decided < with_clock
