"""Every metrics definition on small hand-made windows: speeds, SLA, funnel, revenue, groups,
the JSON shape, and the digest's tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.digest_tables import breach_list, digest_tables, rep_table, source_table
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.metrics import (
    MAX_WINDOW_DAYS,
    MetricsQueryError,
    compute,
    median,
    nearest_rank,
    window_days,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_ids = iter(range(1_000_000))


def fact(**changes: Any) -> LeadFact:
    """A lead that came in an hour before NOW from the web, unanswered and with no clock."""
    fields: dict[str, Any] = {
        "lead_id": f"L{next(_ids):05d}",
        "created_at": NOW - timedelta(hours=1),
        "source": "web",
    }
    fields.update(changes)
    return LeadFact(**fields)


def answered(speed: float, *, business: float | None = None, **changes: Any) -> LeadFact:
    """A lead with a clock due 5 minutes after arrival, answered after `speed` seconds."""
    created = changes.pop("created_at", NOW - timedelta(hours=1))
    due = created + timedelta(minutes=5)
    at = created + timedelta(seconds=speed)
    return fact(
        created_at=created,
        due_at=due,
        responded_at=at,
        responded_by=changes.get("owner"),
        speed_wall_s=speed,
        speed_business_s=speed if business is None else business,
        sla_met=at <= due,
        **changes,
    )


def unanswered(due_in: timedelta, **changes: Any) -> LeadFact:
    """A lead with a clock, not answered, due `due_in` from NOW (negative: overdue)."""
    return fact(due_at=NOW + due_in, **changes)


def won(amount: str, currency: str, **changes: Any) -> LeadFact:
    return fact(stage="won", won_amount=Decimal(amount), currency=currency, **changes)


# --- the empty window and one lead


def test_an_empty_window_has_zero_counts_and_no_rates() -> None:
    metrics = compute([], group_by="source", now=NOW)
    total = metrics.total
    assert (total.leads, total.contacted, total.breaches, total.lost) == (0, 0, 0, 0)
    assert total.speed_wall_s is None and total.speed_business_s is None
    assert total.within_sla_pct is None
    assert set(total.conversion_pct.values()) == {None}
    assert metrics.groups == ()
    assert metrics.revenue_by_last_touch == {}
    assert metrics.to_json()["total"]["revenue_first_touch"] == {}


def test_one_answered_lead_is_its_own_median_and_p90() -> None:
    total = compute([answered(42.5, business=12.0)], group_by=None, now=NOW).total
    assert (total.leads, total.contacted) == (1, 1)
    assert total.speed_wall_s is not None and total.speed_business_s is not None
    assert (total.speed_wall_s.median, total.speed_wall_s.p90) == (42.5, 42.5)
    assert (total.speed_business_s.median, total.speed_business_s.p90) == (12.0, 12.0)


# --- median and p90


def test_median_of_an_odd_count_is_the_middle_value() -> None:
    assert median([30.0, 10.0, 20.0]) == 20.0


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values() -> None:
    assert median([40.0, 10.0, 20.0, 30.0]) == 25.0


def test_p90_is_the_nearest_rank_so_of_ten_values_it_is_the_ninth() -> None:
    assert nearest_rank([float(v) for v in range(1, 11)], 90) == 9.0


def test_p90_of_eleven_values_rounds_the_rank_up_to_the_tenth() -> None:
    assert nearest_rank([float(v) for v in range(1, 12)], 90) == 10.0


def test_p90_of_six_values_is_the_largest_because_the_rank_rounds_up() -> None:
    assert nearest_rank([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 90) == 6.0  # ceil(5.4) = 6


def test_p90_of_two_values_is_the_larger() -> None:
    assert nearest_rank([5.0, 1.0], 90) == 5.0


def test_speeds_over_contacted_leads_only_and_unanswered_ones_do_not_pull_the_median() -> None:
    leads = [answered(10), answered(20), answered(30), answered(40), unanswered(timedelta(1))]
    total = compute(leads, group_by=None, now=NOW).total
    assert (total.leads, total.contacted) == (5, 4)
    assert total.speed_wall_s is not None
    assert (total.speed_wall_s.median, total.speed_wall_s.p90) == (25.0, 40.0)


def test_wall_and_business_speeds_are_summarised_separately() -> None:
    leads = [answered(100, business=0), answered(200, business=50), answered(900, business=60)]
    total = compute(leads, group_by=None, now=NOW).total
    assert total.speed_wall_s is not None and total.speed_business_s is not None
    assert (total.speed_wall_s.median, total.speed_wall_s.p90) == (200.0, 900.0)
    assert (total.speed_business_s.median, total.speed_business_s.p90) == (50.0, 60.0)


# --- SLA


def test_a_lead_without_a_clock_counts_as_contacted_but_never_in_sla_or_breaches() -> None:
    no_clock = fact(responded_at=NOW - timedelta(minutes=1), sla_met=False)
    total = compute([no_clock], group_by=None, now=NOW).total
    assert (total.leads, total.contacted) == (1, 1)
    assert (total.sla_met, total.sla_decided, total.breaches) == (0, 0, 0)
    assert total.within_sla_pct is None
    assert total.speed_wall_s is None  # no clock, no speed recorded


def test_unanswered_past_due_is_a_decided_breach_but_not_yet_due_is_undecided() -> None:
    overdue = unanswered(-timedelta(seconds=1))
    due_exactly_now = unanswered(timedelta(0))
    not_yet_due = unanswered(timedelta(seconds=1))
    total = compute([overdue, due_exactly_now, not_yet_due], group_by=None, now=NOW).total
    assert (total.sla_met, total.sla_decided, total.breaches) == (0, 2, 2)
    assert total.within_sla_pct == 0.0


def test_within_sla_is_met_over_answered_and_overdue() -> None:
    leads = [answered(60), answered(299), answered(301), unanswered(-timedelta(1))]
    leads.append(unanswered(timedelta(minutes=3)))  # undecided: left out of both
    total = compute(leads, group_by=None, now=NOW).total
    assert (total.sla_met, total.sla_decided, total.breaches) == (2, 4, 2)
    assert total.within_sla_pct == 50.0


def test_answered_exactly_at_due_meets_the_sla() -> None:
    total = compute([answered(300)], group_by=None, now=NOW).total
    assert (total.sla_met, total.breaches) == (1, 0)


# --- funnel


def test_funnel_counts_leads_at_or_beyond_each_stage() -> None:
    stages = ["lead", "lead", "mql", "mql", "sql", "opportunity", "won", "won"]
    leads = [fact(stage=s) for s in stages]
    total = compute(leads, group_by=None, now=NOW).total
    assert total.reached == (8, 6, 4, 3, 2)
    assert total.conversion_pct == {
        "lead_to_mql": 75.0,
        "mql_to_sql": 4 * 100 / 6,
        "sql_to_opportunity": 75.0,
        "opportunity_to_won": 2 * 100 / 3,
        "lead_to_won": 25.0,
    }


def test_a_lead_lost_after_sql_counts_up_to_sql_and_as_lost() -> None:
    total = compute([fact(stage="sql", lost=True), fact()], group_by=None, now=NOW).total
    assert total.reached == (2, 1, 1, 0, 0)
    assert total.lost == 1


def test_a_step_with_nobody_before_it_has_no_conversion_rate() -> None:
    total = compute([fact(), fact()], group_by=None, now=NOW).total
    rates = total.conversion_pct
    assert rates["lead_to_mql"] == 0.0
    assert rates["mql_to_sql"] is None
    assert rates["lead_to_won"] == 0.0


# --- revenue


def test_won_revenue_is_summed_exactly_per_currency() -> None:
    leads = [won("100.10", "USD"), won("0.20", "USD"), won("19.99", "EUR"), won("0.01", "EUR")]
    total = compute(leads, group_by=None, now=NOW).total
    assert total.revenue_first_touch == {"EUR": Decimal("20.00"), "USD": Decimal("100.30")}
    assert compute(leads, group_by=None, now=NOW).to_json()["total"]["revenue_first_touch"] == {
        "EUR": "20.00",
        "USD": "100.30",
    }


def test_amounts_in_json_are_plain_decimal_strings_never_exponents() -> None:
    leads = [won("1E+3", "JPY"), won("2.50", "USD")]
    body = compute(leads, group_by=None, now=NOW).to_json()
    assert body["total"]["revenue_first_touch"] == {"JPY": "1000", "USD": "2.50"}


def test_an_amount_on_a_lead_not_won_is_not_revenue() -> None:
    leads = [fact(stage="opportunity", won_amount=Decimal("50"), currency="USD")]
    assert compute(leads, group_by=None, now=NOW).total.revenue_first_touch == {}


def test_last_touch_revenue_goes_to_the_last_source_even_when_first_touch_was_another() -> None:
    leads = [
        won("500", "USD", source="ads", last_source="email"),
        won("70", "USD", source="email"),  # no last touch recorded: the first touch closed it
        fact(source="email"),
    ]
    metrics = compute(leads, group_by="source", now=NOW)
    rows = {row.key: row for row in metrics.groups}
    assert rows["ads"].revenue_first_touch == {"USD": Decimal("500")}
    assert rows["ads"].revenue_last_touch == {}
    assert rows["email"].revenue_first_touch == {"USD": Decimal("70")}
    assert rows["email"].revenue_last_touch == {"USD": Decimal("570")}
    assert metrics.revenue_by_last_touch == {"email": {"USD": Decimal("570")}}
    assert metrics.total.revenue_last_touch == {"USD": Decimal("570")}


def test_a_source_that_only_closed_as_last_touch_gets_a_row_with_no_leads() -> None:
    leads = [won("9.50", "GBP", source="ads", last_source="referral")]
    metrics = compute(leads, group_by="source", now=NOW)
    assert [(row.key, row.leads) for row in metrics.groups] == [("ads", 1), ("referral", 0)]
    referral = metrics.groups[1]
    assert referral.revenue_last_touch == {"GBP": Decimal("9.50")}
    assert referral.within_sla_pct is None and referral.speed_wall_s is None


def test_rows_other_than_sources_carry_no_last_touch_revenue() -> None:
    metrics = compute([won("1", "USD", owner="ana")], group_by="rep", now=NOW)
    assert metrics.groups[0].revenue_last_touch is None
    assert metrics.to_json()["groups"][0]["revenue_last_touch"] is None
    assert metrics.revenue_by_last_touch == {"web": {"USD": Decimal("1")}}


# --- grouping


def test_group_by_source_sorts_rows_by_leads_then_name() -> None:
    leads = [fact(source=s) for s in ["b", "a", "c", "c", "b", "c"]]
    metrics = compute(leads, group_by="source", now=NOW)
    assert [(row.key, row.leads) for row in metrics.groups] == [("c", 3), ("b", 2), ("a", 1)]


def test_group_by_source_with_ties_orders_by_name() -> None:
    leads = [fact(source=s) for s in ["zeta", "alpha", "mid"]]
    metrics = compute(leads, group_by="source", now=NOW)
    assert [row.key for row in metrics.groups] == ["alpha", "mid", "zeta"]


def test_group_by_campaign_puts_leads_without_one_under_none() -> None:
    leads = [fact(campaign="spring"), fact(), fact()]
    metrics = compute(leads, group_by="campaign", now=NOW)
    assert [(row.key, row.leads) for row in metrics.groups] == [("(none)", 2), ("spring", 1)]


def test_group_by_rep_uses_the_current_owner_and_unassigned() -> None:
    leads = [answered(10, owner="ana"), answered(400, owner="ana"), fact(owner="ben"), fact()]
    metrics = compute(leads, group_by="rep", now=NOW)
    rows = {row.key: row for row in metrics.groups}
    assert [row.key for row in metrics.groups] == ["ana", "(unassigned)", "ben"]
    assert (rows["ana"].leads, rows["ana"].sla_met, rows["ana"].breaches) == (2, 1, 1)
    assert rows["(unassigned)"].leads == 1


def test_group_by_queue_puts_leads_without_one_under_none() -> None:
    leads = [fact(queue="sales"), fact(queue="sales"), fact(queue="support"), fact()]
    metrics = compute(leads, group_by="queue", now=NOW)
    got = [(row.key, row.leads) for row in metrics.groups]
    assert got == [("sales", 2), ("(none)", 1), ("support", 1)]


def test_no_grouping_gives_the_total_alone() -> None:
    metrics = compute([fact(), fact(source="ads")], group_by=None, now=NOW)
    assert metrics.groups == ()
    assert metrics.total.leads == 2


def test_group_rows_add_up_to_the_total() -> None:
    leads = [answered(10, queue="a"), unanswered(-timedelta(1), queue="b"), fact(stage="won")]
    metrics = compute(leads, group_by="queue", now=NOW)
    assert sum(row.leads for row in metrics.groups) == metrics.total.leads == 3
    assert sum(row.breaches for row in metrics.groups) == metrics.total.breaches == 1


def test_an_unknown_group_by_is_a_value_error_the_route_answers_400() -> None:
    with pytest.raises(ValueError, match="group_by must be one of source, campaign, rep, queue"):
        compute([fact()], group_by="colour", now=NOW)
    with pytest.raises(InvalidPayloadError) as caught:
        compute([], group_by="", now=NOW)
    assert caught.value.field == "group_by"


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute([fact()], group_by=None, now=NOW.replace(tzinfo=None))


def test_facts_may_be_a_one_pass_iterator() -> None:
    metrics = compute(iter([fact(source="a"), fact(source="b")]), group_by="source", now=NOW)
    assert (metrics.total.leads, len(metrics.groups)) == (2, 2)


# --- JSON


def test_json_rounds_seconds_to_3_decimals_and_percentages_to_1() -> None:
    leads = [answered(1.23456), answered(2.0004), answered(400)]
    body = compute(leads, group_by=None, now=NOW).to_json()
    total = body["total"]
    assert total["speed_wall_s"] == {"median": 2.0, "p90": 400.0}
    assert total["within_sla_pct"] == 66.7
    assert total["funnel"] == {"lead": 3, "mql": 0, "sql": 0, "opportunity": 0, "won": 0}
    assert total["conversion_pct"]["lead_to_mql"] == 0.0
    assert total["conversion_pct"]["mql_to_sql"] is None


def test_json_has_every_field_the_route_returns() -> None:
    body = compute([won("3", "USD", last_source="ads")], group_by="source", now=NOW).to_json()
    assert set(body) == {"group_by", "total", "groups", "revenue_by_last_touch"}
    assert set(body["total"]) == {
        "key",
        "leads",
        "contacted",
        "speed_wall_s",
        "speed_business_s",
        "within_sla_pct",
        "sla_met",
        "sla_decided",
        "breaches",
        "funnel",
        "conversion_pct",
        "lost",
        "revenue_first_touch",
        "revenue_last_touch",
    }
    assert body["revenue_by_last_touch"] == {"ads": {"USD": "3"}}
    assert [g["key"] for g in body["groups"]] == ["web", "ads"]


# --- the window


def test_a_window_includes_both_ends() -> None:
    days = window_days(date(2026, 3, 7), date(2026, 3, 9))
    assert days == [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    assert window_days(date(2026, 3, 7), date(2026, 3, 7)) == [date(2026, 3, 7)]


def test_a_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(MetricsQueryError) as caught:
        window_days(date(2026, 3, 9), date(2026, 3, 8))
    assert caught.value.field == "to"


def test_a_window_longer_than_a_year_and_a_day_is_refused() -> None:
    start = date(2025, 1, 1)
    assert len(window_days(start, start + timedelta(days=MAX_WINDOW_DAYS - 1))) == 366
    with pytest.raises(MetricsQueryError, match="at most 366 days"):
        window_days(start, start + timedelta(days=MAX_WINDOW_DAYS))


# --- the digest's tables


def test_rep_table_credits_leads_to_owners_and_claims_to_claimers() -> None:
    leads = [
        answered(10, owner="ana", claimed_by="ana"),
        answered(30, owner="ana", claimed_by="cat"),
        answered(400, owner="ana"),
        unanswered(-timedelta(minutes=2), owner="ben"),
        fact(),
    ]
    lines = {line.rep: line for line in rep_table(leads, now=NOW)}
    assert [line.rep for line in rep_table(leads, now=NOW)] == [
        "ana",
        "(unassigned)",
        "ben",
        "cat",
    ]
    ana, ben, cat = lines["ana"], lines["ben"], lines["cat"]
    assert (ana.leads, ana.contacted, ana.median_response_s, ana.breaches, ana.claims) == (
        3,
        3,
        30.0,
        1,
        1,
    )
    assert (ben.leads, ben.median_response_s, ben.breaches, ben.claims) == (1, None, 1, 0)
    assert (cat.leads, cat.claims) == (0, 1)


def test_source_table_gives_sla_and_conversion_to_sql_and_won() -> None:
    leads = [
        answered(10, source="ads", stage="sql"),
        answered(400, source="ads", stage="won", won_amount=Decimal(1), currency="USD"),
        fact(source="ads", stage="opportunity", lost=True),
        fact(source="ads"),
        fact(source="web"),
    ]
    ads, web = source_table(leads, now=NOW)
    assert ads.source == "ads"
    assert (ads.leads, ads.within_sla_pct, ads.to_sql_pct, ads.to_won_pct) == (4, 50.0, 75.0, 25.0)
    assert (web.leads, web.within_sla_pct, web.to_sql_pct) == (1, None, 0.0)


def test_breach_list_says_how_late_and_whether_answered_since_most_late_first() -> None:
    answered_late = answered(400, owner="ana")  # 100 s past due
    still_waiting = unanswered(-timedelta(minutes=10), owner="ben", source="ads")
    barely = unanswered(timedelta(0))
    leads = [answered_late, still_waiting, barely, answered(10), unanswered(timedelta(1))]
    lines = breach_list(leads, now=NOW)
    got = [(line.lead_id, line.late_s, line.contacted) for line in lines]
    assert got == [
        (still_waiting.lead_id, 600.0, False),
        (answered_late.lead_id, 100.0, True),
        (barely.lead_id, 0.0, False),
    ]
    assert lines[0].to_json() == {
        "lead_id": still_waiting.lead_id,
        "source": "ads",
        "owner": "ben",
        "late_s": 600.0,
        "contacted": False,
    }


def test_breach_list_leaves_out_leads_without_a_clock() -> None:
    assert breach_list([fact(sla_met=False, responded_at=NOW)], now=NOW) == ()


def test_digest_tables_read_a_one_pass_iterator_once_for_all_three() -> None:
    leads = iter([answered(400, owner="ana", source="ads")])
    tables = digest_tables(leads, now=NOW).to_json()
    assert [line["rep"] for line in tables["reps"]] == ["ana"]
    assert [line["source"] for line in tables["sources"]] == ["ads"]
    assert [line["late_s"] for line in tables["breaches"]] == [100.0]
