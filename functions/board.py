"""The live SLA board: GET /board (admin key, for tools), GET /board/{token} (a signed board
link, for a wall screen's browser, which cannot send a header) and POST /board/link (admin key:
a new wall-screen link).

The routes share one Lambda with the webhooks, so the service is imported inside the handlers."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.domain.errors import InvalidPayloadError, NotConfiguredError
from chalicelib.wiring import Container, container
from functions.http import (
    json_errors,
    json_object,
    json_response,
    public_url,
    raw_body,
    require_admin,
)

bp = Blueprint(__name__)

_STATUS = {"expired": 410}
LINK_ROUTE = "/board/link"


@bp.route("/board", methods=["GET"], api_key_required=True)
@json_errors
def board_page() -> Response:
    """The board as HTML, for a tool that sends the admin key."""
    from chalicelib.services.board import board
    from functions import board_html as html

    c = container()
    require_admin(bp.current_request, c)
    return _html(html.page(board(now=c.clock.now(), team=c.team.load(), store=c.store)))


@bp.route("/board/{token}", methods=["GET"])
def board_by_link(token: str) -> Response:
    """The board behind a signed wall-screen link; a friendly page when the link won't do."""
    from chalicelib.services.board import BoardLinkRefusedError, board, check_link
    from functions import board_html as html

    c = container()
    try:
        now = c.clock.now()
        check_link(token, now=now, secret=_secret(c))
        view = board(now=now, team=c.team.load(), store=c.store)
    except BoardLinkRefusedError as exc:
        return _html(html.refused(exc.reason), _STATUS.get(exc.reason, 403))
    except NotConfiguredError:
        return _html(html.refused("not_configured"), 503)
    return _html(html.page(view))


@bp.route(LINK_ROUTE, methods=["POST"], api_key_required=True)
@json_errors
def board_link() -> Response:
    """A new wall-screen URL; body {"days": N} (optional; default 30, at most 365)."""
    from chalicelib.services.board import DEFAULT_LINK_DAYS, new_link

    c = container()
    request = bp.current_request
    require_admin(request, c)
    body: dict[str, Any] = json_object(raw_body(request))
    for key in body:
        if key != "days":
            raise InvalidPayloadError("unknown field; the only one is days", field=key)
    link = new_link(now=c.clock.now(), secret=_secret(c), days=body.get("days", DEFAULT_LINK_DAYS))
    # The page's URL is this route's with the token for "link", so a stage prefix is kept.
    here = public_url(request, LINK_ROUTE, c.settings.public_base_url)
    url = here.removesuffix("/link") + "/" + link.token
    return json_response({"url": url, "expires_at": link.expires.isoformat()}, 201)


def _secret(c: Container) -> str:
    secret = c.link_secret()
    if secret is None:
        raise NotConfiguredError("LEADCLOCK_LINK_SECRET_REF is not set")
    return secret


def _html(body: str, status: int = 200) -> Response:
    # Names of people waiting, and the page must be fresh at each refresh: never cached.
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
    }
    return Response(body, status_code=status, headers=headers)
