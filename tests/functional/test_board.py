"""GET /board (admin key), GET /board/{token} (a signed wall-screen link) and POST /board/link:
the live SLA board as a self-refreshing page, and who may see it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalice.test import HTTPResponse

from chalicelib.domain.links import grant, sign
from tests.fakes import T0
from tests.functional.conftest import (
    ADMIN_KEY,
    JSON,
    PUBLIC_BASE_URL,
    SETTINGS,
    TEAM,
    Stack,
    body_of,
)

SECRET = "link-secret-for-tests"  # the Stack's LEADCLOCK_LINK_SECRET
REFRESH = '<meta http-equiv="refresh" content="30">'


def _new_lead(stack: Stack, name: str = "Kai Moss") -> tuple[str, str]:
    reply = stack.website({"name": name, "phone": "+14155550165"})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    owner = stack.lead(lead_id).owner
    assert owner is not None
    return lead_id, owner


def _rep_name(rep_id: str) -> str:
    rep = TEAM.rep(rep_id)
    assert rep is not None
    return rep.name


def _board_token(stack: Stack, **kw: timedelta) -> str:
    return sign(grant("board", "wall", "board", now=stack.clock.now(), **kw), SECRET)


def _new_link(stack: Stack, body: Any = None, *, key: str | None = ADMIN_KEY) -> HTTPResponse:
    headers = {"Content-Type": JSON} | ({} if key is None else {"x-api-key": key})
    raw = b"" if body is None else json.dumps(body).encode()
    return stack.post("/board/link", raw, headers)


def _html(reply: HTTPResponse) -> str:
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.headers["Cache-Control"] == "no-store"
    return reply.body.decode()


def _text(html: str) -> str:
    """The page's words, tags dropped (so a test does not depend on the markup)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_board_with_the_admin_key_shows_a_waiting_lead_counting_down(stack: Stack) -> None:
    lead_id, owner = _new_lead(stack)
    stack.clock.advance(seconds=12)

    reply = stack.api("/board")

    assert reply.status_code == 200
    html = _html(reply)
    assert REFRESH in html and "<script" not in html
    text = _text(html)
    assert "Kai Moss" in text and "due in 18s" in text and "waiting 12s" in text
    assert _rep_name(owner) in text and "website" in text
    assert f'data-lead="{lead_id}"' in html
    assert "as of 09:00 (America/New_York)" in text  # T0 is 14:00 UTC, 09:00 in New York


def test_the_board_without_the_admin_key_is_401_and_shows_nothing(stack: Stack) -> None:
    _new_lead(stack)

    for key in (None, "wrong-key"):
        reply = stack.api("/board", key=key)
        assert reply.status_code == 401
        assert body_of(reply)["Code"] == "unauthorized"
        assert b"Kai Moss" not in reply.body


def test_a_missed_lead_turns_red_and_counts_as_a_breach_today(stack: Stack) -> None:
    _new_lead(stack)
    stack.clock.advance(seconds=45)

    html = _html(stack.api("/board"))

    assert 'class="lead missed"' in html
    text = _text(html)
    assert "missed by 15s" in text
    assert "1 breaches today" in text
    assert "still waiting, 15s over" in text


def test_a_contacted_lead_leaves_the_board_but_stays_a_breach_when_it_was_late(
    stack: Stack,
) -> None:
    lead_id, _ = _new_lead(stack)
    stack.clock.advance(seconds=40)
    contacted = stack.post(
        f"/leads/{lead_id}/events",
        json.dumps({"type": "contacted"}).encode(),
        {"Content-Type": JSON, "x-api-key": ADMIN_KEY},
    )
    assert contacted.status_code == 200, contacted.body

    text = _text(_html(stack.api("/board")))

    assert "Kai Moss" not in text and "No one is waiting." in text
    assert "answered 10s late" in text


def test_reps_show_their_status_and_open_leads(stack: Stack) -> None:
    _, owner = _new_lead(stack)

    html = _html(stack.api("/board"))

    row = re.search(rf'<tr data-rep="{owner}">(.*?)</tr>', html)
    assert row is not None and re.search(r'<td class="n">1</td>', row.group(1))
    # The demo team's dev is on leave until an instant after T0.
    dev = re.search(r'<tr data-rep="dev">(.*?)</tr>', html)
    assert dev is not None and "Out of office until" in dev.group(1)


def test_a_new_wall_screen_link_opens_the_board_without_a_key_for_30_days(stack: Stack) -> None:
    _new_lead(stack)

    reply = _new_link(stack)

    assert reply.status_code == 201, reply.body
    link = body_of(reply)
    assert link["url"].startswith(PUBLIC_BASE_URL + "/board/")
    assert datetime.fromisoformat(link["expires_at"]) == T0 + timedelta(days=30)
    path = link["url"].removeprefix(PUBLIC_BASE_URL)
    page = stack.client.http.get(path)
    assert page.status_code == 200
    assert REFRESH in _html(page) and "Kai Moss" in _text(_html(page))

    stack.clock.advance(days=30)
    assert stack.client.http.get(path).status_code == 410


def test_a_wall_screen_link_can_be_made_for_fewer_days(stack: Stack) -> None:
    reply = _new_link(stack, {"days": 7})

    assert reply.status_code == 201, reply.body
    assert datetime.fromisoformat(body_of(reply)["expires_at"]) == T0 + timedelta(days=7)


def test_a_wall_screen_link_needs_the_admin_key_and_a_sane_number_of_days(stack: Stack) -> None:
    assert _new_link(stack, key=None).status_code == 401
    assert _new_link(stack, key="wrong-key").status_code == 401
    for body, field in (({"days": 0}, "days"), ({"days": 400}, "days"), ({"weeks": 2}, "weeks")):
        reply = _new_link(stack, body)
        assert reply.status_code == 400, body
        assert body_of(reply)["Field"] == field
    assert body_of(_new_link(stack, ["days"]))["Field"] == "body"


def test_without_a_public_url_the_link_is_built_from_the_host_it_was_asked_on(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(env={k: v for k, v in SETTINGS.items() if k != "PUBLIC_BASE_URL"})
    headers = {"Content-Type": JSON, "x-api-key": ADMIN_KEY, "Host": "board.example.test"}

    reply = stack.post("/board/link", b"", headers)

    assert reply.status_code == 201, reply.body
    url = body_of(reply)["url"]
    assert url.startswith("https://board.example.test/board/")
    assert stack.client.http.get(url.removeprefix("https://board.example.test")).status_code == 200


def test_an_expired_board_link_gets_a_friendly_410_page(stack: Stack) -> None:
    _new_lead(stack)
    token = _board_token(stack, ttl=timedelta(minutes=1))
    stack.clock.advance(minutes=2)

    reply = stack.client.http.get(f"/board/{token}")

    assert reply.status_code == 410
    text = _text(_html(reply))
    assert "This board link has expired" in text and "Kai Moss" not in text
    assert REFRESH not in reply.body.decode()  # waiting will not mend it


def test_a_tampered_board_link_is_refused_with_403(stack: Stack) -> None:
    _new_lead(stack)
    token = _board_token(stack)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    reply = stack.client.http.get(f"/board/{tampered}")

    assert reply.status_code == 403
    text = _text(_html(reply))
    assert "This link is not valid" in text and "Kai Moss" not in text


def test_a_leads_link_does_not_open_the_board(stack: Stack) -> None:
    lead_id, owner = _new_lead(stack)
    lead_token = sign(grant(lead_id, owner, "open", now=stack.clock.now()), SECRET)

    reply = stack.client.http.get(f"/board/{lead_token}")

    assert reply.status_code == 403
    assert "Not a board link" in _text(_html(reply))


def test_a_board_link_does_not_open_a_lead_page(stack: Stack) -> None:
    _new_lead(stack)

    reply = stack.client.http.get(f"/r/{_board_token(stack)}")

    assert reply.status_code == 403
    assert "Not allowed with this link" in reply.body.decode()


def test_without_a_link_secret_board_links_are_not_configured(
    make_stack: Callable[..., Stack],
) -> None:
    token = sign(grant("board", "wall", "board", now=T0), SECRET)
    env = {k: v for k, v in SETTINGS.items() if k != "LEADCLOCK_LINK_SECRET_REF"}
    stack = make_stack(env=env)

    page = stack.client.http.get(f"/board/{token}")
    assert page.status_code == 503
    assert "The board is not set up yet" in _text(_html(page))
    assert REFRESH in page.body.decode()  # a wall screen picks the board up once it is set up
    link = _new_link(stack)
    assert link.status_code == 503
    assert body_of(link) == {"Code": "NotConfigured", "Message": "not configured"}
    assert stack.api("/board").status_code == 200  # the admin key needs no link secret
