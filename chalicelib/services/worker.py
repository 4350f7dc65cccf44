"""The alert worker's ports, gathered: what firing a step and delivering its alerts need."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.domain.team import TeamConfig
from chalicelib.ports import AlertLog, Clock, LeadStore, RoutingStore, Sender, TeamStore, Timers

# Twilio reports an alert SMS's delivery here (functions/telephony.py); the path names the alert.
ALERT_STATUS_PATH = "/webhooks/twilio/alert-status"


@dataclass(frozen=True)
class Worker:
    """Everything firing a step needs."""

    store: LeadStore
    team: TeamStore
    routing: RoutingStore
    timers: Timers
    alerts: AlertLog
    senders: Callable[[TeamConfig], Mapping[str, Sender]]  # channel -> sender, per configuration
    clock: Clock
    sleep: Callable[[float], None]  # backoff between delivery attempts
    public_url: str | None = None  # for links and status callbacks
    # The signed links' secret, or None when links are off (no LEADCLOCK_LINK_SECRET_REF).
    link_secret: Callable[[], str | None] = lambda: None
