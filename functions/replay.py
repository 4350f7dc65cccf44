"""The safety net: land events that were recorded but not landed (a crash mid-request)."""

from __future__ import annotations

from chalice.app import Blueprint, CloudWatchEvent

from chalicelib.services.assignment import Assigner
from chalicelib.services.landing import replay_pending
from chalicelib.wiring import container

bp = Blueprint(__name__)


@bp.schedule("rate(1 minute)")
def replay(event: CloudWatchEvent) -> None:
    """Once a minute, land pending events older than 30 seconds from a sparse index."""
    c = container()
    assigner = Assigner(team=c.team, routing=c.routing, clock=c.clock, timers=c.timers)
    replay_pending(store=c.store, clock=c.clock, assigner=assigner)
