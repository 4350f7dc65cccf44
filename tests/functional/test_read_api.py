"""The read API: GET /leads/{lead_id} and GET /leads, behind the admin key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.fakes import T0
from tests.functional.conftest import (
    ADMIN_KEY,
    CALLER,
    STATUS,
    UNBOUNCE_TOKEN,
    VOICE,
    Stack,
    body_of,
    call,
)

CALL_SID = "CA" + "a" * 32


def website(stack: Stack, **fields: str) -> str:
    response = stack.website(fields)
    assert response.status_code in (200, 201), response.body
    lead_id: str = body_of(response)["lead_id"]
    return lead_id


def unbounce(stack: Stack, **fields: str) -> str:
    response = stack.form("unbounce", fields, headers={"X-Leadclock-Token": UNBOUNCE_TOKEN})
    assert response.status_code in (200, 201), response.body
    lead_id: str = body_of(response)["lead_id"]
    return lead_id


def listed(stack: Stack, query: str = "") -> dict[str, Any]:
    response = stack.api(f"/leads{query}")
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = body_of(response)
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [lead["lead_id"] for lead in page["leads"]]


# --- the admin key -----------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "not-the-admin-key", ADMIN_KEY + "x"])
@pytest.mark.parametrize("path", ["/leads/ld_0000000000000000", "/leads"])
def test_read_api_without_the_right_api_key_is_401(
    stack: Stack, key: str | None, path: str
) -> None:
    lead_id = website(stack, email="ann@example.com")

    response = stack.api(path.replace("ld_0000000000000000", lead_id), key=key)

    assert response.status_code == 401
    assert body_of(response)["Code"] == "unauthorized"
    assert "ann@example.com" not in response.body.decode()


def test_read_api_with_no_admin_key_configured_refuses_everyone_locally(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(env={})
    lead_id = website(stack, email="ann@example.com")

    assert stack.api(f"/leads/{lead_id}", key="").status_code == 401
    assert stack.api("/leads", key="anything").status_code == 401


# --- one lead ----------------------------------------------------------------------------


def test_lead_shows_contact_first_and_last_touch_and_touchpoints_in_order(stack: Stack) -> None:
    lead_id = website(
        stack,
        name="Ann Lee",
        email="Ann@Example.com",
        phone="415 555 0134",
        company="Lee Co",
        utm_campaign="Spring_Sale",
    )
    stack.clock.advance(minutes=5)
    stack.twilio(VOICE, call(CALL_SID, From=CALLER))
    stack.clock.advance(minutes=1)
    stack.twilio(STATUS, call(CALL_SID, CallStatus="completed", CallDuration="60"))

    response = stack.api(f"/leads/{lead_id}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    lead = body_of(response)
    assert lead["lead_id"] == lead_id
    assert (lead["name"], lead["email"], lead["phone"], lead["company"]) == (
        "Ann Lee",
        "ann@example.com",
        "+14155550134",
        "Lee Co",
    )
    assert lead["status"] == "new"
    assert lead["created_at"] == T0.isoformat()
    assert lead["first_touch"]["source"] == "website"
    assert lead["first_touch"]["utm"] == {"utm_campaign": "spring-sale"}
    assert lead["first_touch"]["utm_raw"] == {"utm_campaign": "Spring_Sale"}
    assert lead["last_touch"]["source"] == "google-ads"
    assert lead["linked_lead_ids"] == []
    points = lead["touchpoints"]
    assert [p["kind"] for p in points] == ["form_submitted", "call_received", "call_status"]
    assert [p["at"] for p in points] == [
        T0.isoformat(),
        (T0 + timedelta(minutes=5)).isoformat(),
        (T0 + timedelta(minutes=6)).isoformat(),
    ]
    assert points[1]["attribution"]["tracking_number"] == "+14155550111"


def test_lead_lists_the_leads_it_is_linked_to(stack: Stack) -> None:
    by_phone = website(stack, phone="415 555 0134")
    by_email = website(stack, email="ann@example.com")
    stack.clock.advance(minutes=1)
    both = website(stack, phone="415 555 0134", email="ann@example.com")

    assert both == by_phone
    assert body_of(stack.api(f"/leads/{by_phone}"))["linked_lead_ids"] == [by_email]
    assert body_of(stack.api(f"/leads/{by_email}"))["linked_lead_ids"] == [by_phone]


def test_unknown_lead_is_404_json(stack: Stack) -> None:
    response = stack.api("/leads/ld_ffffffffffffffff")

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert body_of(response) == {"Code": "not_found", "Message": "no such lead", "Field": "lead_id"}


# --- lists -------------------------------------------------------------------------------


@pytest.fixture
def three(stack: Stack) -> list[str]:
    """Three leads a day apart: website, unbounce, website (oldest first)."""
    made = [website(stack, email="a@example.com")]
    stack.clock.advance(days=1)
    made.append(unbounce(stack, email="b@example.com"))
    stack.clock.advance(days=1)
    made.append(website(stack, email="c@example.com"))
    return made


def test_list_is_newest_first(stack: Stack, three: list[str]) -> None:
    page = listed(stack)

    assert ids(page) == three[::-1]
    assert page["cursor"] is None
    assert page["leads"][0]["email"] == "c@example.com"


def test_list_filters_by_since(stack: Stack, three: list[str]) -> None:
    since = quote((T0 + timedelta(days=1)).isoformat())

    assert ids(listed(stack, f"?since={since}")) == three[:0:-1]


def test_list_since_accepts_a_z_suffix(stack: Stack, three: list[str]) -> None:
    assert ids(listed(stack, "?since=2026-11-04T00:00:00Z")) == [three[2]]


def test_list_filters_by_source(stack: Stack, three: list[str]) -> None:
    assert ids(listed(stack, "?source=unbounce")) == [three[1]]
    assert ids(listed(stack, "?source=website")) == [three[2], three[0]]
    assert ids(listed(stack, "?source=nosuch")) == []


def test_list_filters_by_status(stack: Stack, three: list[str]) -> None:
    assert ids(listed(stack, "?status=new")) == three[::-1]
    assert ids(listed(stack, "?status=contacted")) == []


def test_list_combines_filters(stack: Stack, three: list[str]) -> None:
    since = quote((T0 + timedelta(hours=1)).isoformat())

    assert ids(listed(stack, f"?source=website&since={since}")) == [three[2]]


def test_cursor_pages_through_every_lead_once(stack: Stack) -> None:
    made = []
    for n in range(5):
        made.append(website(stack, email=f"lead{n}@example.com"))
        stack.clock.advance(minutes=1)

    seen: list[str] = []
    page = listed(stack, "?limit=2")
    pages = 1
    while page["cursor"]:
        assert len(page["leads"]) == 2
        seen += ids(page)
        page = listed(stack, f"?limit=2&cursor={quote(page['cursor'], safe='')}")
        pages += 1
    seen += ids(page)

    assert pages == 3
    assert seen == made[::-1]


@pytest.mark.parametrize("value", ["0", "101", "ten", "-1", "1.5", "²", " 5"])
def test_bad_limit_is_400_naming_limit(stack: Stack, value: str) -> None:
    response = stack.api(f"/leads?limit={quote(value)}")

    assert response.status_code == 400
    body = body_of(response)
    assert body["Field"] == "limit"
    assert "1 to 100" in body["Message"]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-01T00:00:00"])
def test_bad_since_is_400_naming_since(stack: Stack, value: str) -> None:
    response = stack.api(f"/leads?since={quote(value)}")

    assert response.status_code == 400
    assert body_of(response)["Field"] == "since"


@pytest.mark.parametrize("value", ["not a cursor!", "{}", "x" * 3000])
def test_bad_cursor_is_400_naming_cursor(stack: Stack, value: str) -> None:
    response = stack.api(f"/leads?cursor={quote(value)}")

    assert response.status_code == 400
    assert body_of(response) == {
        "Code": "invalid_payload",
        "Message": "not a cursor this API returned",
        "Field": "cursor",
    }
