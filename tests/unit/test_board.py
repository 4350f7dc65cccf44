"""The SLA board on fakes: which leads wait and in what order, today's breaches on the team's
wall clock, where each rep stands, the caps on what is read and shown, and board links."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.facts import LeadFact, bucket_day
from chalicelib.domain.links import grant, sign
from chalicelib.domain.model import Attribution, Lead
from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.services.board import (
    MAX_BREACHES,
    MAX_WAITING,
    WINDOW_DAYS,
    BoardLinkRefusedError,
    board,
    check_link,
    new_link,
)
from tests.fakes import MemoryLeadStore

ZONE = "America/New_York"
# 23:00 on Monday 9 March 2026 in New York (EDT, UTC-4): already Tuesday in UTC.
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
SECRET = "board-secret-for-tests"
WEEKDAYS_9_TO_5 = {d: ((9 * 60, 17 * 60),) for d in ("mon", "tue", "wed", "thu", "fri")}
REPS = (
    RepConfig(id="ana", name="Ana Ruiz", timezone="America/Los_Angeles", hours=WEEKDAYS_9_TO_5),
    RepConfig(id="ben", name="Ben Okafor", timezone=ZONE, hours=WEEKDAYS_9_TO_5),
    RepConfig(id="cy", name="Cy Park", status="paused"),
    RepConfig(
        id="dev",
        name="Dev Shah",
        status="out_of_office",
        out_of_office_until=datetime(2026, 3, 16, 13, 0, tzinfo=UTC),
    ),
    RepConfig(
        id="eve",
        name="Eve Lin",
        status="out_of_office",
        out_of_office_until=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),  # back since
    ),
    RepConfig(id="fay", name="Fay Ng", status="out_of_office"),  # no return date
)
TEAM = TeamConfig(name="Acme", timezone=ZONE, reps=REPS)
_ids = iter(range(1_000_000))


class CountingStore(MemoryLeadStore):
    """The in-memory store, counting the reads the board makes."""

    def __init__(self) -> None:
        super().__init__()
        self.lead_reads = 0
        self.days_read: list[date] = []

    def get_lead(self, lead_id: str) -> Lead | None:
        self.lead_reads += 1
        return super().get_lead(lead_id)

    def facts(self, day: date) -> list[LeadFact]:
        self.days_read.append(day)
        return super().facts(day)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


def add(
    store: MemoryLeadStore, *, name: str | None = "Kai Moss", ago: timedelta, **changes: Any
) -> LeadFact:
    """A lead that came in `ago` before NOW from the website, with its fact on its local day."""
    lead_id = f"ld_{next(_ids):05d}"
    created = NOW - ago
    touch = Attribution(source=changes.get("source", "website"), channel="form")
    store.leads[lead_id] = Lead(
        lead_id=lead_id,
        created_at=created,
        updated_at=created,
        first_touch=touch,
        last_touch=touch,
        name=name,
        phone="+14155550165",
    )
    fields: dict[str, Any] = {"lead_id": lead_id, "created_at": created, "source": "website"}
    fact = LeadFact(**(fields | changes))
    store.fact_rows.setdefault(bucket_day(created, ZONE), {})[lead_id] = fact
    return fact


def due(minutes: float) -> datetime:
    """A due time `minutes` from NOW (negative: past)."""
    return NOW + timedelta(minutes=minutes)


def answered(late_by: timedelta = timedelta(0), **changes: Any) -> dict[str, Any]:
    """Fact fields of a lead due 10 minutes ago and answered `late_by` after its due time."""
    return {
        "due_at": due(-10),
        "responded_at": due(-10) + late_by,
        "sla_met": late_by <= timedelta(0),
        **changes,
    }


# --- waiting leads ---------------------------------------------------------------------------


def test_waiting_leads_are_ordered_by_due_time_with_the_most_overdue_first(
    store: CountingStore,
) -> None:
    later = add(store, ago=timedelta(minutes=1), due_at=due(9), owner="ana")
    overdue = add(store, ago=timedelta(minutes=20), due_at=due(-15), owner="ben")
    no_clock = add(store, ago=timedelta(hours=2), owner="ana")
    soon = add(store, ago=timedelta(minutes=4), due_at=due(1), owner="ben")
    missed_just = add(store, ago=timedelta(minutes=6), due_at=due(-1))

    view = board(now=NOW, team=TEAM, store=store)

    expected = [overdue, missed_just, soon, later, no_clock]
    assert [row.lead_id for row in view.waiting] == [f.lead_id for f in expected]
    assert [row.state for row in view.waiting] == ["missed", "missed", "due_soon", "ok", "no_sla"]
    assert view.waiting_total == 5 and view.waiting_more == 0


def test_a_waiting_row_counts_down_to_the_due_time_and_names_the_owner(
    store: CountingStore,
) -> None:
    add(store, name="Kai Moss", ago=timedelta(seconds=95), due_at=due(0.5), owner="ana")
    add(store, name=None, ago=timedelta(minutes=8), due_at=due(-3), claimed_by="ben")

    soon, missed = board(now=NOW, team=TEAM, store=store).waiting[::-1]

    assert (soon.name, soon.owner_name, soon.source) == ("Kai Moss", "Ana Ruiz", "website")
    assert (soon.waiting_s, soon.due_in_s, soon.state) == (95.0, 30.0, "due_soon")
    assert (missed.name, missed.owner, missed.owner_name) == (None, None, None)
    assert (missed.due_in_s, missed.claimed_by_name) == (-180.0, "Ben Okafor")


def test_answered_lost_and_won_leads_do_not_wait(store: CountingStore) -> None:
    add(store, ago=timedelta(minutes=30), **answered())
    add(store, ago=timedelta(minutes=30), due_at=due(-20), lost=True)
    add(store, ago=timedelta(minutes=30), due_at=due(-20), stage="won")
    still = add(store, ago=timedelta(minutes=30), due_at=due(-20), stage="sql")

    view = board(now=NOW, team=TEAM, store=store)

    assert [row.lead_id for row in view.waiting] == [still.lead_id]


def test_the_board_reads_a_weeks_local_days_and_an_older_unanswered_lead_drops_off(
    store: CountingStore,
) -> None:
    six_days = add(store, ago=timedelta(days=6, hours=20), due_at=due(-60 * 24 * 6))
    add(store, ago=timedelta(days=7, hours=1), due_at=due(-60 * 24 * 7))

    view = board(now=NOW, team=TEAM, store=store)

    assert [row.lead_id for row in view.waiting] == [six_days.lead_id]
    today = date(2026, 3, 9)  # New York's date at NOW, not UTC's 10 March
    assert store.days_read == [today - timedelta(days=n) for n in range(WINDOW_DAYS)]


def test_only_the_first_fifty_waiting_leads_are_read_and_shown_and_the_rest_counted(
    store: CountingStore,
) -> None:
    for n in range(MAX_WAITING + 12):
        add(store, ago=timedelta(minutes=90), due_at=due(n - 80), owner="ana")

    view = board(now=NOW, team=TEAM, store=store)

    assert len(view.waiting) == MAX_WAITING and view.waiting_more == 12
    assert store.lead_reads == MAX_WAITING
    assert view.waiting[0].due_in_s == -80 * 60.0  # the most overdue of them all
    ana = next(r for r in view.reps if r.rep_id == "ana")
    assert ana.open_leads == MAX_WAITING + 12  # a rep's count includes the leads not shown


def test_a_lead_gone_from_the_store_still_shows_from_its_fact_without_a_name(
    store: CountingStore,
) -> None:
    fact = add(store, ago=timedelta(minutes=3), due_at=due(5))
    del store.leads[fact.lead_id]

    (row,) = board(now=NOW, team=TEAM, store=store).waiting

    assert (row.lead_id, row.name, row.state) == (fact.lead_id, None, "ok")


# --- breaches today ----------------------------------------------------------------------------


def test_breaches_today_count_on_the_teams_wall_clock_not_utc(store: CountingStore) -> None:
    # 21:00 on 9 March in New York: today there, though 10 March in UTC.
    tonight = add(store, ago=timedelta(hours=2), due_at=due(-115), owner="ben")
    # 23:30 on 8 March in New York: yesterday there, though 9 March in UTC.
    yesterday = add(store, ago=timedelta(hours=23, minutes=30), due_at=due(-23 * 60))

    view = board(now=NOW, team=TEAM, store=store)

    assert [b.lead_id for b in view.breaches] == [tonight.lead_id]
    assert view.breaches_total == 1
    assert {w.lead_id for w in view.waiting} == {tonight.lead_id, yesterday.lead_id}
    (breach,) = view.breaches
    assert (breach.owner_name, breach.answered, breach.late_s) == ("Ben Okafor", False, 115 * 60.0)


def test_a_lead_answered_late_today_is_a_breach_and_one_answered_in_time_is_not(
    store: CountingStore,
) -> None:
    late = add(store, ago=timedelta(hours=1), owner="ana", **answered(timedelta(minutes=4)))
    add(store, ago=timedelta(hours=1), owner="ana", **answered(-timedelta(minutes=4)))
    add(store, ago=timedelta(minutes=3), due_at=due(2))  # not due yet: no breach

    view = board(now=NOW, team=TEAM, store=store)

    assert [(b.lead_id, b.answered, b.late_s) for b in view.breaches] == [
        (late.lead_id, True, 240.0)
    ]


def test_todays_breaches_list_the_latest_first_and_only_twenty(store: CountingStore) -> None:
    facts = [
        add(store, ago=timedelta(hours=3), due_at=due(-170 + n)) for n in range(MAX_BREACHES + 5)
    ]

    view = board(now=NOW, team=TEAM, store=store)

    assert view.breaches_total == MAX_BREACHES + 5 and view.breaches_more == 5
    assert [b.lead_id for b in view.breaches] == [f.lead_id for f in facts[::-1][:MAX_BREACHES]]


# --- reps --------------------------------------------------------------------------------------


def test_rep_rows_show_status_off_hours_return_time_and_open_leads(store: CountingStore) -> None:
    add(store, ago=timedelta(minutes=3), due_at=due(2), owner="ana")
    add(store, ago=timedelta(minutes=3), due_at=due(2), owner="ana")
    add(store, ago=timedelta(minutes=3), due_at=due(2), owner="dev")
    add(store, ago=timedelta(minutes=30), owner="ben", **answered())  # answered: not open

    rows = {r.rep_id: r for r in board(now=NOW, team=TEAM, store=store).reps}

    assert list(rows) == [r.id for r in REPS]  # the team file's order
    # 20:00 on a Monday in Los Angeles and 23:00 in New York: both past their 9 to 5.
    assert (rows["ana"].status, rows["ana"].off_hours, rows["ana"].open_leads) == (
        "active",
        True,
        2,
    )
    assert (rows["ben"].status, rows["ben"].open_leads) == ("active", 0)
    assert rows["cy"].status == "paused" and rows["cy"].off_hours is False  # no hours: always on
    assert rows["dev"].status == "out_of_office" and rows["dev"].open_leads == 1
    assert rows["dev"].out_of_office_until == datetime(2026, 3, 16, 13, 0, tzinfo=UTC)
    assert (rows["eve"].status, rows["eve"].out_of_office_until) == ("active", None)
    assert (rows["fay"].status, rows["fay"].out_of_office_until) == ("out_of_office", None)


def test_a_rep_inside_their_hours_is_not_off_hours(store: CountingStore) -> None:
    monday_10am_new_york = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)

    rows = {r.rep_id: r for r in board(now=monday_10am_new_york, team=TEAM, store=store).reps}

    assert rows["ben"].off_hours is False
    assert rows["ana"].off_hours is True  # 07:00 in Los Angeles


def test_an_owner_who_left_the_team_shows_by_id_and_unassigned_leads_are_counted(
    store: CountingStore,
) -> None:
    add(store, ago=timedelta(minutes=3), due_at=due(2), owner="zed")
    add(store, ago=timedelta(minutes=3), due_at=due(3))

    view = board(now=NOW, team=TEAM, store=store)

    assert [w.owner_name for w in view.waiting] == ["zed", None]
    assert view.unassigned == 1
    assert "zed" not in {r.rep_id for r in view.reps}


# --- board links -------------------------------------------------------------------------------


def test_a_new_board_link_opens_the_board_until_it_expires() -> None:
    link = new_link(now=NOW, secret=SECRET, days=2)

    assert link.expires == NOW + timedelta(days=2)
    check_link(link.token, now=NOW + timedelta(days=2) - timedelta(seconds=1), secret=SECRET)
    with pytest.raises(BoardLinkRefusedError) as refused:
        check_link(link.token, now=NOW + timedelta(days=2), secret=SECRET)
    assert refused.value.reason == "expired"


def test_a_board_link_lasts_thirty_days_unless_told() -> None:
    assert new_link(now=NOW, secret=SECRET).expires == NOW + timedelta(days=30)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (sign(grant("ld_1", "ana", "open", now=NOW), SECRET), "not_allowed"),
        (sign(grant("board", "wall", "board", now=NOW), "another-secret"), "tampered"),
        ("not-a-token", "malformed"),
    ],
)
def test_a_lead_link_a_foreign_link_or_garbage_does_not_open_the_board(
    token: str, reason: str
) -> None:
    with pytest.raises(BoardLinkRefusedError) as refused:
        check_link(token, now=NOW, secret=SECRET)
    assert refused.value.reason == reason


@pytest.mark.parametrize("days", [0, -1, 366, "30", 1.5, True, None])
def test_a_board_link_needs_a_whole_number_of_days_up_to_a_year(days: Any) -> None:
    with pytest.raises(InvalidPayloadError) as refused:
        new_link(now=NOW, secret=SECRET, days=days)
    assert refused.value.field == "days"
