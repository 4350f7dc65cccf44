"""Signed links from alerts: GET /r/{token} shows the lead page, POST /r/{token} acts on it."""

from __future__ import annotations

from urllib.parse import parse_qs

from chalice.app import Blueprint, Response

from chalicelib.domain.errors import NotConfiguredError, NotFoundError
from chalicelib.wiring import Container, container
from functions.http import raw_body

bp = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]
_STATUS = {"expired": 410, "not_found": 404}


@bp.route("/r/{token}", methods=["GET"])
def lead_page(token: str) -> Response:
    """The lead behind an alert: who, from where, how long they have waited, and buttons."""
    from chalicelib.services.lead_page import LinkRefusedError, open_page
    from functions import lead_page_html as html

    c = container()
    try:
        view = open_page(token, secret=_secret(c), worker=c.worker())
    except LinkRefusedError as exc:
        return _html(html.refused(exc.reason), _STATUS.get(exc.reason, 403))
    except NotFoundError:
        return _html(html.refused("not_found"), 404)
    return _html(html.page(view))


@bp.route("/r/{token}", methods=["POST"], content_types=FORM)
def lead_action(token: str) -> Response:
    """A button on the lead page: form field action = claim | contacted."""
    from chalicelib.services.lead_page import LinkRefusedError, act
    from functions import lead_page_html as html

    c = container()
    fields = parse_qs(raw_body(bp.current_request).decode("utf-8", "replace"))
    action = (fields.get("action") or [""])[0]
    try:
        view = act(token, action, secret=_secret(c), worker=c.worker())
    except LinkRefusedError as exc:
        return _html(html.refused(exc.reason), _STATUS.get(exc.reason, 403))
    except NotFoundError:
        return _html(html.refused("not_found"), 404)
    return _html(html.page(view))


def _secret(c: Container) -> str:
    ref = c.settings.link_secret_ref
    if ref is None:
        raise NotConfiguredError("LEADCLOCK_LINK_SECRET_REF is not set")
    return c.secrets.resolve(ref)


def _html(body: str, status: int = 200) -> Response:
    # Personal data: never cached by a browser or a proxy.
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
    }
    return Response(body, status_code=status, headers=headers)
