"""Check that a request really comes from Slack: slack_sdk's SignatureVerifier over
`v0:{timestamp}:{body}` with the app's signing secret, timestamp within 5 minutes (contracts.md §3).

slack_sdk is imported inside the function: this module loads with the webhooks' Lambda, and a
form's cold start must not pay for Slack's SDK.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.domain.errors import ForbiddenError
from chalicelib.ports import Clock

TOLERANCE_SECONDS = 300


class _SlackClock:
    """slack_sdk's clock (seconds since the epoch) read from our Clock port, so tests move time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


def verify_slack_request(
    signing_secret: str, body: bytes, headers: Mapping[str, str], *, clock: Clock
) -> None:
    """Raise ForbiddenError unless Slack signed `body` with `signing_secret` in the last 5 min."""
    from slack_sdk.signature import SignatureVerifier

    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp") or ""
    signature = lowered.get("x-slack-signature") or ""
    if not signature:
        raise ForbiddenError("missing X-Slack-Signature header")
    # The library calls int() on the timestamp, which accepts " 1", "+1" and "1_0", and raises on
    # anything else; a signed header is plain digits. 15 digits is centuries away: never in window.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 15):
        raise ForbiddenError("missing or malformed X-Slack-Request-Timestamp header")
    # Said apart from a bad signature (the library folds both into False): a replay is the case
    # worth reading in a log.
    if abs(clock.now().timestamp() - int(timestamp)) > TOLERANCE_SECONDS:
        raise ForbiddenError("X-Slack-Request-Timestamp outside the 5-minute window")
    # compare_digest refuses non-ASCII str, and the library decodes the body as UTF-8.
    if not signature.isascii():
        raise ForbiddenError("invalid X-Slack-Signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ForbiddenError("body is not UTF-8, so its signature can't be checked") from None
    try:
        verifier = SignatureVerifier(signing_secret, clock=_SlackClock(clock))  # type: ignore[arg-type]
    except ValueError:
        # An empty secret would make an HMAC anyone can compute.
        raise ForbiddenError("no Slack signing secret is configured") from None
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise ForbiddenError("invalid X-Slack-Signature")
