"""The one place that names concrete adapters. Everything is built on first use and cached, so
moto can start first in tests and a cold start pays only for what its request touches."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.ports import (
    Clock,
    FormVerifier,
    LeadStore,
    RoutingStore,
    Secrets,
    TeamStore,
    TwilioVerifier,
)
from chalicelib.settings import Settings, load_settings


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


def build(settings: Settings) -> Container:
    """Real adapters for `settings`."""
    from chalicelib.adapters import signatures
    from chalicelib.adapters.clock import SystemClock
    from chalicelib.adapters.dynamo.models import bind
    from chalicelib.adapters.dynamo.routing import DynamoRoutingStore
    from chalicelib.adapters.dynamo.store import DynamoLeadStore
    from chalicelib.adapters.dynamo.team import DynamoTeamStore
    from chalicelib.adapters.secrets import SecretResolver

    connection = bind(
        table_prefix=settings.table_prefix, region=settings.region, host=settings.endpoint_url
    )
    return Container(
        settings=settings,
        store=DynamoLeadStore(
            region=settings.region, host=settings.endpoint_url, connection=connection
        ),
        routing=DynamoRoutingStore(),
        team=DynamoTeamStore(),
        secrets=SecretResolver(_lazy_client("ssm", settings)),
        clock=SystemClock(),
        verify_form=signatures.verify_form_request,
        verify_twilio=signatures.verify_twilio_request,
    )


def _lazy_client(service: str, settings: Settings) -> Callable[[], Any]:
    client: list[Any] = []

    def get() -> Any:
        if not client:
            import boto3

            client.append(
                boto3.client(
                    service, region_name=settings.region, endpoint_url=settings.endpoint_url
                )
            )
        return client[0]

    return get
