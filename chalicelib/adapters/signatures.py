"""Check that inbound webhooks really come from the provider they claim to be.

Form sources use one of four schemes (see contracts.md §5, §5.1, §5.2); Twilio uses its own
(contracts.md §1.3). Time is a port in this project, so every timestamp is judged against the
`now` the caller passes in, never against the wall clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from twilio.request_validator import RequestValidator

from chalicelib.domain.errors import ForbiddenError, InvalidPayloadError, UnauthorizedError

SCHEMES = frozenset({"standard_webhooks", "typeform", "webflow", "token"})
TOLERANCE_SECONDS = 300
TOKEN_HEADER = "x-leadclock-token"


def verify_form_request(
    scheme: str,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    path_token: str | None,
    now: datetime,
) -> str | None:
    """Verify a form webhook by `scheme`; return the provider's idempotency id if it has one."""
    # HTTP header names are case-insensitive and API Gateway passes them through as sent.
    lowered = {name.lower(): value for name, value in headers.items()}
    if scheme not in SCHEMES:
        raise UnauthorizedError(f"unknown signature scheme {scheme!r}")
    # An empty secret would make an empty token or an HMAC with an empty key pass.
    if not secret:
        raise UnauthorizedError("no secret is configured for this source")
    if scheme == "standard_webhooks":
        return _verify_standard_webhooks(secret, body, lowered, now)
    if scheme == "typeform":
        _verify_typeform(secret, body, lowered)
    elif scheme == "webflow":
        _verify_webflow(secret, body, lowered, now)
    else:
        _verify_token(secret, lowered, path_token)
    return None


def verify_twilio_request(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> None:
    """Raise ForbiddenError unless `signature` is Twilio's signature of `url` and `params`."""
    if not auth_token:
        raise ForbiddenError("no Twilio auth token is configured")
    validator = RequestValidator(auth_token)
    if not validator.validate(url, dict(params), signature or ""):
        raise ForbiddenError("invalid Twilio signature")


def parse_twilio_form(body: bytes) -> dict[str, str]:
    """Parse a Twilio form body into name → value, keeping blank values (they are signed)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidPayloadError("body is not valid UTF-8", field="body") from None
    # Twilio never repeats a parameter name; if one did, the signature check fails closed.
    return dict(pairs)


def _verify_standard_webhooks(
    secret: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> str:
    msg_id = _require(headers, "webhook-id")
    raw_timestamp = _require(headers, "webhook-timestamp")
    signatures = _require(headers, "webhook-signature")
    sent_at = _parse_unix(raw_timestamp, "webhook-timestamp")
    _check_window(sent_at, now)
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnauthorizedError("body is not UTF-8, so its signature can't be checked") from None
    try:
        webhook = Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):
        raise UnauthorizedError("the configured secret is not a valid whsec_ key") from None
    # Webhook.verify re-reads the wall clock, so we sign with the library and compare ourselves.
    expected = webhook.sign(msg_id, datetime.fromtimestamp(sent_at, tz=UTC), data)
    # The header lists one "v1,<base64>" entry per active key, so any match passes (rotation).
    if not any(_same(candidate, expected) for candidate in signatures.split()):
        raise UnauthorizedError("invalid webhook-signature")
    return msg_id


def _verify_typeform(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    presented = _require(headers, "typeform-signature")
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if not _same(presented, "sha256=" + base64.b64encode(digest).decode()):
        raise UnauthorizedError("invalid Typeform-Signature")


def _verify_webflow(secret: str, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
    presented = _require(headers, "x-webflow-signature")
    raw_timestamp = _require(headers, "x-webflow-timestamp")
    # Webflow's timestamp is in milliseconds, unlike every other scheme here.
    _check_window(_parse_unix(raw_timestamp, "x-webflow-timestamp") / 1000, now)
    signed = raw_timestamp.encode() + b":" + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not _same(presented.lower(), expected):
        raise UnauthorizedError("invalid x-webflow-signature")


def _verify_token(secret: str, headers: Mapping[str, str], path_token: str | None) -> None:
    candidates = [headers.get(TOKEN_HEADER), _bearer(headers.get("authorization")), path_token]
    presented = [candidate for candidate in candidates if candidate]
    if not presented:
        raise UnauthorizedError("missing X-Leadclock-Token header, Bearer token or path token")
    if not any(_same(candidate, secret) for candidate in presented):
        raise UnauthorizedError("invalid token")


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    kind, _, token = authorization.strip().partition(" ")
    return token.strip() if kind.lower() == "bearer" else None


def _require(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise UnauthorizedError(f"missing {name} header")
    return value


def _parse_unix(raw: str, name: str) -> int:
    # int() would also accept "+1", " 1" and "1_000"; a signed header should be plain digits.
    if not (raw.isascii() and raw.isdigit()):
        raise UnauthorizedError(f"{name} header is not an integer")
    # Milliseconds fit in 13 digits for centuries; anything longer cannot be in the window and
    # would overflow the float conversion below.
    if len(raw) > 15:
        raise UnauthorizedError("timestamp outside the 5-minute window")
    return int(raw)


def _check_window(sent_at_seconds: float, now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if abs(now.timestamp() - sent_at_seconds) > TOLERANCE_SECONDS:
        raise UnauthorizedError("timestamp outside the 5-minute window")


def _same(presented: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str and a header may carry anything.
    return hmac.compare_digest(presented.encode(), expected.encode())
