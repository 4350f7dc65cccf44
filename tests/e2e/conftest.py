"""Starts the README's local stack (what `make run` runs) on free ports, for tests over HTTP."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# The rep-actions flow drives the lead page in the browser tests' headless Chromium.
from tests.browser.conftest import artifacts, browser  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
READY = "leadclock ready"


@dataclass
class LocalStack:
    """A running `make run` stack and the secrets it was started with."""

    base_url: str
    admin_key: str
    secrets: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str]


def _alert_secret_names() -> list[str]:
    from chalicelib.team_file import load_team_file

    alerts = load_team_file(ROOT / "infra" / "team.demo.yaml").alerts
    refs = (alerts.twilio_account_sid_ref, alerts.slack_bot_token_ref, alerts.slack_webhook_url_ref)
    return [ref[4:] for ref in refs if ref and ref.startswith("env:")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def launch(extra_env: Mapping[str, str] | None = None) -> Iterator[LocalStack]:
    """Start `make run`'s stack on a free port (with `extra_env` on top) until the block ends."""
    port = _free_port()
    chosen = {
        "LEADCLOCK_ADMIN_KEY": "e2e-" + secrets.token_hex(8),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "LEADCLOCK_SECRET_WEBSITE": secrets.token_hex(16),
        "LEADCLOCK_SECRET_PARTNER": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    }
    env = {**os.environ, **chosen, "PORT": str(port), "LEADCLOCK_DYNAMODB_PORT": "0"}
    # Alert credentials from the developer's shell would send real SMS and Slack messages:
    # without them every alert goes to the stack's outbox, where the tests read it.
    for name in _alert_secret_names():
        env.pop(name, None)
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.cli.local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if READY in line:
                ready.set()

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    # Waiting for the banner, not for a fixed time: this bounds a broken start, it times nothing.
    deadline = time.monotonic() + 60
    while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
        ready.wait(0.2)
    if not ready.is_set():
        process.kill()
        process.wait()
        pumper.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
        pytest.fail("local stack did not start:\n" + "".join(output))
    try:
        yield LocalStack(
            f"http://127.0.0.1:{port}", chosen["LEADCLOCK_ADMIN_KEY"], chosen, process, output
        )
    finally:
        _stop(process, pumper)


def _stop(process: subprocess.Popen[str], pumper: threading.Thread) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    pumper.join(timeout=10)
    assert process.stdout is not None
    process.stdout.close()


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The local stack as `make run` starts it, shared by the e2e tests that need no more."""
    with launch() as running:
        yield running
