"""Signed links: a token that lets one rep act on one lead for one purpose, until it expires.

No login behind an alert: the link itself is the credential, so it grants as little as it can.
A token is `<payload>.<mac>`, both base64url without padding; the payload names the lead, the
rep, the purpose, the expiry and a random nonce, and the MAC is HMAC-SHA256 over the payload with
the deployment's link secret, compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The lead page; claim; start a call (a page link); a bridged call's Twilio URLs; the team's
# SLA board on a wall screen (no lead: services/board.py).
PURPOSES = ("open", "claim", "call", "bridge", "board")
# Long enough to act on an alert read late; short enough that a forwarded SMS goes stale.
DEFAULT_TTL = timedelta(hours=24)
_VERSION = "1"


@dataclass(frozen=True)
class Grant:
    """What a token allows: `rep` may do `purpose` to `lead_id` until `expires`."""

    lead_id: str
    rep: str
    purpose: str
    expires: datetime
    nonce: str  # makes each token unique, so a used one can be told from a fresh one


class LinkError(Exception):
    """The token cannot be used: `reason` is "malformed", "tampered" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def grant(
    lead_id: str, rep: str, purpose: str, *, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> Grant:
    """A fresh grant for `rep` to do `purpose` to `lead_id`."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose: {purpose}")
    for part in (lead_id, rep):
        if not part or "|" in part:
            raise ValueError("lead and rep ids must be non-empty and free of '|'")
    return Grant(lead_id, rep, purpose, (now + ttl).astimezone(UTC), _random.token_hex(6))


def sign(g: Grant, secret: str) -> str:
    """The token for `g`."""
    expires = str(int(g.expires.timestamp()))
    payload = "|".join((_VERSION, g.lead_id, g.rep, g.purpose, expires, g.nonce)).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload, secret))}"


def verify(token: str, secret: str, *, now: datetime) -> Grant:
    """The grant a token carries; LinkError unless it is well-formed, signed with `secret`
    and not expired. The MAC is checked before anything in the payload is trusted."""
    try:
        encoded, mac = token.split(".")
        payload, given = _unb64(encoded), _unb64(mac)
    except (ValueError, binascii.Error):
        raise LinkError("malformed") from None
    if not hmac.compare_digest(given, _mac(payload, secret)):
        raise LinkError("tampered")
    try:
        version, lead_id, rep, purpose, expires, nonce = payload.decode().split("|")
        when = datetime.fromtimestamp(int(expires), UTC)
    except (ValueError, UnicodeDecodeError):
        raise LinkError("malformed") from None
    if version != _VERSION or purpose not in PURPOSES:
        raise LinkError("malformed")
    if now >= when:
        raise LinkError("expired")
    return Grant(lead_id, rep, purpose, when, nonce)


def _mac(payload: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or len(text) > 512:
        raise ValueError("empty or oversized")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
