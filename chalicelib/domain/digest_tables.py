"""The tables a manager's digest shows, from the same lead facts and definitions as the metrics
(`domain.metrics`): per rep, per source, and the list of breaches, most late first.

A rep is credited with the leads they own now (after any reassignment), so a breach that
happened before a lead was moved counts against its new owner; claims go to the rep who claimed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.facts import STAGES, LeadFact
from chalicelib.domain.metrics import (
    UNASSIGNED,
    WON,
    median,
    percent,
    sla_outcome,
    stage_rank,
)

SQL_RANK = STAGES.index("sql")
WON_RANK = STAGES.index(WON)


@dataclass(frozen=True)
class RepLine:
    """One rep's (or the unassigned leads') line."""

    rep: str  # a rep id, or UNASSIGNED
    leads: int
    contacted: int
    median_response_s: float | None  # wall time, over the contacted leads with a speed
    breaches: int
    claims: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, seconds to 3 decimals."""
        return {
            "rep": self.rep,
            "leads": self.leads,
            "contacted": self.contacted,
            "median_response_s": _seconds(self.median_response_s),
            "breaches": self.breaches,
            "claims": self.claims,
        }


@dataclass(frozen=True)
class SourceLine:
    """One first-touch source's line."""

    source: str
    leads: int
    sla_met: int
    sla_decided: int
    reached_sql: int
    won: int

    @property
    def within_sla_pct(self) -> float | None:
        """Met over decided, in percent."""
        return percent(self.sla_met, self.sla_decided)

    @property
    def to_sql_pct(self) -> float | None:
        """Leads that reached SQL (or further), in percent of the source's leads."""
        return percent(self.reached_sql, self.leads)

    @property
    def to_won_pct(self) -> float | None:
        """Leads won, in percent of the source's leads."""
        return percent(self.won, self.leads)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, percentages to 1 decimal."""
        return {
            "source": self.source,
            "leads": self.leads,
            "within_sla_pct": _pct(self.within_sla_pct),
            "to_sql_pct": _pct(self.to_sql_pct),
            "to_won_pct": _pct(self.to_won_pct),
        }


@dataclass(frozen=True)
class BreachLine:
    """One breached lead: how late it is (or was) and whether someone has answered since."""

    lead_id: str
    source: str
    owner: str | None
    late_s: float  # response minus due; now minus due while unanswered
    contacted: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, seconds to 3 decimals."""
        return {
            "lead_id": self.lead_id,
            "source": self.source,
            "owner": self.owner,
            "late_s": round(self.late_s, 3),
            "contacted": self.contacted,
        }


@dataclass(frozen=True)
class DigestTables:
    """All three tables of one window."""

    reps: tuple[RepLine, ...]
    sources: tuple[SourceLine, ...]
    breaches: tuple[BreachLine, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready tables."""
        return {
            "reps": [line.to_json() for line in self.reps],
            "sources": [line.to_json() for line in self.sources],
            "breaches": [line.to_json() for line in self.breaches],
        }


def digest_tables(facts: Iterable[LeadFact], *, now: datetime) -> DigestTables:
    """The three tables over the window's facts, SLAs judged at `now`."""
    window = list(facts)
    return DigestTables(
        reps=rep_table(window, now=now),
        sources=source_table(window, now=now),
        breaches=breach_list(window, now=now),
    )


def rep_table(facts: Iterable[LeadFact], *, now: datetime) -> tuple[RepLine, ...]:
    """One line per owner (UNASSIGNED for leads without one) and per claimer, by leads, most
    first, then by rep."""
    tallies: dict[str, _RepTally] = {}
    for fact in facts:
        mine = tallies.setdefault(fact.owner or UNASSIGNED, _RepTally())
        mine.leads += 1
        if fact.responded_at is not None:
            mine.contacted += 1
            if fact.speed_wall_s is not None:
                mine.speeds.append(fact.speed_wall_s)
        mine.breaches += sla_outcome(fact, now) is False
        if fact.claimed_by is not None:
            tallies.setdefault(fact.claimed_by, _RepTally()).claims += 1
    lines = [
        RepLine(
            rep=rep,
            leads=t.leads,
            contacted=t.contacted,
            median_response_s=median(t.speeds),
            breaches=t.breaches,
            claims=t.claims,
        )
        for rep, t in tallies.items()
    ]
    return tuple(sorted(lines, key=lambda line: (-line.leads, line.rep)))


def source_table(facts: Iterable[LeadFact], *, now: datetime) -> tuple[SourceLine, ...]:
    """One line per first-touch source, by leads, most first, then by source."""
    counts: dict[str, list[int]] = {}  # leads, met, decided, reached sql, won
    for fact in facts:
        c = counts.setdefault(fact.source, [0, 0, 0, 0, 0])
        outcome = sla_outcome(fact, now)
        rank = stage_rank(fact)
        c[0] += 1
        c[1] += outcome is True
        c[2] += outcome is not None
        c[3] += rank >= SQL_RANK
        c[4] += rank >= WON_RANK
    lines = [SourceLine(source, *c) for source, c in counts.items()]
    return tuple(sorted(lines, key=lambda line: (-line.leads, line.source)))


def breach_list(facts: Iterable[LeadFact], *, now: datetime) -> tuple[BreachLine, ...]:
    """Every breached lead with a clock, most late first (then by lead id)."""
    lines = []
    for fact in facts:
        if fact.due_at is None or sla_outcome(fact, now) is not False:
            continue
        answered = fact.responded_at is not None
        until = fact.responded_at if fact.responded_at is not None else now
        lines.append(
            BreachLine(
                lead_id=fact.lead_id,
                source=fact.source,
                owner=fact.owner,
                late_s=(until - fact.due_at).total_seconds(),
                contacted=answered,
            )
        )
    return tuple(sorted(lines, key=lambda line: (-line.late_s, line.lead_id)))


@dataclass
class _RepTally:
    leads: int = 0
    contacted: int = 0
    speeds: list[float] = field(default_factory=list)
    breaches: int = 0
    claims: int = 0


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
