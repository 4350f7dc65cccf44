"""Deployment settings, read from the environment once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Where things are: region, tables, queues, endpoint override, public URL, admin key."""

    region: str
    table_prefix: str
    endpoint_url: str | None  # the embedded server locally; None in AWS
    public_base_url: str | None  # exactly what is typed into the Twilio console, stage included
    admin_key_ref: str | None  # "env:NAME" or "ssm:/path"; API Gateway checks the key in AWS
    in_lambda: bool
    timer_queue: str = "leadclock-timers"  # the SQS queue of ladder-step timers (a name)
    timer_dlq: str | None = "leadclock-timers-dlq"  # where timers go after failing 5 times
    # `make run`: alerts on channels without credentials go to the local outbox, and
    # GET /outbox lists them. Never set in AWS.
    local: bool = False
    # Provider endpoints, for tests that play Twilio or Slack on 127.0.0.1; unset in AWS. A
    # Slack base also takes Slack click answers (response_url), wherever the click said.
    twilio_api_base: str | None = None
    slack_api_base: str | None = None
    # "env:NAME" or "ssm:/path": the HMAC secret of the signed links in alerts (/r/{token}).
    link_secret_ref: str | None = None

    def table(self, name: str) -> str:
        """The physical name of the table called `name`."""
        return f"{self.table_prefix}{name}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env` (the process environment by default)."""
    env = os.environ if env is None else env
    return Settings(
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        table_prefix=env.get("LEADCLOCK_TABLE_PREFIX", "leadclock-dev-"),
        endpoint_url=env.get("LEADCLOCK_AWS_ENDPOINT") or None,
        public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        admin_key_ref=env.get("LEADCLOCK_ADMIN_KEY_REF") or None,
        in_lambda=bool(env.get("AWS_LAMBDA_FUNCTION_NAME")),
        timer_queue=env.get("LEADCLOCK_TIMER_QUEUE") or "leadclock-timers",
        # Set to an empty value for a deployment without a dead-letter queue to ask.
        timer_dlq=env.get("LEADCLOCK_TIMER_DLQ", "leadclock-timers-dlq") or None,
        local=env.get("LEADCLOCK_LOCAL") == "1",
        twilio_api_base=env.get("LEADCLOCK_TWILIO_API_BASE") or None,
        slack_api_base=env.get("LEADCLOCK_SLACK_API_BASE") or None,
        link_secret_ref=env.get("LEADCLOCK_LINK_SECRET_REF") or None,
    )
