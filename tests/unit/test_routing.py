"""Routing: rules pick the queue; weighted rotation, stickiness and fallbacks pick the owner."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from chalicelib.domain.capture import Capture
from chalicelib.domain.hours import RepLoad
from chalicelib.domain.model import Attribution
from chalicelib.domain.routing import NOBODY, Assignment, choose, cycle, decide, match_queue
from chalicelib.domain.team import (
    Member,
    QueueConfig,
    RepConfig,
    RuleConfig,
    SourceConfig,
    TeamConfig,
    TrackingNumber,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
REASONS = ("paused", "out_of_office", "outside_hours", "at_cap_open", "at_cap_daily")

# A queue's members: distinct rep ids with weights 1..6.
members_st = st.dictionaries(
    st.sampled_from("abcdefgh"), st.integers(1, 6), min_size=1, max_size=6
).map(lambda weights: tuple(Member(rep, w) for rep, w in weights.items()))
positions = st.integers(0, 1_000_000)
reason_st = st.one_of(st.none(), st.sampled_from(REASONS))


def all_eligible(members: tuple[Member, ...]) -> dict[str, str | None]:
    return {m.rep: None for m in members}


def owners(start: int, count: int, members: tuple[Member, ...], reasons: Any) -> Counter[str]:
    return Counter(choose(n, members, reasons).owner or "-" for n in range(start, start + count))


# -- the cycle ---------------------------------------------------------------------------------


@given(members_st)
def test_cycle_holds_each_member_exactly_weight_times(members: tuple[Member, ...]) -> None:
    assert Counter(cycle(members)) == {m.rep: m.weight for m in members}


@given(members_st)
def test_cycle_never_repeats_a_rep_unless_its_weight_exceeds_the_rest_plus_one(
    members: tuple[Member, ...],
) -> None:
    turns, total = cycle(members), sum(m.weight for m in members)
    weight = {m.rep: m.weight for m in members}
    for here, after in pairwise(turns):
        assert here != after or weight[here] > total - weight[here] + 1


@given(members_st)
def test_cycle_wraps_around_without_a_repeat_unless_one_rep_holds_over_half(
    members: tuple[Member, ...],
) -> None:
    turns, total = cycle(members), sum(m.weight for m in members)
    weight = {m.rep: m.weight for m in members}
    if len(turns) > 1 and turns[-1] == turns[0]:
        assert 2 * weight[turns[0]] > total


def test_cycle_of_two_one_one_alternates_the_heavy_rep() -> None:
    assert cycle((Member("a", 2), Member("b", 1), Member("c", 1))) == ("a", "b", "a", "c")


def test_rep_with_weight_zero_is_never_in_turn() -> None:
    assert cycle((Member("a", 1), Member("b", 0))) == ("a",)


# -- rotation over positions -------------------------------------------------------------------


@given(members_st, positions, st.integers(1, 3))
def test_every_window_of_w_times_k_positions_gives_each_rep_weight_times_k(
    members: tuple[Member, ...], start: int, k: int
) -> None:
    total = sum(m.weight for m in members)
    counts = owners(start, total * k, members, all_eligible(members))
    assert counts == {m.rep: m.weight * k for m in members}


@given(st.integers(1, 8), positions, st.integers(1, 60))
def test_equal_weights_give_counts_within_one_over_any_run_of_positions(
    reps: int, start: int, count: int
) -> None:
    members = tuple(Member(f"r{i}") for i in range(reps))
    counts = owners(start, count, members, all_eligible(members))
    per_rep = [counts[m.rep] for m in members]
    assert max(per_rep) - min(per_rep) <= 1


@given(members_st, positions, st.data())
def test_lead_skips_ineligible_reps_to_the_next_eligible_one_in_cycle_order(
    members: tuple[Member, ...], position: int, data: st.DataObject
) -> None:
    reasons = {m.rep: data.draw(reason_st) for m in members}
    assume(any(r is None for r in reasons.values()))
    turns = cycle(members)
    choice = choose(position, members, reasons)
    assert choice.owner is not None and reasons[choice.owner] is None
    walk = [turns[(choice.slot + i) % len(turns)] for i in range(len(turns))]
    passed = walk[: walk.index(choice.owner)]
    assert choice.slot == position % len(turns)
    assert all(reasons[rep] is not None for rep in passed)
    assert choice.skipped == tuple((rep, reasons[rep]) for rep in dict.fromkeys(passed))
    assert set(choice.eligible) == {rep for rep, why in reasons.items() if why is None}


@given(members_st, positions, st.data())
def test_nobody_eligible_means_no_owner_and_each_rep_skipped_once(
    members: tuple[Member, ...], position: int, data: st.DataObject
) -> None:
    reasons = {m.rep: data.draw(st.sampled_from(REASONS)) for m in members}
    choice = choose(position, members, reasons)
    assert choice.owner is None and choice.eligible == ()
    assert sorted(rep for rep, _ in choice.skipped) == sorted(reasons)
    assert all(why == reasons[rep] for rep, why in choice.skipped)


@given(members_st, positions, st.data())
def test_no_eligible_rep_starves_over_any_w_consecutive_positions(
    members: tuple[Member, ...], start: int, data: st.DataObject
) -> None:
    reasons = {m.rep: data.draw(reason_st) for m in members}
    total = sum(m.weight for m in members)
    counts = owners(start, total, members, reasons)
    for rep, why in reasons.items():
        assert (counts[rep] >= 1) if why is None else counts[rep] == 0


@given(members_st, positions, st.data())
def test_skipped_rep_is_not_owed_a_burst_when_back(
    members: tuple[Member, ...], back_at: int, data: st.DataObject
) -> None:
    away = data.draw(st.sampled_from([m.rep for m in members]))
    total = sum(m.weight for m in members)

    def owner(n: int) -> str | None:
        reasons = all_eligible(members) | ({away: "paused"} if n < back_at else {})
        return choose(n, members, reasons).owner

    after = Counter(owner(n) for n in range(back_at, back_at + total))
    assert after == {m.rep: m.weight for m in members}


@given(members_st, positions, st.data())
def test_excluded_reps_are_never_chosen_and_say_why(
    members: tuple[Member, ...], position: int, data: st.DataObject
) -> None:
    reps = [m.rep for m in members]
    current = data.draw(st.sampled_from(reps))
    tried = frozenset(data.draw(st.lists(st.sampled_from(reps))))
    choice = choose(position, members, all_eligible(members), tried, current_owner=current)
    assert choice.owner not in tried | {current}
    for rep, why in choice.skipped:
        assert why == ("current_owner" if rep == current else "already_tried")


def test_empty_queue_chooses_nobody() -> None:
    assert choose(7, (), {}).owner is None


def test_rep_missing_from_reasons_is_not_eligible() -> None:
    choice = choose(0, (Member("a"), Member("b")), {"b": None})
    assert choice.owner == "b" and choice.skipped == (("a", "unknown_rep"),)


# -- decide: stickiness, caps, fallback ----------------------------------------------------------


def team_of(*reps: RepConfig, **queue: Any) -> TeamConfig:
    members = tuple(Member(r.id) for r in reps)
    return TeamConfig(
        name="acme",
        reps=reps,
        queues=(QueueConfig(name="sales", **({"members": members} | queue)),),
    )


ANA, BEN, CAT = (RepConfig(id=i, name=i.title()) for i in ("ana", "ben", "cat"))


def decide_at(team: TeamConfig, position: int = 0, **kw: Any) -> Assignment:
    args: dict[str, Any] = {"loads": {}, "sticky_owner": None, "sticky_assigned_at": None} | kw
    return decide(team, "sales", None, position, NOW, **args)


@given(
    st.integers(0, 60),
    st.integers(1, 45),
    st.sampled_from(("active", "paused", "out_of_office")),
    st.integers(0, 5),
)
def test_sticky_owner_is_kept_only_when_eligible_and_within_the_window(
    days_ago: int, window: int, status: str, open_leads: int
) -> None:
    team = team_of(replace(ANA, status=status, max_open=3), BEN, sticky_days=window)
    got = decide_at(
        team,
        position=0,
        sticky_owner="ana",
        sticky_assigned_at=NOW - timedelta(days=days_ago),
        loads={"ana": RepLoad(open=open_leads)},
    )
    keep = days_ago <= window and status == "active" and open_leads < 3
    assert (got.how == "sticky") is keep
    assert (got.owner, got.how) == ("ana", "sticky") if keep else got.how == "rotation"


def test_sticky_owner_outside_the_queue_is_still_kept() -> None:
    team = replace(team_of(BEN), reps=(ANA, BEN))
    got = decide_at(team, sticky_owner="ana", sticky_assigned_at=NOW - timedelta(days=1))
    assert (got.owner, got.how, got.position) == ("ana", "sticky", None)


def test_non_sticky_queue_rotates_a_returning_person() -> None:
    team = team_of(ANA, BEN, sticky=False)
    got = decide_at(team, position=1, sticky_owner="ana", sticky_assigned_at=NOW)
    assert (got.owner, got.how) == ("ben", "rotation")


def test_reassignment_never_returns_the_current_owner_even_if_sticky() -> None:
    team = team_of(ANA, BEN)
    got = decide_at(team, sticky_owner="ana", sticky_assigned_at=NOW, current_owner="ana")
    assert (got.owner, got.how, got.skipped) == ("ben", "rotation", (("ana", "current_owner"),))


def test_rep_at_cap_is_skipped_with_the_cap_as_reason() -> None:
    team = team_of(replace(ANA, max_open=2), replace(BEN, max_per_day=5), CAT)
    got = decide_at(team, loads={"ana": RepLoad(open=2), "ben": RepLoad(today=5)})
    assert got.owner == "cat"
    assert got.skipped == (("ana", "at_cap_open"), ("ben", "at_cap_daily"))
    assert got.eligible == ("cat",)


def test_explanation_carries_weights_position_and_slot() -> None:
    team = team_of(ANA, BEN)
    team = replace(team, queues=(QueueConfig("sales", (Member("ana", 3), Member("ben", 1))),))
    got = decide_at(team, position=9)
    assert got.weights == {"ana": 3, "ben": 1}
    assert (got.position, got.slot, got.how) == (9, 1, "rotation")


def test_fallback_owner_takes_the_lead_even_when_unavailable_and_says_so() -> None:
    boss = RepConfig(id="boss", name="Boss", status="paused")
    paused_ana = replace(ANA, status="paused")
    team = replace(team_of(paused_ana, fallback_owner="boss"), reps=(paused_ana, boss))
    got = decide_at(team)
    assert (got.owner, got.how) == ("boss", "fallback_owner")
    assert got.reason == "no eligible member; fallback owner is paused"
    assert got.skipped == (("ana", "paused"),)


def test_nobody_eligible_and_no_fallback_is_unassigned_with_a_reason() -> None:
    got = decide_at(team_of(replace(ANA, status="paused")))
    assert (got.owner, got.how, got.reason) == (None, "unassigned", NOBODY)


def test_fallback_owner_who_is_the_current_owner_leaves_the_lead_unassigned() -> None:
    team = replace(team_of(ANA, fallback_owner="ben"), reps=(ANA, BEN))
    got = decide_at(team, current_owner="ana", exclude=frozenset({"ben"}))
    assert (got.owner, got.how) == (None, "unassigned")
    assert got.reason == "no eligible member and fallback owner ben was excluded"


def test_unknown_queue_is_unassigned() -> None:
    got = decide(team_of(ANA), "nope", "r1", 0, NOW, {}, None, None)
    assert (got.queue, got.rule, got.owner, got.how, got.reason) == (
        "nope",
        "r1",
        None,
        "unassigned",
        "unknown queue",
    )


def test_assignment_round_trips_through_json() -> None:
    got = decide_at(team_of(replace(ANA, status="paused"), BEN))
    data = json.loads(json.dumps(got.to_dict()))
    assert data["skipped"] == [{"rep": "ana", "reason": "paused"}]
    assert Assignment.from_dict(data) == got


# -- rules ---------------------------------------------------------------------------------------


def form(source: str = "web", campaign: str | None = None, **fields: str) -> Capture:
    att = Attribution(source=source, channel="form", campaign=campaign)
    return Capture("k", "form_submitted", "form", att, detail={"fields": fields})


def call(number: str, source: str = "web") -> Capture:
    att = Attribution(source=source, channel="call", tracking_number=number)
    return Capture("k", "call_received", "call", att)


RULES_TEAM = TeamConfig(
    name="acme",
    sources=(SourceConfig("web", "token", "env:X", queue="web-q"),),
    tracking_numbers=(TrackingNumber("+14155550111", "ads", queue="phone-q"),),
    default_queue="default-q",
    rules=(
        RuleConfig("spanish", "es-q", fields={"Language": "Español"}),
        RuleConfig("spring-web", "promo-q", source="web", campaign="spring"),
        RuleConfig("any-spring", "spring-q", campaign="spring"),
        RuleConfig("ads-line", "ads-q", tracking_number="+14155550199"),
    ),
)


def test_first_matching_rule_wins() -> None:
    assert match_queue(RULES_TEAM, form(campaign="spring")) == ("promo-q", "spring-web")
    assert match_queue(RULES_TEAM, form("other", "spring")) == ("spring-q", "any-spring")


def test_rule_needs_every_condition_it_gives() -> None:
    assert match_queue(RULES_TEAM, form(campaign="summer")) == ("web-q", None)


def test_field_rule_ignores_case_of_names_and_case_and_spaces_of_values() -> None:
    capture = form(language="  ESPAÑOL ")
    assert match_queue(RULES_TEAM, capture) == ("es-q", "spanish")
    assert match_queue(RULES_TEAM, form(language="english")) == ("web-q", None)


def test_field_rule_does_not_match_a_capture_without_fields() -> None:
    capture = Capture("k", "sms_received", "sms", Attribution(source="x", channel="sms"))
    assert match_queue(RULES_TEAM, capture) == ("default-q", None)


def test_tracking_number_rule_matches_calls_to_that_number() -> None:
    assert match_queue(RULES_TEAM, call("+14155550199", "ads")) == ("ads-q", "ads-line")


def test_unmatched_form_goes_to_its_sources_queue() -> None:
    assert match_queue(RULES_TEAM, form()) == ("web-q", None)


def test_unmatched_call_goes_to_its_numbers_queue_not_a_same_named_form_source() -> None:
    assert match_queue(RULES_TEAM, call("+14155550111", "web")) == ("phone-q", None)


def test_anything_else_goes_to_the_default_queue() -> None:
    assert match_queue(RULES_TEAM, form("unknown-form")) == ("default-q", None)
    assert match_queue(RULES_TEAM, call("+14155550000", "phone")) == ("default-q", None)


def test_no_default_queue_gives_no_queue() -> None:
    assert match_queue(replace(RULES_TEAM, default_queue=None), form("x")) == (None, None)
