"""A deployment missing a secret answers 503 without details, so providers retry later."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib import wiring
from chalicelib.adapters.secrets import SecretResolver
from tests.functional.conftest import Stack, body_of


def _unreachable_ssm() -> object:
    raise AssertionError("an env: reference must never build an SSM client")


def test_missing_secret_is_503_naming_nothing_and_stores_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADCLOCK_SECRET_WEBSITE", raising=False)
    # The real resolver, with the website token's environment variable unset.
    wiring.use(replace(wiring.container(), secrets=SecretResolver(_unreachable_ssm)))
    reply = stack.website({"name": "Ann", "phone": "+14155550123"})
    assert reply.status_code == 503
    assert body_of(reply) == {"Code": "NotConfigured", "Message": "not configured"}
    assert stack.is_empty()
