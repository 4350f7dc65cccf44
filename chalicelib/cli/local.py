"""`make run`: the whole system on one machine. Starts the embedded AWS stack (DynamoDB, SQS and
SES from moto's server), creates the tables and the timers queue, loads the team configuration,
serves the HTTP API, and runs what AWS would trigger: the replayer, the SQS timer consumer that
fires escalation steps, and the sweeper behind it. Alerts on channels without credentials go to
a local outbox: printed here, and listed by GET /outbox.

Environment: PORT (8000), LEADCLOCK_CONFIG (infra/team.demo.yaml), LEADCLOCK_ADMIN_KEY and any
secret the configuration's sources or Twilio webhooks reference as env:NAME (each generated and
printed when unset). Alert credentials (Twilio account sid, Slack token or webhook) are never
generated: set them to send real alerts. LEADCLOCK_SWEEP_EVERY_S (60) and
LEADCLOCK_WORKER_THREADS (4) tune the alert worker; LEADCLOCK_DIGEST_EVERY_S (60) is how often
manager digests that are due are sent (to the outbox, without SES credentials).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from chalicelib.domain.team import TeamConfig
from chalicelib.logs import get_logger

if TYPE_CHECKING:
    from chalicelib.ports import SlackResponder
    from chalicelib.services.worker import Worker
    from chalicelib.wiring import Container

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "infra" / "team.demo.yaml"
REPLAY_EVERY_S = 10.0
RECEIVE_WAIT_S = 1  # a long poll; short enough that Ctrl-C is answered within a second

log = get_logger(__name__)


def main() -> int:
    """Run until Ctrl-C or SIGTERM, then stop everything cleanly."""
    port = int(os.environ.get("PORT", "8000"))
    config_path = Path(os.environ.get("LEADCLOCK_CONFIG", str(DEFAULT_CONFIG)))
    sweep_every_s = float(os.environ.get("LEADCLOCK_SWEEP_EVERY_S", "60"))
    threads = int(os.environ.get("LEADCLOCK_WORKER_THREADS", "4"))

    from chalicelib.cli.embedded import EmbeddedAws

    aws = EmbeddedAws(int(os.environ.get("LEADCLOCK_DYNAMODB_PORT", "0"))).start()
    base_url = f"http://127.0.0.1:{port}"
    _local_environment(aws.url, base_url)

    from chalicelib import wiring
    from chalicelib.adapters.channels.outbox import Outbox
    from chalicelib.adapters.dynamo.models import create_tables
    from chalicelib.settings import load_settings
    from chalicelib.team_file import load_team_file

    team = load_team_file(config_path)
    generated = _demo_secrets(team)
    settings = load_settings()
    container = wiring.build(settings, outbox=Outbox(echo=_print))
    wiring.use(container)
    create_tables()
    container.team.save(team)
    queue_url = _aws_resources(container, team)

    from chalice.config import Config
    from chalice.local import create_local_server

    from app import app

    server = create_local_server(app, Config.create(app_name="leadclock"), "127.0.0.1", port)
    stop = threading.Event()
    worker = container.worker()
    handle = _on_timer(worker, container.slack_responder)
    consumer = TimerConsumer(_client("sqs", container), queue_url, handle, threads)
    background = [
        threading.Thread(target=_replay_loop, args=(container, stop), name="replayer"),
        threading.Thread(target=consumer.run, args=(stop,), name="timers"),
        threading.Thread(target=_sweep_loop, args=(worker, sweep_every_s, stop), name="sweeper"),
        threading.Thread(target=_digest_loop, args=(container, stop), name="digests"),
    ]
    for thread in background:
        thread.daemon = True
        thread.start()

    def shutdown(signum: int, frame: FrameType | None) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    _banner(team, base_url, aws.url, config_path, generated, sweep_every_s)
    server.server.serve_forever()
    # The consumer finishes the steps it is firing (their alerts are logged) before it stops.
    for thread in background:
        thread.join(timeout=REPLAY_EVERY_S)
    aws.stop()
    print("leadclock stopped.", flush=True)
    return 0


class TimerConsumer:
    """What the SQS trigger does in AWS: receives timer messages (up to 10 at a time), handles
    each on a small pool of threads, deletes it once handled, and leaves it when handling
    raised, so SQS delivers it again after the visibility timeout (and to the dead-letter
    queue after 5 tries)."""

    def __init__(
        self, sqs: Any, queue_url: str, handle: Callable[[str], None], threads: int = 4
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handle = handle
        self._threads = threads
        # Receive no more than the pool can start on: a message waiting in a backlog here would
        # use up its visibility timeout without anyone working on it.
        self._free = threading.BoundedSemaphore(threads)

    def run(self, stop: threading.Event) -> None:
        """Receive and handle messages until `stop` is set; finish the ones in hand."""
        with ThreadPoolExecutor(self._threads, thread_name_prefix="timer") as pool:
            while not stop.is_set():
                for message in self._receive(stop):
                    self._free.acquire()
                    pool.submit(self._one, message)

    def _receive(self, stop: threading.Event) -> list[dict[str, Any]]:
        try:
            reply = self._sqs.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=RECEIVE_WAIT_S
            )
        except Exception:
            log.exception("could not receive timers; trying again")
            stop.wait(1.0)
            return []
        messages: list[dict[str, Any]] = reply.get("Messages", [])
        return messages

    def _one(self, message: dict[str, Any]) -> None:
        try:
            self._handle(message["Body"])
        except Exception:
            log.exception("timer failed; SQS delivers it again after the visibility timeout")
        else:
            try:
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            except Exception:
                # Delivered again later, and then fires nothing: the step has moved on.
                log.exception("handled timer not deleted")
        finally:
            self._free.release()


def _on_timer(worker: Worker, slack: SlackResponder) -> Callable[[str], None]:
    # Timers and handed-off jobs (Slack clicks) share the queue, as in AWS.
    from chalicelib.services import jobs

    def handle(body: str) -> None:
        jobs.handle(body, worker, slack=slack)

    return handle


def _sweep_loop(worker: Worker, every_s: float, stop: threading.Event) -> None:
    from chalicelib.services import escalation

    while not stop.wait(every_s):
        try:
            escalation.sweep(worker)
        except Exception:
            log.exception("sweep failed; the next one tries again")


def _digest_loop(container: Container, stop: threading.Event) -> None:
    # AWS runs this every 15 minutes; here every minute, so a digest whose time comes while
    # `make run` is up goes to the outbox within a minute of it.
    from chalicelib.services.digests import send_due

    every_s = float(os.environ.get("LEADCLOCK_DIGEST_EVERY_S", "60"))
    while not stop.wait(every_s):
        try:
            send_due(container.worker(), container.digest_log)
        except Exception:
            log.exception("digest run failed; the next one tries again")


def _local_environment(endpoint: str, base_url: str) -> None:
    # Dummy credentials: the embedded server accepts any, and nothing can reach a real account.
    defaults = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LEADCLOCK_TABLE_PREFIX": "leadclock-local-",
        "LEADCLOCK_ADMIN_KEY_REF": "env:LEADCLOCK_ADMIN_KEY",
        "LEADCLOCK_TIMER_QUEUE": "leadclock-local-timers",
        "LEADCLOCK_TIMER_DLQ": "leadclock-local-timers-dlq",
        "LEADCLOCK_LINK_SECRET_REF": "env:LEADCLOCK_LINK_SECRET",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ["LEADCLOCK_AWS_ENDPOINT"] = endpoint
    os.environ["PUBLIC_BASE_URL"] = base_url
    os.environ["LEADCLOCK_LOCAL"] = "1"
    os.environ.setdefault("LEADCLOCK_ADMIN_KEY", "local-" + secrets.token_urlsafe(12))
    # Signs the links in alerts; a new one each run unless set (old links then stop working).
    os.environ.setdefault("LEADCLOCK_LINK_SECRET", secrets.token_urlsafe(32))


def _demo_secrets(team: TeamConfig) -> dict[str, str]:
    """Give every env: secret the sources, Twilio's and Slack's webhooks name a value, so the
    demo runs as it is. Alert credentials are left alone: unset, those alerts go to the
    outbox."""
    schemes = {s.secret_ref: s.auth_scheme for s in team.sources}
    if team.twilio_auth_token_ref:
        schemes[team.twilio_auth_token_ref] = "twilio"
    if team.alerts.slack_signing_secret_ref:
        schemes[team.alerts.slack_signing_secret_ref] = "slack"
    generated: dict[str, str] = {}
    for ref, scheme in schemes.items():
        if not ref.startswith("env:") or os.environ.get(ref[4:]):
            continue
        if scheme == "standard_webhooks":
            value = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        else:
            value = secrets.token_hex(16)
        os.environ[ref[4:]] = generated[ref[4:]] = value
    return generated


def _aws_resources(container: Container, team: TeamConfig) -> str:
    """The timers queue and its dead-letter queue, and the SES sender identity, as AWS would
    have them; returns the timers queue's URL."""
    from chalicelib.cli.embedded import create_timer_queues

    settings = container.settings
    url = create_timer_queues(
        _client("sqs", container),
        queue=settings.timer_queue,
        dead_letter_queue=settings.timer_dlq,
    )
    alerts = team.alerts
    if alerts.email_from:
        # SES refuses mail from an address it has not verified, embedded or not.
        ses = _client("sesv2", container)
        ses.create_email_identity(EmailIdentity=alerts.email_from)
        if alerts.email_configuration_set:
            ses.create_configuration_set(ConfigurationSetName=alerts.email_configuration_set)
    return url


def _client(service: str, container: Container) -> Any:
    import boto3

    settings = container.settings
    return boto3.client(service, region_name=settings.region, endpoint_url=settings.endpoint_url)


def _replay_loop(container: Container, stop: threading.Event) -> None:
    from chalicelib.services.assignment import Assigner
    from chalicelib.services.landing import replay_pending

    c = container
    assigner = Assigner(team=c.team, routing=c.routing, clock=c.clock, timers=c.timers)
    while not stop.wait(REPLAY_EVERY_S):
        try:
            replay_pending(store=container.store, clock=container.clock, assigner=assigner)
        except Exception:
            log.exception("replay failed; the next one tries again")


def _print(line: str) -> object:
    print(line, flush=True)
    return None


def _banner(
    team: TeamConfig,
    base: str,
    endpoint: str,
    config_path: Path,
    generated: dict[str, str],
    sweep_every_s: float,
) -> None:
    from chalicelib.cli.examples import examples

    key = os.environ["LEADCLOCK_ADMIN_KEY"]
    lines = [
        f"leadclock is running for {team.name}  (config: {config_path})",
        f"  API            {base}",
        f"  AWS (embedded) {endpoint}  DynamoDB, SQS, SES in memory; gone when you stop",
        f"  timers         SQS queue {os.environ['LEADCLOCK_TIMER_QUEUE']}, consumed here; "
        f"sweeper every {sweep_every_s:g}s",
        f"  alerts         {_alert_routes(team)}",
        f"  outbox         printed here as [outbox …] lines; GET {base}/outbox lists them",
        f"  admin key      {key}   (header x-api-key)",
        f"  SLA board      {_board_url(base)}",
        "",
        "Webhook URLs:",
    ]
    lines += [
        f"  {s.name:<12} {base}/webhooks/forms/{s.name}   ({s.auth_scheme})" for s in team.sources
    ]
    lines += [
        f"  twilio voice  {base}/webhooks/twilio/voice",
        f"  twilio sms    {base}/webhooks/twilio/sms",
        f"  alerts number {base}/webhooks/twilio/alerts-sms   (reps reply 1, CALL, DONE)",
        f"  slack buttons {base}/webhooks/slack/actions",
    ]
    lines += [f"  twilio status {base}/webhooks/twilio/status", ""]
    if generated:
        lines.append("Demo secrets generated for this run (set them yourself to keep them):")
        lines += [f"  {name}={value}" for name, value in generated.items()]
        lines.append("")
    lines.append("Try it (paste into another terminal):")
    lines += examples(team, base, key)
    lines += [
        "# the alerts that went to the outbox, newest first",
        f"curl -s {base}/outbox -H 'x-api-key: {key}'",
        "# yesterday's manager digest as it would be emailed (format=text: its text part)",
        f"curl -s '{base}/digests/preview?period=daily&format=text' -H 'x-api-key: {key}'",
    ]
    lines += ["", "leadclock ready. Ctrl-C stops everything."]
    print("\n".join(lines), flush=True)


def _board_url(base: str) -> str:
    """A wall-screen link to the live SLA board, valid for this run's link secret."""
    from chalicelib import wiring
    from chalicelib.services.board import new_link

    secret = wiring.container().link_secret()
    if secret is None:
        return f"GET {base}/board with the admin key"
    return f"{base}/board/{new_link(now=wiring.container().clock.now(), secret=secret).token}"


def _alert_routes(team: TeamConfig) -> str:
    """Where each channel's alerts go in this run, as the worker will decide it."""
    from chalicelib import wiring
    from chalicelib.adapters.channels.factory import UnconfiguredSender
    from chalicelib.adapters.channels.outbox import OutboxSender

    routes = []
    for channel, sender in wiring.container().senders(team).items():
        if isinstance(sender, OutboxSender):
            where = "outbox"
        elif isinstance(sender, UnconfiguredSender):
            where = "not configured"
        else:
            where = "SES (embedded)" if channel == "email" else "the real provider"
        routes.append(f"{channel} -> {where}")
    return ", ".join(routes)


if __name__ == "__main__":
    sys.exit(main())
