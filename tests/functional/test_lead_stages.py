"""Lead stages through the app: POST /leads/{id}/stage with the admin key, and a CRM's
Standard-Webhooks-signed POST /webhooks/crm/{source}. Each change is on the timeline with its
time and actor, refusals are clear 4xx and store nothing, and repeated deliveries land once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import HTTPResponse
from standardwebhooks.webhooks import Webhook

from chalicelib import wiring
from chalicelib.domain.model import Attribution
from chalicelib.ports import StageChange
from tests.fakes import T0, MemoryLeadStore
from tests.functional.conftest import (
    ADMIN_KEY,
    JSON,
    PARTNER_SECRET,
    WEBSITE_TOKEN,
    Stack,
    body_of,
)

PHONE = "+14155550165"
EMAIL = "kai.moss@example.com"


def _new_lead(stack: Stack) -> str:
    reply = stack.website({"name": "Kai Moss", "phone": PHONE, "email": EMAIL})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    return lead_id


def _move(
    stack: Stack,
    lead_id: str,
    body: bytes | Mapping[str, Any],
    *,
    key: str | None = ADMIN_KEY,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": JSON, **({"x-api-key": key} if key else {}), **(headers or {})}
    return stack.post(f"/leads/{lead_id}/stage", raw, sent)


def _crm(
    stack: Stack,
    body: bytes | Mapping[str, Any],
    *,
    msg_id: str = "msg_1",
    source: str = "partner",
    secret: str = PARTNER_SECRET,
) -> HTTPResponse:
    """A stage change signed as a Standard Webhooks sender signs it (as Stack.partner does)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    now = stack.clock.now()
    signed = {
        "Content-Type": JSON,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, raw.decode()),
    }
    return stack.post(f"/webhooks/crm/{source}", raw, signed)


def _stage_touches(stack: Stack, lead_id: str) -> list[dict[str, Any]]:
    timeline = body_of(stack.api(f"/leads/{lead_id}"))["touchpoints"]
    return [t for t in timeline if t["kind"] == "stage_changed"]


def _state(stack: Stack, lead_id: str) -> tuple[Any, ...]:
    return (stack.lead(lead_id), stack.touchpoints(lead_id))


# --- the admin route ------------------------------------------------------------------------


def test_a_lead_moves_forward_skipping_stages_and_each_change_is_on_the_timeline(
    stack: Stack,
) -> None:
    lead_id = _new_lead(stack)
    stack.clock.advance(minutes=3)

    to_sql = _move(stack, lead_id, {"stage": "sql", "by": "ana"})
    stack.clock.advance(minutes=2)
    to_opportunity = _move(stack, lead_id, {"stage": "opportunity"})

    assert to_sql.status_code == 200, to_sql.body
    assert body_of(to_sql)["stage"] == "sql"
    lead = body_of(to_opportunity)
    assert (lead["stage"], lead["furthest_stage"], lead["lead_id"]) == (
        "opportunity",
        "opportunity",
        lead_id,
    )
    assert lead["stage_at"] == (T0 + timedelta(minutes=5)).isoformat()
    touches = _stage_touches(stack, lead_id)
    assert [(t["at"], t["channel"], t["detail"]) for t in touches] == [
        (
            (T0 + timedelta(minutes=3)).isoformat(),
            "rep",
            {"from": "lead", "to": "sql", "by": "ana"},
        ),
        (
            (T0 + timedelta(minutes=5)).isoformat(),
            "rep",
            {"from": "sql", "to": "opportunity", "by": "api"},
        ),
    ]


def test_won_keeps_the_exact_amount_and_credits_first_and_last_touch(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    # A later call through the Google Ads number is the lead's last touch.
    lead = stack.lead(lead_id)
    last = Attribution(source="google-ads", channel="call")
    stack.store.leads[lead_id] = replace(lead, last_touch=last)

    reply = _move(stack, lead_id, {"stage": "won", "amount": "12000.10", "currency": "usd"})

    assert reply.status_code == 200, reply.body
    # Amounts travel as strings: a float would not round-trip 12000.10.
    assert b'"won_amount":"12000.10"' in reply.body
    got = body_of(stack.api(f"/leads/{lead_id}"))
    assert (got["won_amount"], got["currency"], got["won_last_source"]) == (
        "12000.10",
        "USD",
        "google-ads",
    )
    assert (got["first_touch"]["source"], got["last_touch"]["source"]) == ("website", "google-ads")
    assert stack.lead(lead_id).won_amount == Decimal("12000.10")
    [touch] = _stage_touches(stack, lead_id)
    assert touch["detail"] == {
        "from": "lead",
        "to": "won",
        "by": "api",
        "amount": "12000.10",
        "currency": "USD",
    }


def test_a_json_number_amount_is_read_as_written(stack: Stack) -> None:
    lead_id = _new_lead(stack)

    reply = _move(stack, lead_id, b'{"stage": "won", "amount": 19.99, "currency": "EUR"}')

    assert reply.status_code == 200, reply.body
    assert stack.lead(lead_id).won_amount == Decimal("19.99")


def test_lost_keeps_the_furthest_stage_and_the_reason(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    _move(stack, lead_id, {"stage": "opportunity"})

    reply = _move(stack, lead_id, {"stage": "lost", "reason": "went with a competitor"})

    lead = body_of(reply)
    assert (lead["stage"], lead["furthest_stage"], lead["lost_reason"]) == (
        "lost",
        "opportunity",
        "went with a competitor",
    )


def test_the_same_move_again_is_200_with_the_lead_as_it_is(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    first = _move(stack, lead_id, {"stage": "won", "amount": "500", "currency": "USD"})
    before = _state(stack, lead_id)
    stack.clock.advance(minutes=1)

    again = _move(stack, lead_id, {"stage": "won", "amount": "500.00", "currency": "usd"})

    assert again.status_code == 200, again.body
    assert body_of(again) == body_of(first)
    assert _state(stack, lead_id) == before


@pytest.mark.parametrize(
    ("moves", "refused", "field", "words"),
    [
        (["sql"], {"stage": "mql"}, "stage", ["'sql'", "forward only"]),
        (["lost"], {"stage": "sql"}, "stage", ["is lost, which is final", "new lead"]),
        (["won"], {"stage": "lost"}, "stage", ["is won, which is final", "new lead"]),
        (
            ["won"],
            {"stage": "won", "amount": "101", "currency": "USD"},
            "amount",
            ["won with 100 USD"],
        ),
    ],
)
def test_a_move_the_rules_forbid_is_409_saying_why_and_stores_nothing(
    stack: Stack, moves: list[str], refused: dict[str, Any], field: str, words: list[str]
) -> None:
    lead_id = _new_lead(stack)
    for stage in moves:
        won = {"amount": "100", "currency": "USD"} if stage == "won" else {}
        assert _move(stack, lead_id, {"stage": stage, **won}).status_code == 200
    before = _state(stack, lead_id)

    reply = _move(stack, lead_id, refused)

    assert reply.status_code == 409, reply.body
    error = body_of(reply)
    assert (error["Code"], error["Field"]) == ("conflict", field)
    for word in words:
        assert word in error["Message"]
    assert _state(stack, lead_id) == before


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"{not json", "body", "invalid JSON"),
        ({}, "stage", "lead, mql, sql, opportunity, won, lost"),
        ({"stage": "closed-won"}, "stage", "must be one of"),
        ({"stage": "won", "currency": "USD"}, "amount", "required"),
        ({"stage": "won", "amount": "12.345", "currency": "USD"}, "amount", "2 decimal"),
        ({"stage": "won", "amount": -3, "currency": "USD"}, "amount", "positive"),
        ({"stage": "won", "amount": "10"}, "currency", "required"),
        ({"stage": "won", "amount": "10", "currency": "dollars"}, "currency", "ISO 4217"),
        ({"stage": "sql", "amount": "10"}, "amount", "not taken by stage 'sql'"),
        ({"stage": "lost", "reason": "x" * 201}, "reason", "200"),
        ({"stage": "sql", "at": "2026-11-02T13:00:00"}, "at", "offset"),
        ({"stage": "sql", "at": "2026-11-02T15:00:00Z"}, "at", "future"),
        ({"stage": "sql", "at": "2026-07-01T00:00:00Z"}, "at", "90 days"),
        ({"stage": "sql", "by": "x" * 65}, "by", "64"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(
    stack: Stack, body: bytes | dict[str, Any], field: str, words: str
) -> None:
    lead_id = _new_lead(stack)
    before = _state(stack, lead_id)

    reply = _move(stack, lead_id, body)

    assert reply.status_code == 400, reply.body
    error = body_of(reply)
    assert error["Field"] == field and words in error["Message"]
    assert _state(stack, lead_id) == before


def test_an_unknown_lead_is_404_and_no_key_is_401(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    before = _state(stack, lead_id)

    unknown = _move(stack, "ld_nobody", {"stage": "sql"})
    no_key = _move(stack, lead_id, {"stage": "sql"}, key=None)
    wrong_key = _move(stack, lead_id, {"stage": "sql"}, key="nope")

    assert body_of(unknown)["Code"] == "not_found" and unknown.status_code == 404
    assert (no_key.status_code, wrong_key.status_code) == (401, 401)
    assert _state(stack, lead_id) == before
    assert stack.touchpoints("ld_nobody") == []


def test_a_back_dated_move_is_kept_at_its_time(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    stack.clock.advance(days=10)
    at = T0 + timedelta(days=2)

    _move(stack, lead_id, {"stage": "mql", "at": at.isoformat(), "by": "Dana (HubSpot)"})

    lead = stack.lead(lead_id)
    assert (lead.stage, lead.stage_at) == ("mql", at)
    [touch] = _stage_touches(stack, lead_id)
    assert (touch["at"], touch["detail"]["by"]) == (at.isoformat(), "Dana (HubSpot)")


def test_a_retry_with_the_same_idempotency_key_is_done_even_after_the_lead_moved_on(
    stack: Stack,
) -> None:
    lead_id = _new_lead(stack)
    key = {"Idempotency-Key": "move-1"}
    assert _move(stack, lead_id, {"stage": "mql"}, headers=key).status_code == 200
    assert _move(stack, lead_id, {"stage": "sql"}).status_code == 200

    retry = _move(stack, lead_id, {"stage": "mql"}, headers=key)
    without_key = _move(stack, lead_id, {"stage": "mql"})

    assert (retry.status_code, body_of(retry)["stage"]) == (200, "sql")
    assert without_key.status_code == 409
    assert [t["detail"]["to"] for t in _stage_touches(stack, lead_id)] == ["mql", "sql"]


# --- the CRM webhook ------------------------------------------------------------------------


def test_a_signed_crm_change_moves_the_lead_found_by_phone(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    stack.clock.advance(hours=1)

    reply = _crm(stack, {"phone": "(415) 555-0165", "stage": "sql", "by": "ana@example.com"})

    assert reply.status_code == 200, reply.body
    assert body_of(reply) == {"lead_id": lead_id, "stage": "sql", "status": "changed"}
    [touch] = _stage_touches(stack, lead_id)
    assert (touch["channel"], touch["attribution"]["source"], touch["event_key"]) == (
        "crm",
        "partner",
        "stage:partner:msg_1",
    )
    assert touch["detail"] == {"from": "lead", "to": "sql", "by": "ana"}
    assert stack.lead(lead_id).stage_at == T0 + timedelta(hours=1)


def test_a_crm_user_leadclock_does_not_know_is_kept_by_name(stack: Stack) -> None:
    lead_id = _new_lead(stack)

    _crm(stack, {"email": EMAIL, "stage": "mql", "by": "Dana Fox"})
    _crm(stack, {"lead_id": lead_id, "stage": "sql"}, msg_id="msg_2")

    bys = [t["detail"]["by"] for t in _stage_touches(stack, lead_id)]
    assert bys == ["Dana Fox", "partner"]  # no "by": the CRM source is the actor


def test_a_repeated_crm_delivery_lands_once_even_after_the_lead_moved_on(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    won = {"lead_id": lead_id, "stage": "opportunity"}
    assert body_of(_crm(stack, won, msg_id="msg_1"))["status"] == "changed"
    assert _crm(stack, {"lead_id": lead_id, "stage": "lost"}, msg_id="msg_2").status_code == 200
    before = _state(stack, lead_id)
    stack.clock.advance(minutes=5)  # a sender's retry comes later, freshly signed

    again = _crm(stack, won, msg_id="msg_1")

    assert again.status_code == 200, again.body
    assert body_of(again) == {"lead_id": lead_id, "stage": "lost", "status": "duplicate"}
    assert _state(stack, lead_id) == before


def test_the_same_crm_move_under_another_id_is_unchanged(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    _crm(stack, {"lead_id": lead_id, "stage": "sql"}, msg_id="msg_1")
    before = _state(stack, lead_id)

    again = _crm(stack, {"lead_id": lead_id, "stage": "sql"}, msg_id="msg_9")

    assert body_of(again) == {"lead_id": lead_id, "stage": "sql", "status": "unchanged"}
    assert _state(stack, lead_id) == before


def test_crm_refusals_are_4xx_and_store_nothing(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    _crm(stack, {"lead_id": lead_id, "stage": "opportunity"}, msg_id="m0")
    before = _state(stack, lead_id)
    body = {"lead_id": lead_id, "stage": "sql"}
    other = "whsec_" + "A" * 43 + "="

    replies = {
        "backwards": _crm(stack, body, msg_id="m1"),
        "unknown lead": _crm(stack, {"phone": "+14155550199", "stage": "sql"}, msg_id="m2"),
        "no lead given": _crm(stack, {"stage": "sql"}, msg_id="m3"),
        "bad amount": _crm(
            stack, {"lead_id": lead_id, "stage": "won", "amount": "1.001"}, msg_id="m4"
        ),
        "wrong key": _crm(stack, body, msg_id="m5", secret=other),
        "unknown source": _crm(stack, body, msg_id="m6", source="nobody"),
        "token source": stack.post(
            "/webhooks/crm/website",
            json.dumps(body).encode(),
            {"Content-Type": JSON, "X-Leadclock-Token": WEBSITE_TOKEN},
        ),
    }

    statuses = {name: r.status_code for name, r in replies.items()}
    assert statuses == {
        "backwards": 409,
        "unknown lead": 404,
        "no lead given": 400,
        "bad amount": 400,
        "wrong key": 401,
        "unknown source": 401,
        "token source": 401,
    }
    assert body_of(replies["bad amount"])["Field"] == "amount"
    assert body_of(replies["no lead given"])["Field"] == "lead_id"
    assert _state(stack, lead_id) == before


# --- concurrent moves -----------------------------------------------------------------------


class MovedMeanwhile(MemoryLeadStore):
    """Runs another request just before this request's write (once): the other request read
    the lead when this one did, so both decided against the same stage."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack.routing)
        self.meanwhile: list[Any] = []
        self.changes: list[tuple[StageChange, bool]] = []

    def change_stage(self, change: StageChange) -> bool:
        while self.meanwhile:
            self.meanwhile.pop(0)()
        applied = super().change_stage(change)
        self.changes.append((change, applied))
        return applied


def _racing(stack: Stack) -> MovedMeanwhile:
    store = MovedMeanwhile(stack)
    store.leads, store.touches, store.identities = (
        stack.store.leads,
        stack.store.touches,
        stack.store.identities,
    )
    stack.store = store
    wiring.container().store = store
    return store


def test_of_two_concurrent_moves_only_one_applies_and_the_other_is_decided_again(
    stack: Stack,
) -> None:
    lead_id = _new_lead(stack)
    store = _racing(stack)
    # Both read the lead at "lead"; "opportunity" writes first, then "mql" finds the stage
    # moved, decides again, and is refused as a move backwards.
    store.meanwhile.append(lambda: _crm(stack, {"lead_id": lead_id, "stage": "opportunity"}))

    reply = _move(stack, lead_id, {"stage": "mql"})

    assert reply.status_code == 409, reply.body
    assert "'opportunity'" in body_of(reply)["Message"]
    assert [(c.expected_stage, c.stage, ok) for c, ok in store.changes] == [
        ("lead", "opportunity", True),
        ("lead", "mql", False),
    ]
    assert stack.lead(lead_id).stage == "opportunity"
    assert [t["detail"]["to"] for t in _stage_touches(stack, lead_id)] == ["opportunity"]


def test_a_move_that_raced_a_move_to_an_earlier_stage_still_applies(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    store = _racing(stack)
    store.meanwhile.append(lambda: _move(stack, lead_id, {"stage": "mql"}))

    reply = _move(stack, lead_id, {"stage": "won", "amount": "900", "currency": "GBP"})

    assert reply.status_code == 200, reply.body
    assert [(c.expected_stage, c.stage, ok) for c, ok in store.changes] == [
        ("lead", "mql", True),
        ("lead", "won", False),
        ("mql", "won", True),
    ]
    details = [t["detail"] for t in _stage_touches(stack, lead_id)]
    assert [(d["from"], d["to"]) for d in details] == [("lead", "mql"), ("mql", "won")]
