"""The one place that names concrete adapters. Everything is built on first use and cached, so
moto can start first in tests and a cold start pays only for what its request touches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from chalicelib.domain.errors import NotConfiguredError
from chalicelib.domain.team import AlertChannels, TeamConfig
from chalicelib.ports import (
    AlertLog,
    Clock,
    DigestLog,
    FormVerifier,
    Jobs,
    LeadStore,
    RoutingStore,
    Secrets,
    Sender,
    SlackResponder,
    TeamStore,
    Timers,
    TwilioVerifier,
)
from chalicelib.settings import Settings, load_settings

if TYPE_CHECKING:
    from chalicelib.adapters.channels.outbox import Outbox
    from chalicelib.services.worker import Worker

SenderSet = Callable[[TeamConfig], Mapping[str, Sender]]


class _Unwired:
    """Stands in for a port a container was built without (a test wiring only what it uses):
    any use says which port is missing, instead of failing somewhere later."""

    def __init__(self, port: str) -> None:
        self._port = port

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and hasattr probe for these
        raise NotConfiguredError(f"this container was built without {self._port}")

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        raise NotConfiguredError(f"this container was built without {self._port}")


def _unwired(port: str) -> Any:
    return _Unwired(port)


class NoTimers:
    """Schedules nothing: the sweeper alone fires steps, from the time stored on each lead (a
    container for capture tests, and the bench's sweeper-only comparison)."""

    def schedule(self, lead_id: str, step: int, due: datetime) -> None:
        """Do nothing; the step is already stored on the lead with its time."""

    def dead_letters(self) -> int | None:
        """No dead-letter queue to ask."""
        return None


@dataclass
class Container:
    """The ports a request needs, ready to pass to a service."""

    settings: Settings
    store: LeadStore
    routing: RoutingStore
    team: TeamStore
    secrets: Secrets
    clock: Clock
    verify_form: FormVerifier
    verify_twilio: TwilioVerifier
    # The alert worker's ports. Defaults let a container for the capture path leave them out.
    timers: Timers = field(default_factory=NoTimers)
    alert_log: AlertLog = field(default_factory=lambda: _unwired("an alert log"))
    senders: SenderSet = field(default_factory=lambda: _unwired("alert senders"))
    outbox: Outbox | None = None  # `make run` only
    sleep: Callable[[float], None] = time.sleep
    # Checks Slack's request signature; slack_sdk loads on the first Slack click, not before.
    verify_slack: Callable[..., None] = field(default_factory=lambda: _verify_slack)
    # Work a request hands to the alert worker (the timers' queue), and Slack click answers.
    jobs: Jobs = field(default_factory=lambda: _unwired("a job queue"))
    slack_responder: SlackResponder = field(default_factory=lambda: _unwired("a Slack responder"))
    # Which manager digests went out (chalicelib/services/digests.py).
    digest_log: DigestLog = field(default_factory=lambda: _unwired("a digest log"))

    def worker(self) -> Worker:
        """The alert worker's ports, for escalation.on_timer and escalation.sweep."""
        from chalicelib.services.worker import Worker

        return Worker(
            store=self.store,
            team=self.team,
            routing=self.routing,
            timers=self.timers,
            alerts=self.alert_log,
            senders=self.senders,
            clock=self.clock,
            sleep=self.sleep,
            public_url=self.settings.public_base_url,
            link_secret=self.link_secret,
        )

    def link_secret(self) -> str | None:
        """The signed links' secret, when the deployment names one."""
        ref = self.settings.link_secret_ref
        return self.secrets.resolve(ref) if ref else None


_lock = threading.Lock()
_container: Container | None = None


def container() -> Container:
    """The process-wide container, built on first call."""
    global _container
    with _lock:
        if _container is None:
            _container = build(load_settings())
        return _container


def use(replacement: Container | None) -> None:
    """Install a container (tests with fakes, the local runner); None rebuilds on next use."""
    global _container
    with _lock:
        _container = replacement


def build(settings: Settings, *, outbox: Outbox | None = None) -> Container:
    """Real adapters for `settings`; in local mode alerts without credentials go to `outbox`
    (a silent one when not given)."""
    from chalicelib.adapters import signatures
    from chalicelib.adapters.clock import SystemClock
    from chalicelib.adapters.dynamo.alerts import DynamoAlertLog
    from chalicelib.adapters.dynamo.digest_log import DynamoDigestLog
    from chalicelib.adapters.dynamo.models import bind
    from chalicelib.adapters.dynamo.routing import DynamoRoutingStore
    from chalicelib.adapters.dynamo.store import DynamoLeadStore
    from chalicelib.adapters.dynamo.team import DynamoTeamStore
    from chalicelib.adapters.secrets import SecretResolver
    from chalicelib.adapters.slack_respond import build_responder
    from chalicelib.adapters.sqs_timers import SqsTimers

    connection = bind(
        table_prefix=settings.table_prefix, region=settings.region, host=settings.endpoint_url
    )
    clock = SystemClock()
    secrets = SecretResolver(_lazy_client("ssm", settings))
    if not settings.local:
        outbox = None
    elif outbox is None:
        from chalicelib.adapters.channels.outbox import Outbox

        outbox = Outbox(clock=clock)
    team = DynamoTeamStore()
    timers = SqsTimers(
        _shared_session_client("sqs", settings, connection),
        queue=settings.timer_queue,
        dead_letter_queue=settings.timer_dlq,
        clock=clock,
    )
    return Container(
        settings=settings,
        store=DynamoLeadStore(
            region=settings.region, host=settings.endpoint_url, connection=connection
        ),
        routing=DynamoRoutingStore(),
        team=team,
        secrets=secrets,
        clock=clock,
        verify_form=signatures.verify_form_request,
        verify_twilio=signatures.verify_twilio_request,
        timers=timers,
        alert_log=DynamoAlertLog(),
        senders=SenderCache(settings, secrets, outbox, _lazy_client("sesv2", settings)),
        outbox=outbox,
        jobs=timers,  # one queue: the alert worker takes jobs and timers alike
        slack_responder=build_responder(
            base_url=settings.slack_api_base,
            outbox=outbox,
            slack_configured=lambda: _slack_configured(team.load().alerts, secrets),
        ),
        digest_log=DynamoDigestLog(),
    )


class SenderCache:
    """The alert senders for a configuration, built once per alert setup: a reloaded team file
    that changes nothing about alerts keeps its provider clients."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        outbox: Outbox | None,
        ses_client: Callable[[], Any],
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.outbox = outbox
        self.ses_client = ses_client
        self._built: dict[tuple[AlertChannels, str | None], Mapping[str, Sender]] = {}
        self._lock = threading.Lock()

    def __call__(self, team: TeamConfig) -> Mapping[str, Sender]:
        """Channel name ("sms", "slack", "email") -> its sender, for `team`."""
        key = (team.alerts, team.twilio_auth_token_ref)
        with self._lock:
            senders = self._built.get(key)
            if senders is None:
                senders = self._build(*key)
                # Alert setups change rarely; this only stops a long-lived worker from growing.
                if len(self._built) >= 8:
                    self._built.clear()
                self._built[key] = senders
            return senders

    def _build(self, alerts: AlertChannels, twilio_ref: str | None) -> Mapping[str, Sender]:
        # Provider libraries load with the channel modules: the alert worker pays, not capture.
        from chalicelib.adapters.channels.factory import build_senders

        if self.outbox is not None:
            alerts = _without_missing_credentials(alerts, twilio_ref, self.secrets)
        return build_senders(
            alerts,
            twilio_auth_token_ref=twilio_ref,
            secrets=self.secrets,
            ses_client=self.ses_client,
            outbox=self.outbox,
            twilio_api_base=self.settings.twilio_api_base,
            slack_base_url=self.settings.slack_api_base,
        )


def _without_missing_credentials(
    alerts: AlertChannels, twilio_ref: str | None, secrets: Secrets
) -> AlertChannels:
    """Locally, SMS and Slack whose secrets are not set go to the outbox: the demo file names
    the variables, and a newcomer sets them (or not) to choose real providers or the outbox.
    Email needs no secret of ours; locally it goes to the outbox too (build_senders)."""

    def resolves(ref: str | None) -> bool:
        if ref is None:
            return False
        try:
            secrets.resolve(ref)
        except NotConfiguredError:
            return False
        return True

    changes: dict[str, str | None] = {}
    if not (resolves(alerts.twilio_account_sid_ref) and resolves(twilio_ref)):
        changes.update(twilio_account_sid_ref=None, sms_from=None, messaging_service_sid=None)
    if not resolves(alerts.slack_bot_token_ref):
        changes["slack_bot_token_ref"] = None
    if not resolves(alerts.slack_webhook_url_ref):
        changes["slack_webhook_url_ref"] = None
    return replace(alerts, **changes)


def _slack_configured(alerts: AlertChannels, secrets: Secrets) -> bool:
    """Locally: whether the team's Slack bot token is set (click answers then go to Slack)."""
    checked = _without_missing_credentials(alerts, None, secrets)
    return checked.slack_bot_token_ref is not None


def _shared_session_client(service: str, settings: Settings, connection: Any) -> Callable[[], Any]:
    """A client built from the botocore session the DynamoDB connection already loaded: on the
    capture path this costs ~5 ms instead of ~110 ms for importing boto3 and building a client
    from scratch (a new lead's first timer goes out in the webhook's own request)."""
    return _once(
        lambda: connection.session.create_client(
            service, region_name=settings.region, endpoint_url=settings.endpoint_url
        )
    )


def _lazy_client(service: str, settings: Settings) -> Callable[[], Any]:
    """A boto3 client, built on first use (the alert worker's SES and the SSM secrets)."""

    def build() -> Any:
        import boto3

        return boto3.client(
            service, region_name=settings.region, endpoint_url=settings.endpoint_url
        )

    return _once(build)


def _once(build: Callable[[], Any]) -> Callable[[], Any]:
    """`build`'s result, built on the first call. Several worker threads may ask at once; one
    client serves them all (clients are thread-safe once built, but building one is not)."""
    built: list[Any] = []
    lock = threading.Lock()

    def get() -> Any:
        with lock:
            if not built:
                built.append(build())
            return built[0]

    return get


def _verify_slack(
    signing_secret: str, body: bytes, headers: Mapping[str, str], *, clock: Clock
) -> None:
    """Raise ForbiddenError unless Slack signed the request (see adapters/slack_verify.py)."""
    from chalicelib.adapters.slack_verify import verify_slack_request

    verify_slack_request(signing_secret, body, headers, clock=clock)
