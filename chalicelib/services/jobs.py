"""The alert worker's queue carries ladder-step timers and jobs handed off by requests that must
answer at once (a Slack click). Every message is a JSON object whose "kind" says which it is; a
timer written before kinds existed has none. Both the SQS trigger (functions/timers.py) and
`make run`'s consumer (chalicelib/cli/local.py) send every message through `handle`."""

from __future__ import annotations

import json
from collections.abc import Iterable

from chalicelib.logs import get_logger
from chalicelib.ports import SlackResponder
from chalicelib.services import escalation, slack_actions
from chalicelib.services.worker import Worker

log = get_logger(__name__)

TIMER = "timer"
SLACK_CLICK = slack_actions.JOB_KIND


def handle(body: str, worker: Worker, *, slack: SlackResponder) -> None:
    """Run one message. Raises only when it should be delivered again."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    kind = data.get("kind", TIMER) if isinstance(data, dict) else TIMER
    if kind == TIMER:
        # Unreadable bodies go this way too: on_timer logs and drops them.
        escalation.on_timer(body, worker)
    elif kind == SLACK_CLICK and isinstance(data, dict):
        slack_actions.run_click(data, worker=worker, responder=slack)
    else:
        # A newer deployment's job reaching an older worker, or garbage: retrying cannot help.
        log.error("job of unknown kind dropped", extra={"fields": {"kind": str(kind)[:40]}})


def handle_batch(bodies: Iterable[str], worker: Worker, *, slack: SlackResponder) -> None:
    """Run every message of a batch, then raise the first failure, if any: SQS delivers the
    whole batch again (each message is idempotent), and one failing timer does not hold back
    a rep's click behind it."""
    failure: Exception | None = None
    for body in bodies:
        try:
            handle(body, worker, slack=slack)
        except Exception as exc:
            log.exception("queue message failed; SQS delivers the batch again")
            failure = failure or exc
    if failure is not None:
        raise failure
