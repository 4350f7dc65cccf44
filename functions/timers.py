"""The alert worker's triggers: SQS messages (timers, and jobs such as Slack clicks), and the
1-minute sweeper behind the timers.

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
    """Run each message: fire a due step, or do a job a request handed off (a Slack click). An
    exception leaves the batch to SQS, which redelivers it (firing is conditional, so steps
    already fired fire nothing; a click acted on again changes nothing)."""
    from chalicelib.services.jobs import handle_batch

    c = container()
    handle_batch((record.body for record in event), c.worker(), slack=c.slack_responder)


@bp.schedule("rate(1 minute)")
def sweeper(event: CloudWatchEvent) -> None:
    """Fire steps whose timer message was lost, from the sparse index of due steps."""
    from chalicelib.services.escalation import sweep

    sweep(container().worker())
