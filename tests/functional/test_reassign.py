"""POST /leads/{lead_id}/reassign: the next eligible rep, never back to an earlier owner, and a
bounded number of moves (the race of two requests is in tests/unit/test_reassign.py)."""

from __future__ import annotations

import json

from chalice.test import HTTPResponse

from chalicelib.services.assignment import MAX_REASSIGNMENTS
from tests.functional.conftest import ADMIN_KEY, JSON, Stack, body_of


def _new_lead(stack: Stack) -> str:
    reply = stack.website({"name": "Kai Moss", "phone": "+14155550165"})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    return lead_id


def _reassign(
    stack: Stack, lead_id: str, body: object = None, key: str = ADMIN_KEY
) -> HTTPResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"x-api-key": key, "Content-Type": JSON}
    return stack.client.http.post(f"/leads/{lead_id}/reassign", headers=headers, body=raw)


def test_reassign_moves_the_lead_to_another_eligible_rep_and_says_why(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    first = stack.lead(lead_id).owner
    reply = _reassign(stack, lead_id, {"reason": "no answer in 3 minutes", "by": "sla-ladder"})

    assert reply.status_code == 200, reply.body
    moved = stack.lead(lead_id)
    assert moved.owner not in (None, first)
    assert moved.previous_owners == (first,)
    assert body_of(reply)["owner"] == moved.owner
    skipped = {s["rep"]: s["reason"] for s in (moved.assignment or {})["skipped"]}
    assert skipped.get(first or "") == "current_owner"
    [entry] = [t for t in stack.touchpoints(lead_id) if t.kind == "reassigned"]
    assert entry.detail == {
        "from": first,
        "to": moved.owner,
        "by": "sla-ladder",
        "reason": "no answer in 3 minutes",
    }


def test_reassignment_never_returns_to_an_earlier_owner_and_stops(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owners = [stack.lead(lead_id).owner]
    for _ in range(MAX_REASSIGNMENTS + 1):
        reply = _reassign(stack, lead_id)
        if reply.status_code != 200:
            break
        owners.append(stack.lead(lead_id).owner)
    assert reply.status_code == 409
    assert body_of(reply)["Code"] == "conflict"
    assert len(owners) == len(set(owners))  # nobody owned it twice
    assert len(owners) <= MAX_REASSIGNMENTS + 1


def test_reassign_needs_the_admin_key_and_a_known_lead(stack: Stack) -> None:
    assert _reassign(stack, "ld_nope", key="wrong").status_code == 401
    missing = _reassign(stack, "ld_0000000000000000")
    assert (missing.status_code, body_of(missing)["Code"]) == (404, "not_found")


def test_bad_reassign_body_is_400_naming_the_field(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owner = stack.lead(lead_id).owner
    reply = _reassign(stack, lead_id, {"reason": "x" * 500})
    assert (reply.status_code, body_of(reply)["Field"]) == (400, "reason")
    assert stack.lead(lead_id).owner == owner
