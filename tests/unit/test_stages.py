"""The funnel's rules (chalicelib/domain/stages.py) and the stage service on fakes: what a move
must carry, which moves are allowed, and that any sequence of moves leaves the lead somewhere
the rules can reach."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import ConflictError, InvalidPayloadError
from chalicelib.domain.facts import LOST, STAGES
from chalicelib.domain.model import Attribution, Lead
from chalicelib.domain.stages import Move, decide, read_at, read_by, read_move
from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.ports import LeadChange
from chalicelib.services.stages import change_stage
from chalicelib.services.worker import Worker
from tests.fakes import T0, FakeClock, FakeTimers, MemoryLeadStore, StaticTeamStore
from tests.integration.builders import change, form, record

TEAM = TeamConfig(
    name="t",
    reps=(
        RepConfig(id="ana", name="Ana", email="Ana@Example.com"),
        RepConfig(id="ben", name="Ben"),
    ),
)
ANY_STAGE = (*STAGES, LOST)
FINAL = ("won", LOST)


def lead_at(stage: str = "lead", **fields: Any) -> Lead:
    touch = Attribution(source="website", channel="form")
    lead = Lead(lead_id="ld_a", created_at=T0, updated_at=T0, first_touch=touch, last_touch=touch)
    furthest = fields.pop("furthest_stage", stage if stage in STAGES else "lead")
    return replace(lead, stage=stage, furthest_stage=furthest, **fields)


def refused(exc: pytest.ExceptionInfo[Any], field: str, *words: str) -> None:
    assert exc.value.field == field
    for word in words:
        assert word in exc.value.message


# --- what a move must carry ----------------------------------------------------------------


def test_an_unknown_stage_is_400_listing_the_stages() -> None:
    with pytest.raises(InvalidPayloadError) as exc:
        read_move("closed", {})
    refused(exc, "stage", "lead, mql, sql, opportunity, won, lost")


@pytest.mark.parametrize("stage", [None, 3, ["sql"], ""])
def test_a_stage_that_is_not_a_name_is_400(stage: Any) -> None:
    with pytest.raises(InvalidPayloadError) as exc:
        read_move(stage, {})
    refused(exc, "stage", "must be one of")


def test_stage_names_are_read_whatever_their_case() -> None:
    assert read_move(" SQL ", {}) == Move("sql")


@pytest.mark.parametrize(
    ("given", "amount"),
    [
        ("1200.50", "1200.50"),
        (" 7.5 ", "7.5"),
        ("0.01", "0.01"),
        (1200, "1200"),
        (19.99, "19.99"),  # a JSON number is read by what it says, not by float arithmetic
        (0.1, "0.1"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_won_reads_the_amount_exactly(given: Any, amount: str) -> None:
    move = read_move("won", {"amount": given, "currency": "usd"})
    assert (move.amount, str(move.amount), move.currency) == (Decimal(amount), amount, "USD")


@pytest.mark.parametrize(
    "amount",
    ["0", 0, "0.00", -5, "-5", "1.234", 1.005, "1e3", "1,200", "abc", "", True, [], {}, 10**13],
)
def test_a_won_amount_that_is_not_positive_with_two_places_is_400_naming_amount(
    amount: Any,
) -> None:
    with pytest.raises(InvalidPayloadError) as exc:
        read_move("won", {"amount": amount, "currency": "USD"})
    refused(exc, "amount", "positive amount with at most 2 decimal places")


def test_won_without_an_amount_or_currency_is_400_naming_it() -> None:
    with pytest.raises(InvalidPayloadError) as no_amount:
        read_move("won", {"currency": "USD"})
    with pytest.raises(InvalidPayloadError) as no_currency:
        read_move("won", {"amount": "10"})
    refused(no_amount, "amount", "required")
    refused(no_currency, "currency", "required")


@pytest.mark.parametrize("currency", ["US", "USDX", "U$D", 840, "", "€"])
def test_a_currency_that_is_not_three_letters_is_400(currency: Any) -> None:
    with pytest.raises(InvalidPayloadError) as exc:
        read_move("won", {"amount": "10", "currency": currency})
    refused(exc, "currency", "ISO 4217")


@pytest.mark.parametrize(
    ("stage", "fields", "field"),
    [
        ("sql", {"amount": "10"}, "amount"),
        ("mql", {"reason": "x"}, "reason"),
        ("lost", {"currency": "USD"}, "currency"),
        ("won", {"amount": "10", "currency": "USD", "reason": "x"}, "reason"),
    ],
)
def test_a_field_the_stage_does_not_take_is_400_naming_it(
    stage: str, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidPayloadError) as exc:
        read_move(stage, fields)
    refused(exc, field, f"is not taken by stage '{stage}'")


def test_lost_takes_an_optional_reason_of_at_most_200_characters() -> None:
    assert read_move("lost", {}) == Move(LOST)
    assert read_move("lost", {"reason": " went with a competitor "}).reason == (
        "went with a competitor"
    )
    with pytest.raises(InvalidPayloadError) as exc:
        read_move("lost", {"reason": "x" * 201})
    refused(exc, "reason", "200")


def test_at_needs_an_offset_and_lies_within_the_last_90_days() -> None:
    assert read_at("2026-11-02T13:00:00Z", now=T0) == T0 - timedelta(hours=1)
    assert read_at((T0 - timedelta(days=89)).isoformat(), now=T0) == T0 - timedelta(days=89)
    for bad, words in [
        ("2026-11-02T13:00:00", "UTC offset"),
        ((T0 + timedelta(minutes=1)).isoformat(), "future"),
        ((T0 - timedelta(days=91)).isoformat(), "90 days"),
        ("yesterday", "ISO 8601"),
        (1700000000, "ISO 8601"),
    ]:
        with pytest.raises(InvalidPayloadError) as exc:
            read_at(bad, now=T0)
        refused(exc, "at", words)


def test_by_is_a_rep_by_id_or_email_else_the_crm_users_name() -> None:
    assert read_by("ben", TEAM) == "ben"
    assert read_by(" ana@example.COM ", TEAM) == "ana"
    assert read_by("Dana from Sales", TEAM) == "Dana from Sales"
    assert read_by(None, TEAM) is None
    for bad in ["", "   ", "x" * 65, 7]:
        with pytest.raises(InvalidPayloadError) as exc:
            read_by(bad, TEAM)
        refused(exc, "by", "64")


# --- which moves are allowed ----------------------------------------------------------------


def test_moves_go_forward_and_may_skip_stages() -> None:
    step = decide(lead_at("lead"), Move("sql"))
    assert step is not None and (step.from_stage, step.to, step.furthest) == ("lead", "sql", "sql")


def test_a_move_backwards_is_409_naming_the_current_stage() -> None:
    with pytest.raises(ConflictError) as exc:
        decide(lead_at("opportunity"), Move("mql"))
    refused(exc, "stage", "'opportunity'", "forward only")


def test_lost_is_allowed_from_any_open_stage_and_keeps_the_furthest_stage() -> None:
    for stage in STAGES[:-1]:
        step = decide(lead_at(stage), Move(LOST, reason="budget"))
        assert step is not None and (step.to, step.furthest) == (LOST, stage)


@pytest.mark.parametrize("final", FINAL)
@pytest.mark.parametrize("target", ANY_STAGE)
def test_won_and_lost_are_final_and_say_a_reopened_deal_is_a_new_lead(
    final: str, target: str
) -> None:
    lead = lead_at(final, won_amount=Decimal(10), currency="USD", furthest_stage="sql")
    move = Move(target, amount=Decimal(10), currency="USD") if target == "won" else Move(target)
    if target == final:
        assert decide(lead, move) is None
        return
    with pytest.raises(ConflictError) as exc:
        decide(lead, move)
    refused(exc, "stage", f"is {final}, which is final", "new lead")


def test_the_same_move_again_changes_nothing() -> None:
    assert decide(lead_at("sql"), Move("sql")) is None
    assert decide(lead_at(LOST, furthest_stage="mql"), Move(LOST, reason="other")) is None


def test_won_again_with_the_same_amount_changes_nothing_and_another_amount_is_409() -> None:
    lead = lead_at("won", won_amount=Decimal("100.5"), currency="EUR")
    assert decide(lead, Move("won", amount=Decimal("100.50"), currency="EUR")) is None
    with pytest.raises(ConflictError) as other:
        decide(lead, Move("won", amount=Decimal("100.51"), currency="EUR"))
    with pytest.raises(ConflictError) as currency:
        decide(lead, Move("won", amount=Decimal("100.5"), currency="USD"))
    refused(other, "amount", "100.5 EUR")
    refused(currency, "amount", "cannot be changed")


# --- any sequence of moves ------------------------------------------------------------------

MOVES = st.one_of(
    st.sampled_from(STAGES[:-1]).map(Move),
    st.builds(
        Move,
        st.just("won"),
        amount=st.sampled_from([Decimal("100"), Decimal("100.00"), Decimal("250.5")]),
        currency=st.sampled_from(["USD", "EUR"]),
    ),
    st.builds(Move, st.just(LOST), reason=st.none() | st.sampled_from(["budget", "timing"])),
)


def rank(stage: str) -> int:
    return STAGES.index(stage)


@settings(max_examples=300, deadline=None, database=None)
@given(moves=st.lists(MOVES, max_size=12))
def test_any_sequence_of_moves_follows_the_rules(moves: list[Move]) -> None:
    lead, visited = lead_at(), ["lead"]
    for move in moves:
        before = lead
        try:
            step = decide(lead, move)
        except ConflictError:
            # Refused only for a move back, a move off a final stage, or another won amount.
            assert lead.stage in FINAL or (
                move.stage in STAGES and rank(move.stage) < rank(lead.stage)
            ), (lead.stage, move)
            continue
        if step is None:
            assert move.stage == lead.stage  # a no-op is the same move again
            continue
        assert lead.stage not in FINAL and step.from_stage == lead.stage
        lead = replace(
            lead,
            stage=step.to,
            furthest_stage=step.furthest,
            won_amount=move.amount,
            currency=move.currency,
        )
        visited.append(step.to)
        assert rank(lead.furthest_stage) >= rank(before.furthest_stage)
        assert decide(lead, move) is None  # the same delivery again lands nowhere
    # Reachable by the rules: strictly forward through STAGES, then perhaps lost, and nothing
    # after won or lost.
    opened = [s for s in visited if s != LOST]
    assert [rank(s) for s in opened] == sorted({rank(s) for s in opened})
    assert visited.count(LOST) <= 1 and (LOST not in visited or visited[-1] == LOST)
    assert "won" not in visited[:-1]
    assert lead.furthest_stage == (opened[-1])
    assert lead.stage == visited[-1]


# --- the service on fakes -------------------------------------------------------------------


class Rig:
    """A landed lead in a MemoryLeadStore and the worker ports the stage service needs."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = MemoryLeadStore()
        capture = form("evt-1")
        record(self.store, capture, T0)
        landed: LeadChange = change(capture, "ld_a", T0)
        self.store.apply(replace(landed, is_new=True))
        self.worker = Worker(
            store=self.store,
            team=StaticTeamStore(TEAM),
            routing=self.store.routing,
            timers=FakeTimers(),
            alerts=self.store.alert_log,
            senders=lambda _: {},
            clock=self.clock,
            sleep=lambda _: None,
        )

    def move(self, move: Move, event_id: str | None = None) -> str:
        """Ask the service for `move`; its status, or the HTTP status of its refusal."""
        try:
            return change_stage(
                "ld_a",
                stage=move.stage,
                amount=None if move.amount is None else str(move.amount),
                currency=move.currency,
                reason=move.reason,
                source_event_id=event_id,
                source="partner" if event_id else None,
                worker=self.worker,
            ).status
        except ConflictError:
            return "409"

    def stage_touches(self) -> list[dict[str, Any]]:
        return [dict(t.detail) for t in self.store.touchpoints("ld_a") if t.kind == "stage_changed"]


@settings(max_examples=100, deadline=None, database=None)
@given(moves=st.lists(MOVES, max_size=8))
def test_each_applied_move_is_one_timeline_entry_and_a_redelivery_changes_nothing(
    moves: list[Move],
) -> None:
    rig = Rig()
    first = [rig.move(m, f"msg_{i}") for i, m in enumerate(moves)]
    lead = rig.store.get_lead("ld_a")
    assert lead is not None
    touches = rig.stage_touches()
    assert len(touches) == first.count("changed")
    # The entries chain from "lead" to where the lead is.
    tos = [t["to"] for t in touches]
    assert [t["from"] for t in touches] == ["lead", *tos][: len(tos)]
    assert lead.stage == (touches[-1]["to"] if touches else "lead")

    rig.clock.advance(seconds=30)
    again = [rig.move(m, f"msg_{i}") for i, m in enumerate(moves)]

    assert rig.store.get_lead("ld_a") == lead and rig.stage_touches() == touches
    assert [a for a, f in zip(again, first, strict=True) if f == "changed"] == (
        ["duplicate"] * first.count("changed")
    )


def test_won_credits_the_last_touch_source_and_keeps_the_first() -> None:
    rig = Rig()
    lead = rig.store.get_lead("ld_a")
    assert lead is not None
    rig.store.leads["ld_a"] = replace(
        lead, last_touch=Attribution(source="google-ads", channel="call")
    )

    assert rig.move(Move("won", amount=Decimal("5000"), currency="USD")) == "changed"

    won = rig.store.get_lead("ld_a")
    assert won is not None
    assert (won.first_touch.source, won.won_last_source) == ("website", "google-ads")
    assert (won.won_amount, won.currency, won.furthest_stage) == (Decimal("5000"), "USD", "won")
