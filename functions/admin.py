"""The admin API, behind the admin key: reps, queues and routing rules, in the team file's shape.

    GET    /admin/reps                        {"reps": [...]}
    GET    /admin/reps/{rep_id}               the rep
    PUT    /admin/reps/{rep_id}               create (201) or replace (200)
    PATCH  /admin/reps/{rep_id}               merge top-level keys; null removes a key
    DELETE /admin/reps/{rep_id}               204; 409 in_use while a queue names the rep
    POST   /admin/reps/{rep_id}/pause         status paused
    POST   /admin/reps/{rep_id}/resume        status active (ends out of office too)
    POST   /admin/reps/{rep_id}/out-of-office {"until": "2026-12-01T09:00:00-08:00"}
    GET    /admin/queues, /admin/queues/{name}; PUT and PATCH /admin/queues/{name}
    GET    /admin/rules, /admin/rules/{name}; PUT (?position=N) and DELETE /admin/rules/{name}

Answers: the entry as stored, with its version as the ETag; send that back as If-Match on a
PUT, PATCH or DELETE to be refused (412) rather than overwrite someone else's change. A change
that would make the configuration invalid is 400 invalid_config listing every problem by path
(`reps[4].phone`), as the team file's validator reports it; unknown names are 404; an edit that
raced another is 409 edit_conflict. Lambdas see a change within the team store's cache lifetime
(30 s); see chalicelib/services/admin.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from chalice.app import Blueprint, MultiDict, Response

from chalicelib.domain.errors import ConfigError, InvalidPayloadError
from chalicelib.ports import TeamStore
from chalicelib.services import admin
from chalicelib.services.admin import QUEUES, REPS, RULES, Stored
from chalicelib.wiring import container
from functions.http import (
    JSON_HEADERS,
    json_errors,
    json_object,
    json_response,
    lower_headers,
    raw_body,
    require_admin,
)

bp = Blueprint(__name__)

V = TypeVar("V", bound=Callable[..., Response])


def _admin(path: str, method: str) -> Callable[[V], V]:
    """Register an admin route: the admin key first, then the view, its errors as JSON."""

    def register(view: V) -> V:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Response:
            require_admin(bp.current_request, container())
            try:
                return view(*args, **kwargs)
            except (ConfigError, admin.InUseError, admin.PreconditionFailedError) as exc:
                return _refusal(exc)

        bp.route(path, methods=[method], api_key_required=True)(json_errors(guarded))
        return view

    return register


# --- reps ----------------------------------------------------------------------------------


@_admin("/admin/reps", "GET")
def list_reps() -> Response:
    """Every rep."""
    return json_response({"reps": admin.list_items(REPS, team=_team())})


@_admin("/admin/reps/{rep_id}", "GET")
def get_rep(rep_id: str) -> Response:
    """One rep."""
    return _entry(admin.get_item(REPS, rep_id, team=_team()))


@_admin("/admin/reps/{rep_id}", "PUT")
def put_rep(rep_id: str) -> Response:
    """Create or replace a rep."""
    return _entry(admin.put_item(REPS, rep_id, _body(), expected=_if_match(), team=_team()))


@_admin("/admin/reps/{rep_id}", "PATCH")
def patch_rep(rep_id: str) -> Response:
    """Change some of a rep's keys."""
    return _entry(admin.patch_item(REPS, rep_id, _body(), expected=_if_match(), team=_team()))


@_admin("/admin/reps/{rep_id}", "DELETE")
def delete_rep(rep_id: str) -> Response:
    """Remove a rep no queue names any more."""
    admin.delete_item(REPS, rep_id, expected=_if_match(), team=_team())
    return Response(body="", status_code=204)


@_admin("/admin/reps/{rep_id}/pause", "POST")
def pause_rep(rep_id: str) -> Response:
    """Skip the rep in assignment until resumed."""
    return _entry(admin.pause_rep(rep_id, team=_team()))


@_admin("/admin/reps/{rep_id}/resume", "POST")
def resume_rep(rep_id: str) -> Response:
    """Back in assignment: active, no longer paused or out of office."""
    return _entry(admin.resume_rep(rep_id, team=_team()))


@_admin("/admin/reps/{rep_id}/out-of-office", "POST")
def out_of_office(rep_id: str) -> Response:
    """Out of office until the instant given."""
    return _entry(admin.set_out_of_office(rep_id, _body(), team=_team()))


# --- queues --------------------------------------------------------------------------------


@_admin("/admin/queues", "GET")
def list_queues() -> Response:
    """Every queue."""
    return json_response({"queues": admin.list_items(QUEUES, team=_team())})


@_admin("/admin/queues/{name}", "GET")
def get_queue(name: str) -> Response:
    """One queue."""
    return _entry(admin.get_item(QUEUES, name, team=_team()))


@_admin("/admin/queues/{name}", "PUT")
def put_queue(name: str) -> Response:
    """Create or replace a queue."""
    return _entry(admin.put_item(QUEUES, name, _body(), expected=_if_match(), team=_team()))


@_admin("/admin/queues/{name}", "PATCH")
def patch_queue(name: str) -> Response:
    """Change some of a queue's keys (members are replaced whole)."""
    return _entry(admin.patch_item(QUEUES, name, _body(), expected=_if_match(), team=_team()))


# --- rules ---------------------------------------------------------------------------------


@_admin("/admin/rules", "GET")
def list_rules() -> Response:
    """Every rule, in the order they are tried: the first that matches wins."""
    return json_response({"rules": admin.list_items(RULES, team=_team())})


@_admin("/admin/rules/{name}", "GET")
def get_rule(name: str) -> Response:
    """One rule."""
    return _entry(admin.get_item(RULES, name, team=_team()))


@_admin("/admin/rules/{name}", "PUT")
def put_rule(name: str) -> Response:
    """Create (appended, or at ?position=N) or replace (in place, or moved to N) a rule."""
    return _entry(
        admin.put_item(
            RULES, name, _body(), position=_position(), expected=_if_match(), team=_team()
        )
    )


@_admin("/admin/rules/{name}", "DELETE")
def delete_rule(name: str) -> Response:
    """Remove a rule."""
    admin.delete_item(RULES, name, expected=_if_match(), team=_team())
    return Response(body="", status_code=204)


# --- parsing and translating ---------------------------------------------------------------


def _team() -> TeamStore:
    return container().team


def _body() -> dict[str, Any]:
    return json_object(raw_body(bp.current_request))


def _if_match() -> frozenset[str] | None:
    """The versions an If-Match header accepts ("*": any), unquoted. A weak tag (W/"…") keeps
    its prefix and so never matches: If-Match compares strongly (RFC 9110, 13.1.1)."""
    header = lower_headers(bp.current_request).get("if-match")
    if header is None:
        return None
    tags = (tag.strip().strip('"') for tag in header.split(","))
    return frozenset(tag for tag in tags if tag)


def _position() -> int | None:
    query: MultiDict | dict[str, str] = bp.current_request.query_params or {}
    text = query.get("position")
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise InvalidPayloadError("must be a whole number, 0 or more", field="position")
    return int(text)


def _entry(stored: Stored) -> Response:
    headers: dict[str, str | list[str]] = {**JSON_HEADERS, "ETag": f'"{stored.version}"'}
    return Response(stored.item, status_code=201 if stored.created else 200, headers=headers)


def _refusal(exc: ConfigError | admin.InUseError | admin.PreconditionFailedError) -> Response:
    """What functions/http.py does not say yet: 412, and the list of problems by path (the
    Code and Message keep error_response's shape)."""
    if isinstance(exc, admin.PreconditionFailedError):
        return json_response({"Code": exc.code, "Message": exc.message}, 412)
    problems = [{"path": path, "reason": reason} for path, reason in exc.problems]
    if isinstance(exc, admin.InUseError):
        body = {"Code": exc.code, "Message": exc.message, "Problems": problems}
        return json_response(body, 409)
    # ConfigError's own message starts each line with the file name, meaningless here.
    message = "; ".join(f"{p['path']}: {p['reason']}" for p in problems)
    body = {"Code": exc.code, "Message": message, "Problems": problems}
    return json_response(body, 400)
