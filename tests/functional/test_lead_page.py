"""GET/POST /r/{token}: the lead page behind an alert's signed link, and what it lets a rep do."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from chalice.test import HTTPResponse

from chalicelib.domain.links import grant, sign
from tests.functional.conftest import FORM, Stack, body_of

SECRET = "link-secret-for-tests"


def _new_lead(stack: Stack) -> tuple[str, str]:
    reply = stack.website({"name": "Kai Moss", "phone": "+14155550165"})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    owner = stack.lead(lead_id).owner
    assert owner is not None
    return lead_id, owner


def _token(stack: Stack, lead_id: str, rep: str, purpose: str = "open", **kw: timedelta) -> str:
    return sign(grant(lead_id, rep, purpose, now=stack.clock.now(), **kw), SECRET)


def _get(stack: Stack, token: str) -> HTTPResponse:
    return stack.client.http.get(f"/r/{token}")


def _post(stack: Stack, token: str, action: str) -> HTTPResponse:
    body = urlencode({"action": action}).encode()
    return stack.client.http.post(f"/r/{token}", headers={"Content-Type": FORM}, body=body)


def test_the_page_shows_the_lead_and_its_countdown_and_changes_nothing(stack: Stack) -> None:
    lead_id, owner = _new_lead(stack)
    before = stack.lead(lead_id)
    stack.clock.advance(seconds=12)

    reply = _get(stack, _token(stack, lead_id, owner))

    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.headers["Cache-Control"] == "no-store"
    html = reply.body.decode()
    assert "Kai Moss" in html and "website" in html and "SLA due in 18s" in html
    assert "+14155550165" in html
    assert 'name="action" value="call"' in html  # the bridge, not the rep's own dialler
    assert 'name="action" value="claim"' in html and 'value="contacted"' in html
    assert stack.lead(lead_id) == before  # looking changes nothing


def test_claim_from_the_page_pauses_escalation_and_says_so(stack: Stack) -> None:
    lead_id, owner = _new_lead(stack)
    token = _token(stack, lead_id, owner)

    reply = _post(stack, token, "claim")

    assert reply.status_code == 200
    assert "Claimed." in reply.body.decode()
    assert stack.lead(lead_id).claimed_by == owner
    again = _post(stack, token, "claim")  # the same button twice: nothing more
    assert "Already done" in again.body.decode()
    kinds = [t.kind for t in stack.touchpoints(lead_id)]
    assert kinds.count("claimed") == 1


def test_mark_contacted_from_the_page_stops_the_clock(stack: Stack) -> None:
    lead_id, owner = _new_lead(stack)
    stack.clock.advance(seconds=9)

    reply = _post(stack, _token(stack, lead_id, owner), "contacted")

    assert reply.status_code == 200
    lead = stack.lead(lead_id)
    assert (lead.first_response_by, lead.speed_wall_s, lead.sla_met) == (owner, 9.0, True)
    assert "Contacted after 9s" in reply.body.decode()


def test_a_claim_link_can_claim_but_not_mark_contacted(stack: Stack) -> None:
    lead_id, owner = _new_lead(stack)
    token = _token(stack, lead_id, owner, "claim")

    refused = _post(stack, token, "contacted")

    assert refused.status_code == 403
    assert "Not allowed with this link" in refused.body.decode()
    assert stack.lead(lead_id).first_response_at is None
    assert _post(stack, token, "claim").status_code == 200


def test_expired_tampered_and_foreign_links_get_a_friendly_page_and_change_nothing(
    stack: Stack,
) -> None:
    lead_id, owner = _new_lead(stack)
    before = stack.lead(lead_id)
    expired = _token(stack, lead_id, owner, ttl=timedelta(minutes=1))
    stack.clock.advance(minutes=2)
    good = _token(stack, lead_id, owner)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    forged = sign(grant(lead_id, owner, "open", now=stack.clock.now()), "someone-elses-secret")

    for token, status, text in (
        (expired, 410, "This link has expired"),
        (tampered, 403, "This link is not valid"),
        (forged, 403, "This link is not valid"),
        ("garbage", 403, "This link is not valid"),
    ):
        for reply in (_get(stack, token), _post(stack, token, "claim")):
            assert reply.status_code == status, token
            assert text in reply.body.decode()
    assert stack.lead(lead_id) == before


def test_a_link_for_a_lead_that_is_gone_is_a_friendly_404(stack: Stack) -> None:
    _, owner = _new_lead(stack)
    reply = _get(stack, _token(stack, "ld_gone", owner))
    assert reply.status_code == 404
    assert "Lead not found" in reply.body.decode()


def test_an_unknown_action_is_refused(stack: Stack) -> None:
    lead_id, owner = _new_lead(stack)
    reply = _post(stack, _token(stack, lead_id, owner), "delete")
    assert reply.status_code == 403
    assert stack.lead(lead_id).claimed_by is None
