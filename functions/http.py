"""HTTP plumbing shared by the blueprints: domain errors to JSON, headers, URLs, the admin key."""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

from chalice.app import MultiDict, Request, Response

from chalicelib.domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidPayloadError,
    LeadclockError,
    NotConfiguredError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnsupportedContentTypeError,
)
from chalicelib.logs import get_logger
from chalicelib.wiring import Container

log = get_logger(__name__)

# The one table from domain error to HTTP status. Anything not here is a 400.
_STATUS: dict[type[LeadclockError], int] = {
    InvalidPayloadError: 400,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    UnsupportedContentTypeError: 415,
}

F = TypeVar("F", bound=Callable[..., Any])
# Said explicitly: API Gateway defaults a proxy response to JSON, but `chalice local` sends no
# Content-Type at all, and clients should not have to guess.
JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(body: Any, status_code: int = 200) -> Response:
    """A JSON response with its Content-Type said. Serialised here, not by Chalice, which
    turns a Decimal into a float: an amount goes out as a string, exactly as stored."""
    text = json.dumps(body, separators=(",", ":"), default=_json_extra)
    return Response(text, status_code=status_code, headers=dict(JSON_HEADERS))


def _json_extra(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, MultiDict):
        return dict(value)  # as Chalice's own serialiser does
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_errors(view: F) -> F:
    """Translate domain errors raised by `view` into JSON error responses."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except LeadclockError as exc:
            return error_response(exc)
        except NotConfiguredError as exc:
            # Nothing can be authenticated without the configuration or its secrets: tell the
            # sender to retry rather than refuse for good. The reason goes to the log only.
            log.error("not configured: %s", exc)
            return json_response({"Code": "NotConfigured", "Message": "not configured"}, 503)

    return cast(F, wrapper)


def error_response(exc: LeadclockError) -> Response:
    """A JSON error naming the code, the reason and, when known, the field."""
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
    body: dict[str, Any] = {"Code": exc.code, "Message": exc.message}
    if exc.field:
        body["Field"] = exc.field
    return json_response(body, status)


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body ({} when empty); InvalidPayloadError naming the body otherwise."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayloadError("invalid JSON", field="body") from None
    if not isinstance(data, dict):
        raise InvalidPayloadError("must be a JSON object", field="body")
    return data


def raw_body(request: Request) -> bytes:
    """The request body as bytes (Chalice gives str when API Gateway did not base64 it)."""
    body = request.raw_body
    return body.encode("utf-8") if isinstance(body, str) else body


def lower_headers(request: Request) -> dict[str, str]:
    """The request's headers with lower-case names."""
    return {k.lower(): v for k, v in request.headers.items()}


def public_url(request: Request, route_path: str, base_url: str | None) -> str:
    """The URL the provider called, as it signed it: PUBLIC_BASE_URL + route when configured,
    else rebuilt from Host and the original path API Gateway saw."""
    if base_url:
        return base_url + route_path
    headers = lower_headers(request)
    scheme = headers.get("x-forwarded-proto", "https")
    path = (request.context or {}).get("path") or route_path
    return f"{scheme}://{headers.get('host', 'localhost')}{path}"


def require_admin(request: Request, c: Container) -> None:
    """Refuse unless x-api-key matches the admin key. In Lambda with no key configured, API
    Gateway has already checked the key (routes are api_key_required)."""
    ref = c.settings.admin_key_ref
    if ref is None:
        if c.settings.in_lambda:
            return
        raise UnauthorizedError("no admin key is configured")
    given = lower_headers(request).get("x-api-key", "")
    if not hmac.compare_digest(given.encode(), c.secrets.resolve(ref).encode()):
        raise UnauthorizedError("missing or wrong x-api-key")
