"""The admin API: reps, queues and rules edited over HTTP, checked by the team file's validator,
and the next lead routed by what was saved."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import HTTPResponse

from chalicelib import wiring
from chalicelib.domain.team import TeamConfig
from chalicelib.team_file import team_from_dict, team_to_dict
from tests.fakes import T0, StaticTeamStore
from tests.functional.conftest import ADMIN_KEY, JSON, TEAM, Stack, body_of

# At T0 (Monday 09:00 in New York) the demo's only rep inside working hours is ben: ana (Los
# Angeles) and carmen (Chicago) have not started, dev is out of office. ana is the fallback owner.
NEW_REP = {"name": "Eve Adams", "phone": "+14155550140", "email": "Eve@Example.com"}


def send(
    stack: Stack,
    method: str,
    path: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    key: str | None = ADMIN_KEY,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    """A request to the admin API: `body` sent as JSON (or `raw` as it is), with the admin key."""
    sent = {"Content-Type": JSON, **({} if key is None else {"x-api-key": key}), **(headers or {})}
    data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
    request = getattr(stack.client.http, method.lower())
    response: HTTPResponse = request(path, headers=sent, body=data)
    return response


def ok(response: HTTPResponse, status: int = 200) -> Any:
    """The JSON body, after checking the status."""
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == "application/json"
    return body_of(response)


def refused(response: HTTPResponse, status: int, code: str) -> dict[str, Any]:
    """The JSON error body, after checking the status and code."""
    assert response.status_code == status, response.body
    body: dict[str, Any] = body_of(response)
    assert body["Code"] == code, body
    return body


def saved() -> TeamConfig:
    """The configuration as the team store holds it now."""
    return wiring.container().team.load()


def lead_for(stack: Stack, email: str, **fields: str) -> dict[str, Any]:
    """Post a website form for a new person and return the lead the read API shows."""
    response = stack.website({"email": email, "name": "Pat Doe", **fields})
    assert response.status_code == 201, response.body
    lead: dict[str, Any] = ok(stack.api(f"/leads/{body_of(response)['lead_id']}"))
    return lead


def skipped(lead: Mapping[str, Any]) -> dict[str, str]:
    return {s["rep"]: s["reason"] for s in lead["assignment"]["skipped"]}


# --- the admin key -------------------------------------------------------------------------

ROUTES = [
    ("GET", "/admin/reps"),
    ("GET", "/admin/reps/ben"),
    ("PUT", "/admin/reps/ben"),
    ("PATCH", "/admin/reps/ben"),
    ("DELETE", "/admin/reps/ben"),
    ("POST", "/admin/reps/ben/pause"),
    ("POST", "/admin/reps/ben/resume"),
    ("POST", "/admin/reps/ben/out-of-office"),
    ("GET", "/admin/queues"),
    ("GET", "/admin/queues/inbound"),
    ("PUT", "/admin/queues/inbound"),
    ("PATCH", "/admin/queues/inbound"),
    ("GET", "/admin/rules"),
    ("GET", "/admin/rules/spanish"),
    ("PUT", "/admin/rules/spanish"),
    ("DELETE", "/admin/rules/spanish"),
]


@pytest.mark.parametrize("key", [None, "", "not-the-admin-key"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_admin_route_without_the_admin_key_is_401_and_changes_nothing(
    stack: Stack, method: str, path: str, key: str | None
) -> None:
    refused(send(stack, method, path, {"status": "paused"}, key=key), 401, "unauthorized")
    assert saved() == TEAM


# --- reps ----------------------------------------------------------------------------------


def test_reps_are_listed_in_the_team_file_shape(stack: Stack) -> None:
    assert ok(send(stack, "GET", "/admin/reps")) == {"reps": team_to_dict(TEAM)["reps"]}


def test_one_rep_is_returned_with_its_version_as_the_etag(stack: Stack) -> None:
    response = send(stack, "GET", "/admin/reps/ben")
    assert ok(response) == next(r for r in team_to_dict(TEAM)["reps"] if r["id"] == "ben")  # type: ignore[attr-defined]
    assert response.headers["ETag"].startswith('"')


def test_put_of_a_new_rep_creates_it_as_the_validator_stores_it(stack: Stack) -> None:
    rep = ok(send(stack, "PUT", "/admin/reps/eve", NEW_REP), 201)
    # Stored normalised, exactly as the team file would be: a lower-case email, the team's
    # time zone filled in.
    assert rep == {
        "id": "eve",
        "name": "Eve Adams",
        "phone": "+14155550140",
        "email": "eve@example.com",
        "timezone": "America/New_York",
        "status": "active",
    }
    assert saved().rep("eve") is not None
    assert ok(send(stack, "GET", "/admin/reps/eve")) == rep


def test_put_of_an_existing_rep_replaces_it_whole(stack: Stack) -> None:
    ben = {"name": "Ben Okafor", "email": "ben@example.com"}
    assert ok(send(stack, "PUT", "/admin/reps/ben", {"id": "ben", **ben}), 200) == {
        "id": "ben",
        **ben,
        "timezone": "America/New_York",
        "status": "active",
    }
    stored = saved().rep("ben")
    assert stored is not None
    assert (stored.phone, stored.hours, stored.max_open) == (None, None, None)


def test_put_with_another_id_in_the_body_is_400_naming_id(stack: Stack) -> None:
    body = refused(
        send(stack, "PUT", "/admin/reps/eve", {"id": "ana", **NEW_REP}), 400, "invalid_payload"
    )
    assert body["Field"] == "id"
    assert saved() == TEAM


def test_a_rep_with_a_bad_phone_is_400_naming_its_path_and_nothing_is_saved(stack: Stack) -> None:
    body = refused(
        send(stack, "PUT", "/admin/reps/eve", {**NEW_REP, "phone": "12"}), 400, "invalid_config"
    )
    assert body["Problems"] == [
        {"path": "reps[4].phone", "reason": "not a valid E.164 phone number"}
    ]
    assert "reps[4].phone" in body["Message"]
    assert saved() == TEAM


def test_an_invalid_change_lists_every_problem_at_once(stack: Stack) -> None:
    rep = {
        "name": "",
        "timezone": "Mars/Olympus",
        "hours": {"mon": ["17:00-09:00"], "funday": ["09:00-17:00"]},
        "status": "busy",
        "caps": {"max_open": 0},
        "nickname": "E",
    }
    body = refused(send(stack, "PUT", "/admin/reps/Eve Adams", rep), 400, "invalid_config")
    assert [p["path"] for p in body["Problems"]] == [
        "reps[4].nickname",
        "reps[4].id",
        "reps[4].name",
        "reps[4].timezone",
        "reps[4].hours.mon[0]",
        "reps[4].hours.funday",
        "reps[4].status",
        "reps[4].caps.max_open",
    ]
    assert saved() == TEAM


def test_patch_merges_top_level_keys_and_null_removes_one(stack: Stack) -> None:
    rep = ok(send(stack, "PATCH", "/admin/reps/ben", {"email": "BEN.O@example.com", "caps": None}))
    assert rep["email"] == "ben.o@example.com"
    assert "caps" not in rep
    assert rep["hours"]["sat"] == ["09:00-13:00"]  # untouched keys stay
    stored = saved().rep("ben")
    assert stored is not None and (stored.max_open, stored.max_per_day) == (None, None)


def test_patch_cannot_rename_a_rep(stack: Stack) -> None:
    body = refused(
        send(stack, "PATCH", "/admin/reps/ben", {"id": "benjamin"}), 400, "invalid_payload"
    )
    assert body["Field"] == "id"


def test_deleting_a_rep_a_queue_names_is_409_listing_where(stack: Stack) -> None:
    body = refused(send(stack, "DELETE", "/admin/reps/ana"), 409, "in_use")
    # ana is a member of both queues and the fallback owner of inbound.
    assert body["Problems"] == [
        {"path": "queues[0].members[0].rep", "reason": "names rep 'ana'"},
        {"path": "queues[0].fallback_owner", "reason": "names rep 'ana'"},
        {"path": "queues[1].members[0].rep", "reason": "names rep 'ana'"},
    ]
    assert saved() == TEAM


def test_deleting_a_rep_no_queue_names_removes_them(stack: Stack) -> None:
    ok(send(stack, "PUT", "/admin/reps/eve", NEW_REP), 201)
    response = send(stack, "DELETE", "/admin/reps/eve")
    assert response.status_code == 204, response.body
    assert saved() == TEAM
    refused(send(stack, "GET", "/admin/reps/eve"), 404, "not_found")


# --- pause, resume, out of office ----------------------------------------------------------


def test_a_paused_rep_is_skipped_for_the_next_lead_and_resume_brings_them_back(
    stack: Stack,
) -> None:
    assert lead_for(stack, "first@example.com")["owner"] == "ben"

    assert ok(send(stack, "POST", "/admin/reps/ben/pause"))["status"] == "paused"
    lead = lead_for(stack, "second@example.com")
    assert lead["owner"] == "ana"  # nobody eligible: the fallback owner
    assert lead["assignment"]["how"] == "fallback_owner"
    assert skipped(lead)["ben"] == "paused"

    assert ok(send(stack, "POST", "/admin/reps/ben/resume"))["status"] == "active"
    assert lead_for(stack, "third@example.com")["owner"] == "ben"


def test_out_of_office_skips_the_rep_until_then_and_the_clock_brings_them_back(
    stack: Stack,
) -> None:
    until = (T0 + timedelta(hours=1)).isoformat()
    rep = ok(send(stack, "POST", "/admin/reps/ben/out-of-office", {"until": until}))
    assert (rep["status"], rep["out_of_office_until"]) == ("out_of_office", until)
    assert skipped(lead_for(stack, "first@example.com"))["ben"] == "out_of_office"

    stack.clock.advance(hours=1)
    assert lead_for(stack, "second@example.com")["owner"] == "ben"


def test_out_of_office_until_a_past_instant_is_already_back(stack: Stack) -> None:
    until = "2026-11-02T08:00:00-05:00"  # an hour before T0
    ok(send(stack, "POST", "/admin/reps/ben/out-of-office", {"until": until}))
    assert lead_for(stack, "first@example.com")["owner"] == "ben"


def test_resume_ends_out_of_office(stack: Stack) -> None:
    rep = ok(send(stack, "POST", "/admin/reps/dev/resume"))
    assert rep["status"] == "active" and "out_of_office_until" not in rep


def test_pause_ends_out_of_office(stack: Stack) -> None:
    rep = ok(send(stack, "POST", "/admin/reps/dev/pause"))
    assert rep["status"] == "paused" and "out_of_office_until" not in rep


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "until"), ({"until": "2026-12-01", "note": "leave"}, "note"), (["x"], "body")],
)
def test_out_of_office_body_must_be_just_until(stack: Stack, body: object, field: str) -> None:
    reply = refused(
        send(stack, "POST", "/admin/reps/ben/out-of-office", body), 400, "invalid_payload"
    )
    assert reply["Field"] == field


@pytest.mark.parametrize("until", ["2026-12-01T09:00:00", "next week", 1764604800])
def test_out_of_office_until_without_a_utc_offset_is_400_naming_the_path(
    stack: Stack, until: object
) -> None:
    body = refused(
        send(stack, "POST", "/admin/reps/ben/out-of-office", {"until": until}),
        400,
        "invalid_config",
    )
    assert [p["path"] for p in body["Problems"]] == ["reps[1].out_of_office_until"]
    assert saved() == TEAM


# --- queues --------------------------------------------------------------------------------


def test_queues_are_listed_and_read_in_the_team_file_shape(stack: Stack) -> None:
    queues = team_to_dict(TEAM)["queues"]
    assert ok(send(stack, "GET", "/admin/queues")) == {"queues": queues}
    assert ok(send(stack, "GET", "/admin/queues/espanol")) == queues[1]  # type: ignore[index]


def test_put_of_a_new_queue_creates_it_with_the_defaults_filled_in(stack: Stack) -> None:
    body = {"members": [{"rep": "ben", "weight": 3}, {"rep": "carmen"}], "fallback_owner": "ben"}
    queue = ok(send(stack, "PUT", "/admin/queues/after-hours", body), 201)
    assert queue == {
        "name": "after-hours",
        "members": [{"rep": "ben", "weight": 3}, {"rep": "carmen", "weight": 1}],
        "fallback_owner": "ben",
        "ring_timeout_s": 20,
        "voicemail": True,
        "sticky": True,
        "sticky_days": 30,
    }
    assert saved().queue("after-hours") is not None


def test_a_queue_naming_an_unknown_rep_is_400_naming_the_member(stack: Stack) -> None:
    body = {"members": [{"rep": "zoe"}], "fallback_owner": "zed"}
    reply = refused(send(stack, "PUT", "/admin/queues/after-hours", body), 400, "invalid_config")
    assert [p["path"] for p in reply["Problems"]] == [
        "queues[2].members[0].rep",
        "queues[2].fallback_owner",
    ]


def test_patch_of_a_queue_replaces_its_members_whole(stack: Stack) -> None:
    queue = ok(send(stack, "PATCH", "/admin/queues/inbound", {"members": [{"rep": "ben"}]}))
    assert queue["members"] == [{"rep": "ben", "weight": 1}]
    assert queue["fallback_owner"] == "ana"
    # ben was eligible before too; now he is also the only member.
    assert lead_for(stack, "first@example.com")["assignment"]["weights"] == {"ben": 1}


# --- rules ---------------------------------------------------------------------------------

WEBSITE_RULE = {"queue": "inbound", "match": {"source": "website"}}


def test_rules_are_listed_in_the_order_they_are_tried(stack: Stack) -> None:
    ok(send(stack, "PUT", "/admin/rules/website", WEBSITE_RULE), 201)
    rules = ok(send(stack, "GET", "/admin/rules"))["rules"]
    assert [r["name"] for r in rules] == ["spanish", "website"]  # a new rule goes last
    assert ok(send(stack, "GET", "/admin/rules/website")) == {"name": "website", **WEBSITE_RULE}


def test_a_rule_inserted_at_position_0_wins_over_later_ones(stack: Stack) -> None:
    lead = lead_for(stack, "first@example.com", language="es")
    assert (lead["assignment"]["queue"], lead["assignment"]["rule"]) == ("espanol", "spanish")

    ok(send(stack, "PUT", "/admin/rules/website?position=0", WEBSITE_RULE), 201)
    assert [r.name for r in saved().rules] == ["website", "spanish"]
    lead = lead_for(stack, "second@example.com", language="es")
    assert (lead["assignment"]["queue"], lead["assignment"]["rule"]) == ("inbound", "website")


def test_replacing_a_rule_keeps_its_place_unless_a_position_moves_it(stack: Stack) -> None:
    ok(send(stack, "PUT", "/admin/rules/website", WEBSITE_RULE), 201)
    spanish = {"queue": "espanol", "match": {"fields": {"language": "español"}}}
    ok(send(stack, "PUT", "/admin/rules/spanish", spanish), 200)
    assert [r.name for r in saved().rules] == ["spanish", "website"]
    ok(send(stack, "PUT", "/admin/rules/spanish?position=1", spanish), 200)
    assert [r.name for r in saved().rules] == ["website", "spanish"]


@pytest.mark.parametrize("position", ["2", "-1", "first", "1.0", "²", ""])
def test_a_position_outside_the_list_is_400_naming_position(stack: Stack, position: str) -> None:
    reply = send(stack, "PUT", f"/admin/rules/website?position={position}", WEBSITE_RULE)
    assert refused(reply, 400, "invalid_payload")["Field"] == "position"
    assert saved() == TEAM


def test_a_rule_sending_leads_to_an_unknown_queue_is_400_naming_it(stack: Stack) -> None:
    body = {"queue": "nowhere", "match": {}}
    reply = refused(send(stack, "PUT", "/admin/rules/website", body), 400, "invalid_config")
    assert reply["Problems"] == [
        {"path": "rules[1].queue", "reason": "unknown queue 'nowhere'"},
        {"path": "rules[1].match", "reason": "needs at least one condition"},
    ]


def test_a_deleted_rule_no_longer_routes_leads(stack: Stack) -> None:
    response = send(stack, "DELETE", "/admin/rules/spanish")
    assert response.status_code == 204, response.body
    assert saved().rules == ()
    lead = lead_for(stack, "first@example.com", language="es")
    assert (lead["assignment"]["queue"], lead["assignment"]["rule"]) == ("inbound", None)


# --- unknown names, bad bodies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/admin/reps/zoe", "rep_id"),
        ("PATCH", "/admin/reps/zoe", "rep_id"),
        ("DELETE", "/admin/reps/zoe", "rep_id"),
        ("POST", "/admin/reps/zoe/pause", "rep_id"),
        ("POST", "/admin/reps/zoe/resume", "rep_id"),
        ("GET", "/admin/queues/nowhere", "name"),
        ("PATCH", "/admin/queues/nowhere", "name"),
        ("GET", "/admin/rules/nothing", "name"),
        ("DELETE", "/admin/rules/nothing", "name"),
    ],
)
def test_unknown_names_are_404(stack: Stack, method: str, path: str, field: str) -> None:
    assert refused(send(stack, method, path, {}), 404, "not_found")["Field"] == field


def test_out_of_office_for_an_unknown_rep_is_404(stack: Stack) -> None:
    body = {"until": "2026-12-01T09:00:00-08:00"}
    refused(send(stack, "POST", "/admin/reps/zoe/out-of-office", body), 404, "not_found")


@pytest.mark.parametrize("raw", [b"{not json", b'{"name": "Eve"', b"\xff\xfe", b'"Eve"', b"[]"])
@pytest.mark.parametrize("path", ["/admin/reps/eve", "/admin/queues/inbound", "/admin/rules/x"])
def test_a_body_that_is_not_a_json_object_is_400_naming_the_body(
    stack: Stack, raw: bytes, path: str
) -> None:
    assert refused(send(stack, "PUT", path, raw=raw), 400, "invalid_payload")["Field"] == "body"
    assert saved() == TEAM


# --- two admins at once --------------------------------------------------------------------


class InterleavedTeamStore(StaticTeamStore):
    """Another admin's save lands right after the first read: between our read and our save."""

    def __init__(self, team: TeamConfig, theirs: TeamConfig) -> None:
        super().__init__(team)
        self.theirs: TeamConfig | None = theirs

    def load_latest(self) -> tuple[TeamConfig, int]:
        read = super().load_latest()
        if self.theirs is not None:
            theirs, self.theirs = self.theirs, None
            self.save(theirs)
        return read


def test_an_edit_that_raced_another_save_is_409_and_keeps_the_other(stack: Stack) -> None:
    theirs = team_from_dict({**team_to_dict(TEAM), "default_queue": "espanol"})
    store = InterleavedTeamStore(TEAM, theirs)
    wiring.container().team = store
    refused(send(stack, "POST", "/admin/reps/ben/pause"), 409, "edit_conflict")
    assert store.team == theirs
    # Retried, it is made against their version and keeps both changes.
    ok(send(stack, "POST", "/admin/reps/ben/pause"))
    assert store.team.default_queue == "espanol"
    assert store.team.rep("ben").status == "paused"  # type: ignore[union-attr]


def test_if_match_with_the_version_read_applies_and_a_stale_one_is_412(stack: Stack) -> None:
    read = send(stack, "GET", "/admin/reps/ben").headers["ETag"]
    first = send(stack, "PATCH", "/admin/reps/ben", {"name": "Ben O."}, headers={"If-Match": read})
    assert ok(first)["name"] == "Ben O."
    assert first.headers["ETag"] != read

    second = send(
        stack, "PATCH", "/admin/reps/ben", {"slack_user_id": None}, headers={"If-Match": read}
    )
    refused(second, 412, "precondition_failed")
    assert saved().rep("ben").slack_user_id == "U034GHIJKL"  # type: ignore[union-attr]


def test_if_match_star_needs_the_entry_to_exist(stack: Stack) -> None:
    star = {"If-Match": "*"}
    refused(
        send(stack, "PUT", "/admin/reps/eve", NEW_REP, headers=star), 412, "precondition_failed"
    )
    ok(send(stack, "PATCH", "/admin/reps/ben", {"name": "Ben O."}, headers=star))


def test_an_edit_elsewhere_does_not_invalidate_a_reps_version(stack: Stack) -> None:
    read = send(stack, "GET", "/admin/reps/ben").headers["ETag"]
    ok(send(stack, "POST", "/admin/reps/ana/pause"))
    ok(send(stack, "PATCH", "/admin/reps/ben", {"name": "Ben O."}, headers={"If-Match": read}))


# --- what is saved -------------------------------------------------------------------------


def test_the_saved_team_round_trips_through_the_file_shape(stack: Stack) -> None:
    ok(send(stack, "PUT", "/admin/reps/eve", {**NEW_REP, "hours": {"sat": ["10:00-14:00"]}}), 201)
    ok(send(stack, "POST", "/admin/reps/eve/out-of-office", {"until": "2027-01-04T09:00:00+01:00"}))
    ok(send(stack, "PATCH", "/admin/queues/inbound", {"members": [{"rep": "eve", "weight": 2}]}))
    ok(send(stack, "PUT", "/admin/rules/website?position=0", WEBSITE_RULE), 201)
    team = saved()
    document = json.loads(json.dumps(team_to_dict(team)))  # as JSON would carry it
    assert team_from_dict(document) == team
    assert ok(send(stack, "GET", "/admin/reps"))["reps"] == document["reps"]
    assert ok(send(stack, "GET", "/admin/queues"))["queues"] == document["queues"]
    assert ok(send(stack, "GET", "/admin/rules"))["rules"] == document["rules"]


def test_a_put_that_changes_nothing_answers_the_same_version(stack: Stack) -> None:
    read = send(stack, "GET", "/admin/reps/ana")
    again = send(stack, "PUT", "/admin/reps/ana", body_of(read))
    assert ok(again) == body_of(read)
    assert again.headers["ETag"] == read.headers["ETag"]
