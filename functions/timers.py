"""The alert worker's triggers: SQS timer messages, and the 1-minute sweeper behind them."""

from __future__ import annotations

from chalice.app import Blueprint, CloudWatchEvent, SQSEvent

from chalicelib.services.escalation import on_timer, sweep
from chalicelib.wiring import container

bp = Blueprint(__name__)

# The queue infra/resources.json creates; Chalice subscribes the function to it by name.
TIMER_QUEUE = "leadclock-timers"


@bp.on_sqs_message(queue=TIMER_QUEUE, batch_size=10)
def timer(event: SQSEvent) -> None:
    """Fire the due step of each message. An exception leaves the batch to SQS, which
    redelivers it (firing is conditional, so steps already fired fire nothing)."""
    worker = container().worker()
    for record in event:
        on_timer(record.body, worker)


@bp.schedule("rate(1 minute)")
def sweeper(event: CloudWatchEvent) -> None:
    """Fire steps whose timer message was lost, from the sparse index of due steps."""
    sweep(container().worker())
