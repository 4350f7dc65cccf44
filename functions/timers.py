"""The alert worker's triggers: SQS timer messages, and the 1-minute sweeper behind them.

Every Lambda imports the whole app, the webhooks' too, so the worker's code is imported inside
its handlers: a form's cold start does not pay for the alert worker."""

from __future__ import annotations

from chalice.app import Blueprint, CloudWatchEvent, SQSEvent

from chalicelib.wiring import container

bp = Blueprint(__name__)

# The queue infra/resources.json creates; Chalice subscribes the function to it by name.
TIMER_QUEUE = "leadclock-timers"


@bp.on_sqs_message(queue=TIMER_QUEUE, batch_size=10)
def timer(event: SQSEvent) -> None:
    """Fire the due step of each message. An exception leaves the batch to SQS, which
    redelivers it (firing is conditional, so steps already fired fire nothing)."""
    from chalicelib.services.escalation import on_timer

    worker = container().worker()
    for record in event:
        on_timer(record.body, worker)


@bp.schedule("rate(1 minute)")
def sweeper(event: CloudWatchEvent) -> None:
    """Fire steps whose timer message was lost, from the sparse index of due steps."""
    from chalicelib.services.escalation import sweep

    sweep(container().worker())
