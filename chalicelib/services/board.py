"""The live SLA board for a wall screen: leads waiting for a first response with their SLA
countdown, today's breaches, and where each rep stands.

Everything comes from the per-lead metrics facts of the last few local days (a few items a day,
never a Scan of the leads); only the waiting leads actually shown are read in full, for their
names. The board is opened with the admin key, or with a signed "board" link that a wall
screen's browser can hold in its URL, since it cannot send a header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain import links
from chalicelib.domain.errors import ForbiddenError, InvalidPayloadError
from chalicelib.domain.facts import STAGES, LeadFact
from chalicelib.domain.hours import away, in_hours
from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.ports import LeadStore

# A lead still unanswered after a week is a data problem, not a call to make now: it drops off
# the board (the metrics still count it), and the board reads a bounded number of days.
WINDOW_DAYS = 7
MAX_WAITING = 50  # rows shown; each costs one lead read, for the name
MAX_BREACHES = 20
# Amber from this close to the due time; red once it has passed.
DUE_SOON = timedelta(minutes=2)
# Board links: grant() wants a lead and a rep; a board link is for neither.
BOARD_LEAD, BOARD_REP, PURPOSE = "board", "wall", "board"
DEFAULT_LINK_DAYS = 30
MAX_LINK_DAYS = 365
WON = STAGES[-1]


@dataclass(frozen=True)
class WaitingRow:
    """A lead with no first response yet."""

    lead_id: str
    name: str | None  # None: the lead gave none (or was not read)
    source: str
    owner: str | None  # rep id; None: unassigned
    owner_name: str | None
    claimed_by_name: str | None
    waiting_s: float
    due_in_s: float | None  # negative: missed by that much; None: no SLA clock
    state: str  # "missed", "due_soon", "ok" or "no_sla"


@dataclass(frozen=True)
class BreachRow:
    """A lead that arrived today and missed its SLA: answered late, or still waiting."""

    lead_id: str
    source: str
    owner_name: str | None
    due_at: datetime | None
    late_s: float  # how late the answer came, or how overdue it is now
    answered: bool


@dataclass(frozen=True)
class RepRow:
    """A rep as the board shows them."""

    rep_id: str
    name: str
    status: str  # "active", "paused" or "out_of_office" (now: a past return time is active)
    off_hours: bool  # outside their working hours now
    open_leads: int  # waiting leads they own
    out_of_office_until: datetime | None


@dataclass(frozen=True)
class Board:
    """What the wall screen shows at `now`."""

    now: datetime
    timezone: str
    team_name: str
    waiting: tuple[WaitingRow, ...]  # the first MAX_WAITING, most urgent first
    waiting_total: int
    unassigned: int  # waiting leads with no owner
    breaches: tuple[BreachRow, ...]  # the latest MAX_BREACHES of today's
    breaches_total: int
    reps: tuple[RepRow, ...]  # in the team file's order

    @property
    def waiting_more(self) -> int:
        """Waiting leads not shown."""
        return self.waiting_total - len(self.waiting)

    @property
    def breaches_more(self) -> int:
        """Today's breaches not listed."""
        return self.breaches_total - len(self.breaches)


class BoardLinkRefusedError(ForbiddenError):
    """The board link cannot be used: "expired", "tampered", "malformed" or "not_allowed" (a
    link for something else, such as a lead)."""

    code = "link_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BoardLink:
    """A new wall-screen link's token and when it stops working."""

    token: str
    expires: datetime


def board(*, now: datetime, team: TeamConfig, store: LeadStore) -> Board:
    """The board at `now`: facts of the last WINDOW_DAYS local days, plus a lead read for each
    waiting lead shown."""
    days = local_days(now, team.timezone)
    today = days[0]
    facts = {day: store.facts(day) for day in days}
    names = {r.id: r.name for r in team.reps}

    waiting = sorted(
        (f for day in days for f in facts[day] if _waiting(f)),
        key=lambda f: (f.due_at is None, f.due_at or f.created_at, f.created_at, f.lead_id),
    )
    shown = tuple(_waiting_row(f, now, names, store) for f in waiting[:MAX_WAITING])
    breached = sorted(
        (f for f in facts[today] if f.breached(now)),
        key=lambda f: (f.due_at or f.created_at, f.lead_id),
        reverse=True,
    )
    open_by_rep: dict[str, int] = {}
    for f in waiting:
        if f.owner is not None:
            open_by_rep[f.owner] = open_by_rep.get(f.owner, 0) + 1
    return Board(
        now=now,
        timezone=team.timezone,
        team_name=team.name,
        waiting=shown,
        waiting_total=len(waiting),
        unassigned=sum(1 for f in waiting if f.owner is None),
        breaches=tuple(_breach_row(f, now, names) for f in breached[:MAX_BREACHES]),
        breaches_total=len(breached),
        reps=tuple(_rep_row(r, now, open_by_rep.get(r.id, 0)) for r in team.reps),
    )


def local_days(now: datetime, timezone: str) -> list[date]:
    """The local days the board reads at `now`, today first."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return [today - timedelta(days=n) for n in range(WINDOW_DAYS)]


def new_link(*, now: datetime, secret: str, days: int = DEFAULT_LINK_DAYS) -> BoardLink:
    """A signed board link valid for `days` days (1 to MAX_LINK_DAYS)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LINK_DAYS:
        message = f"must be a whole number of days, 1 to {MAX_LINK_DAYS}"
        raise InvalidPayloadError(message, field="days")
    g = links.grant(BOARD_LEAD, BOARD_REP, PURPOSE, now=now, ttl=timedelta(days=days))
    return BoardLink(links.sign(g, secret), g.expires)


def check_link(token: str, *, now: datetime, secret: str) -> None:
    """Pass if `token` is a valid, unexpired board link; BoardLinkRefusedError otherwise. A
    lead's link is refused: it was sent to one rep for one lead, not for the team's board."""
    try:
        g = links.verify(token, secret, now=now)
    except links.LinkError as exc:
        raise BoardLinkRefusedError(exc.reason) from None
    if g.purpose != PURPOSE:
        raise BoardLinkRefusedError("not_allowed")


def _waiting(f: LeadFact) -> bool:
    return f.responded_at is None and not f.lost and f.stage != WON


def _waiting_row(f: LeadFact, now: datetime, names: dict[str, str], store: LeadStore) -> WaitingRow:
    lead = store.get_lead(f.lead_id)
    due_in = None if f.due_at is None else (f.due_at - now).total_seconds()
    if due_in is None:
        state = "no_sla"
    elif due_in <= 0:
        state = "missed"
    elif due_in <= DUE_SOON.total_seconds():
        state = "due_soon"
    else:
        state = "ok"
    return WaitingRow(
        lead_id=f.lead_id,
        name=lead.name if lead is not None else None,
        source=f.source,
        owner=f.owner,
        owner_name=_name(f.owner, names),
        claimed_by_name=_name(f.claimed_by, names),
        waiting_s=(now - f.created_at).total_seconds(),
        due_in_s=due_in,
        state=state,
    )


def _breach_row(f: LeadFact, now: datetime, names: dict[str, str]) -> BreachRow:
    due = f.due_at
    if f.responded_at is not None:
        late = (f.responded_at - due).total_seconds() if due is not None else 0.0
    else:
        late = (now - due).total_seconds() if due is not None else 0.0
    return BreachRow(
        lead_id=f.lead_id,
        source=f.source,
        owner_name=_name(f.owner, names),
        due_at=due,
        late_s=max(late, 0.0),
        answered=f.responded_at is not None,
    )


def _rep_row(rep: RepConfig, now: datetime, open_leads: int) -> RepRow:
    if rep.status == "paused":
        status = "paused"
    elif away(rep, now):
        status = "out_of_office"
    else:
        status = "active"
    return RepRow(
        rep_id=rep.id,
        name=rep.name,
        status=status,
        off_hours=not in_hours(rep, now),
        open_leads=open_leads,
        out_of_office_until=rep.out_of_office_until if status == "out_of_office" else None,
    )


def _name(rep_id: str | None, names: dict[str, str]) -> str | None:
    if rep_id is None:
        return None
    return names.get(rep_id, rep_id)  # a rep who left the team: their id
