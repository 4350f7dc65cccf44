"""Sign a test request the way a provider would, for trying webhooks by hand with curl.

    python -m chalicelib.cli.sign twilio URL 'CallSid=CA1' 'From=+14155550123' ...
    python -m chalicelib.cli.sign standard-webhooks BODY_FILE
    python -m chalicelib.cli.sign typeform BODY_FILE
    python -m chalicelib.cli.sign webflow BODY_FILE

Prints the headers as a curl config (`header = "Name: value"` lines), to pipe into `curl -K -`.
Secrets come from the environment: TWILIO_AUTH_TOKEN, or SECRET for the form schemes (the value
behind the source's env: reference).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def main(argv: list[str]) -> int:
    """Print the signature headers for one request."""
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    scheme, target, rest = argv[0], argv[1], argv[2:]
    if scheme == "twilio":
        from twilio.request_validator import RequestValidator

        params = dict(p.split("=", 1) for p in rest)
        token = os.environ["TWILIO_AUTH_TOKEN"]
        headers = {"X-Twilio-Signature": RequestValidator(token).compute_signature(target, params)}
    else:
        headers = _form_headers(scheme, os.environ["SECRET"], Path(target).read_bytes())
    for name, value in headers.items():
        print(f'header = "{name}: {value}"')
    return 0


def _form_headers(scheme: str, secret: str, body: bytes) -> dict[str, str]:
    now = int(time.time())
    if scheme == "standard-webhooks":
        from standardwebhooks.webhooks import Webhook

        msg_id = "msg_" + secrets.token_hex(8)
        stamp = datetime.fromtimestamp(now, tz=UTC)
        signature = Webhook(secret).sign(msg_id, stamp, body.decode())
        return {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature}
    if scheme == "typeform":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        return {"Typeform-Signature": "sha256=" + base64.b64encode(digest).decode()}
    if scheme == "webflow":
        millis = str(now * 1000)
        hexmac = hmac.new(secret.encode(), f"{millis}:".encode() + body, hashlib.sha256).hexdigest()
        return {"x-webflow-timestamp": millis, "x-webflow-signature": hexmac}
    raise SystemExit(f"unknown scheme {scheme!r}: twilio, standard-webhooks, typeform, webflow")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
