"""Speed-to-lead and funnel metrics for a window of days, computed from lead facts.

Pure and exact: the caller passes the facts of the window's days (a lead counts on its arrival
day on the team's wall clock, `facts.bucket_day`) and the instant the SLA is judged at; counts
are integers, money is summed as Decimal per currency, and the few floats (speeds, rates) come
from one fixed formula each, so a recount gives the same numbers to the last bit.

Definitions (the README repeats them for users):
- contacted: the lead has a first response. Speeds are taken over contacted leads that carry
  one (a lead with no SLA clock records no speed).
- median: the middle value of the sorted speeds; for an even count, the mean of the two middle
  ones. p90: nearest rank, the ceil(0.9·n)-th smallest speed, so always a speed that occurred.
- SLA: a lead with a clock is decided once answered or once unanswered past its due time;
  within-SLA % = met / decided. A breach is `LeadFact.breached(now)`. Leads with no clock
  (no due time) count in neither.
- funnel: leads whose furthest stage is at least each of STAGES (a lost lead keeps the stage
  it reached); conversions are step to step, plus lead→won overall.
- revenue: a won lead's amount, per currency, credited to its first-touch source (the row's
  own lead) and, separately, to its last-touch source (the first touch when none is recorded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.facts import STAGES, LeadFact

GROUP_BY = ("source", "campaign", "rep", "queue")
NO_CAMPAIGN = "(none)"
NO_QUEUE = "(none)"
UNASSIGNED = "(unassigned)"
NO_CURRENCY = "(none)"
WON = STAGES[-1]
# A year and a day: a window is read day by day, so its length bounds the reads.
MAX_WINDOW_DAYS = 366


class MetricsQueryError(InvalidPayloadError, ValueError):
    """A window or grouping the metrics can't be computed for (answered 400)."""


@dataclass(frozen=True)
class Spread:
    """The median and the 90th percentile of a set of durations, in seconds."""

    median: float
    p90: float


@dataclass(frozen=True)
class Row:
    """The metrics of one group of leads (or of all of them)."""

    key: str
    leads: int
    contacted: int
    speed_wall_s: Spread | None  # None when no contacted lead has a speed
    speed_business_s: Spread | None
    sla_met: int  # decided leads answered by their due time
    sla_decided: int  # answered, or unanswered past due
    breaches: int
    reached: tuple[int, ...]  # leads whose furthest stage is at least STAGES[i]
    lost: int
    revenue_first_touch: Mapping[str, Decimal]  # currency → won amount
    revenue_last_touch: Mapping[str, Decimal] | None  # only where a row is a source

    @property
    def within_sla_pct(self) -> float | None:
        """Met as a percentage of decided; None when nothing is decided yet."""
        return percent(self.sla_met, self.sla_decided)

    @property
    def conversion_pct(self) -> dict[str, float | None]:
        """Step-to-step conversion through STAGES and lead→won overall, in percent."""
        steps = {
            f"{a}_to_{b}": percent(self.reached[i + 1], self.reached[i])
            for i, (a, b) in enumerate(pairwise(STAGES))
        }
        steps[f"{STAGES[0]}_to_{WON}"] = percent(self.reached[-1], self.reached[0])
        return steps

    def to_json(self) -> dict[str, Any]:
        """The row as JSON: amounts as strings, seconds to 3 decimals, percentages to 1."""
        return {
            "key": self.key,
            "leads": self.leads,
            "contacted": self.contacted,
            "speed_wall_s": _spread_json(self.speed_wall_s),
            "speed_business_s": _spread_json(self.speed_business_s),
            "within_sla_pct": _pct_json(self.within_sla_pct),
            "sla_met": self.sla_met,
            "sla_decided": self.sla_decided,
            "breaches": self.breaches,
            "funnel": dict(zip(STAGES, self.reached, strict=True)),
            "conversion_pct": {k: _pct_json(v) for k, v in self.conversion_pct.items()},
            "lost": self.lost,
            "revenue_first_touch": _money_json(self.revenue_first_touch),
            "revenue_last_touch": (
                None if self.revenue_last_touch is None else _money_json(self.revenue_last_touch)
            ),
        }


@dataclass(frozen=True)
class Metrics:
    """A window's metrics: the total, one row per group, and revenue by last-touch source."""

    group_by: str | None
    total: Row
    groups: tuple[Row, ...]  # by leads, most first, then by key
    revenue_by_last_touch: Mapping[str, Mapping[str, Decimal]]  # source → currency → amount

    def to_json(self) -> dict[str, Any]:
        """Everything as JSON-ready values."""
        return {
            "group_by": self.group_by,
            "total": self.total.to_json(),
            "groups": [row.to_json() for row in self.groups],
            "revenue_by_last_touch": {
                source: _money_json(amounts)
                for source, amounts in self.revenue_by_last_touch.items()
            },
        }


def compute(facts: Iterable[LeadFact], *, group_by: str | None, now: datetime) -> Metrics:
    """The metrics of `facts` (exactly the leads of the window's days), SLAs judged at `now`.

    `group_by` is one of GROUP_BY, or None for the total alone; anything else is a
    MetricsQueryError. With `group_by="source"`, a source that only closed deals as last touch
    gets a row too (no leads, its last-touch revenue), so the rows add up to the total.
    """
    if group_by is not None and group_by not in GROUP_BY:
        raise MetricsQueryError(f"group_by must be one of {', '.join(GROUP_BY)}", field="group_by")
    _require_aware(now)
    total = Tally()
    groups: dict[str, Tally] = {}
    by_last_touch: dict[str, dict[str, Decimal]] = {}
    by_source = group_by == "source"
    for fact in facts:
        total.add(fact, now)
        if group_by is not None:
            groups.setdefault(group_key(fact, group_by), Tally()).add(fact, now)
        won = won_revenue(fact)
        if won is None:
            continue
        currency, amount = won
        last = last_touch_source(fact)
        _credit(by_last_touch.setdefault(last, {}), currency, amount)
        _credit(total.last_touch, currency, amount)
        if by_source:
            _credit(groups.setdefault(last, Tally()).last_touch, currency, amount)
    rows = [tally.row(key, last_touch=by_source) for key, tally in groups.items()]
    rows.sort(key=lambda r: (-r.leads, r.key))
    return Metrics(
        group_by=group_by,
        total=total.row("total", last_touch=True),
        groups=tuple(rows),
        revenue_by_last_touch={s: _sorted(by_last_touch[s]) for s in sorted(by_last_touch)},
    )


def window_days(start: date, end: date) -> list[date]:
    """The days of a window, `start` and `end` included (the team's local dates).

    MetricsQueryError when `end` is before `start` or the window is over MAX_WINDOW_DAYS.
    """
    if end < start:
        raise MetricsQueryError("'to' is before 'from'", field="to")
    count = (end - start).days + 1
    if count > MAX_WINDOW_DAYS:
        raise MetricsQueryError(f"a window is at most {MAX_WINDOW_DAYS} days", field="to")
    return [start + timedelta(days=i) for i in range(count)]


def group_key(fact: LeadFact, group_by: str) -> str:
    """The name of the group a fact counts in."""
    if group_by == "source":
        return fact.source
    if group_by == "campaign":
        return fact.campaign or NO_CAMPAIGN
    if group_by == "rep":
        return fact.owner or UNASSIGNED
    if group_by == "queue":
        return fact.queue or NO_QUEUE
    raise MetricsQueryError(f"group_by must be one of {', '.join(GROUP_BY)}", field="group_by")


def sla_outcome(fact: LeadFact, now: datetime) -> bool | None:
    """True: the SLA was met; False: breached; None: no clock, or not decided yet at `now`.

    False exactly when `fact.breached(now)`, so the breach count and within-SLA % agree.
    """
    if fact.due_at is None:
        return None
    if fact.breached(now):
        return False
    if fact.sla_met is True or fact.responded_at is not None:
        return True
    return None


def stage_rank(fact: LeadFact) -> int:
    """How far the lead got, as an index into STAGES (an unknown stage counts as the first)."""
    return STAGES.index(fact.stage) if fact.stage in STAGES else 0


def won_revenue(fact: LeadFact) -> tuple[str, Decimal] | None:
    """(currency, amount) of a won lead with an amount, else None."""
    if fact.stage != WON or fact.won_amount is None:
        return None
    return fact.currency or NO_CURRENCY, fact.won_amount


def last_touch_source(fact: LeadFact) -> str:
    """The source credited as last touch: the recorded one, else the first touch."""
    return fact.last_source or fact.source


def median(values: Sequence[float]) -> float | None:
    """The middle of the sorted values; the mean of the two middle ones for an even count."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    if n % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


def nearest_rank(values: Sequence[float], percentile: int) -> float | None:
    """The ceil(percentile/100 · n)-th smallest value (at least the smallest); None if empty.

    Integer arithmetic for the rank, so 90 % of 10 is exactly the 9th, not the 10th.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    rank = max((percentile * n + 99) // 100, 1)
    return float(ordered[rank - 1])


def spread(values: Sequence[float]) -> Spread | None:
    """Median and p90 of `values`, or None when there are none."""
    mid = median(values)
    p90 = nearest_rank(values, 90)
    if mid is None or p90 is None:
        return None
    return Spread(median=mid, p90=p90)


def percent(part: int, whole: int) -> float | None:
    """100 · part / whole, or None when whole is 0."""
    return None if whole == 0 else part * 100 / whole


@dataclass
class Tally:
    """Running counts for one group; `row` freezes them."""

    leads: int = 0
    contacted: int = 0
    wall: list[float] = field(default_factory=list)
    business: list[float] = field(default_factory=list)
    met: int = 0
    decided: int = 0
    breaches: int = 0
    reached: list[int] = field(default_factory=lambda: [0] * len(STAGES))
    lost: int = 0
    first_touch: dict[str, Decimal] = field(default_factory=dict)
    last_touch: dict[str, Decimal] = field(default_factory=dict)

    def add(self, fact: LeadFact, now: datetime) -> None:
        """Count one lead (its last-touch revenue is credited by the caller: it may belong to
        another group)."""
        self.leads += 1
        if fact.responded_at is not None:
            self.contacted += 1
            if fact.speed_wall_s is not None:
                self.wall.append(fact.speed_wall_s)
            if fact.speed_business_s is not None:
                self.business.append(fact.speed_business_s)
        outcome = sla_outcome(fact, now)
        if outcome is not None:
            self.decided += 1
            self.met += outcome
            self.breaches += not outcome
        for i in range(stage_rank(fact) + 1):
            self.reached[i] += 1
        self.lost += fact.lost
        won = won_revenue(fact)
        if won is not None:
            _credit(self.first_touch, *won)

    def row(self, key: str, *, last_touch: bool) -> Row:
        """The frozen row; `last_touch` says whether the row carries last-touch revenue."""
        return Row(
            key=key,
            leads=self.leads,
            contacted=self.contacted,
            speed_wall_s=spread(self.wall),
            speed_business_s=spread(self.business),
            sla_met=self.met,
            sla_decided=self.decided,
            breaches=self.breaches,
            reached=tuple(self.reached),
            lost=self.lost,
            revenue_first_touch=_sorted(self.first_touch),
            revenue_last_touch=_sorted(self.last_touch) if last_touch else None,
        )


def _credit(amounts: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    amounts[currency] = amounts.get(currency, Decimal(0)) + amount


def _sorted(amounts: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {currency: amounts[currency] for currency in sorted(amounts)}


def _require_aware(now: datetime) -> None:
    # A naive `now` would silently compare against UTC due times as local time.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def _spread_json(s: Spread | None) -> dict[str, float] | None:
    return None if s is None else {"median": round(s.median, 3), "p90": round(s.p90, 3)}


def _pct_json(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _money_json(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    # Fixed-point always: a stored Decimal("1E+3") must read "1000", not "1E+3".
    return {currency: format(amount, "f") for currency, amount in amounts.items()}
