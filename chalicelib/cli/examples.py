"""Ready-to-paste curl commands for the local stack, signed with this run's secrets."""

from __future__ import annotations

import json
import os
import shlex
from urllib.parse import urlencode

from chalicelib.domain.team import TeamConfig


def examples(team: TeamConfig, base: str, admin_key: str) -> list[str]:
    """Shell lines that exercise each kind of endpoint against `base`."""
    lines: list[str] = []
    token_source = next((s for s in team.sources if s.auth_scheme == "token"), None)
    if token_source:
        body = {
            "name": "Ann Lee",
            "email": "ann.lee@example.com",
            "phone": "(415) 555-0123",
            "message": "Quote for a roof repair, please",
            "page_url": "https://example.com/roofs?utm_source=google&utm_campaign=Spring_Sale",
        }
        secret = _env(token_source.secret_ref)
        lines += [
            f"# a web form ({token_source.name}, token in a header)",
            _curl(
                f"{base}/webhooks/forms/{token_source.name}",
                ["Content-Type: application/json", f"X-Leadclock-Token: {secret}"],
                json.dumps(body),
            ),
        ]
    if team.twilio_auth_token_ref and team.tracking_numbers:
        number = team.tracking_numbers[0].number
        sms = {
            "MessageSid": "SM" + "0" * 31 + "1",
            "AccountSid": "AC" + "0" * 32,
            "From": "+14155550123",
            "To": number,
            "Body": "Hi, can someone call me back?",
            "NumMedia": "0",
            "FromCity": "",
        }
        lines += [f"# an SMS to tracking number {number}, signed as Twilio signs it"]
        lines.append(_twilio_curl(team, f"{base}/webhooks/twilio/sms", sms))
    lines += [
        "# the leads, newest first, and one lead with its timeline",
        _curl(f"{base}/leads", [f"x-api-key: {admin_key}"], None),
        _curl(f"{base}/leads/<lead_id>", [f"x-api-key: {admin_key}"], None),
    ]
    return lines


def _twilio_curl(team: TeamConfig, url: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    token = _env(team.twilio_auth_token_ref or "")
    signature = RequestValidator(token).compute_signature(url, params)
    headers = [
        "Content-Type: application/x-www-form-urlencoded",
        f"X-Twilio-Signature: {signature}",
    ]
    return _curl(url, headers, urlencode(params))


def _curl(url: str, headers: list[str], body: str | None) -> str:
    parts = ["curl", "-sS"] + [x for h in headers for x in ("-H", h)]
    if body is not None:
        parts += ["--data-raw", body]
    parts.append(url)
    return " ".join(shlex.quote(p) for p in parts)


def _env(ref: str) -> str:
    return os.environ.get(ref[4:], "<secret>") if ref.startswith("env:") else "<secret from SSM>"
