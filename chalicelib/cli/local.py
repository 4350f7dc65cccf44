"""`make run`: the whole system on one machine. Starts the embedded DynamoDB-compatible server,
creates the tables, loads the team configuration, serves the HTTP API and runs the replayer.

Environment: PORT (8000), LEADCLOCK_CONFIG (infra/team.demo.yaml), LEADCLOCK_ADMIN_KEY and any
secret the configuration references as env:NAME (each generated and printed when unset).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from chalicelib.domain.team import TeamConfig

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "infra" / "team.demo.yaml"
REPLAY_EVERY_S = 10.0


def main() -> int:
    """Run until Ctrl-C or SIGTERM, then stop everything cleanly."""
    port = int(os.environ.get("PORT", "8000"))
    config_path = Path(os.environ.get("LEADCLOCK_CONFIG", str(DEFAULT_CONFIG)))

    from chalicelib.cli.embedded import EmbeddedAws

    aws = EmbeddedAws(int(os.environ.get("LEADCLOCK_DYNAMODB_PORT", "0"))).start()
    base_url = f"http://127.0.0.1:{port}"
    _local_environment(aws.url, base_url)

    from chalicelib import wiring
    from chalicelib.adapters.dynamo.models import create_tables
    from chalicelib.settings import load_settings
    from chalicelib.team_file import load_team_file

    team = load_team_file(config_path)
    generated = _demo_secrets(team)
    container = wiring.build(load_settings())
    wiring.use(container)
    create_tables()
    container.team.save(team)

    from chalice.config import Config
    from chalice.local import create_local_server

    from app import app

    server = create_local_server(app, Config.create(app_name="leadclock"), "127.0.0.1", port)
    stop = threading.Event()
    replayer = threading.Thread(target=_replay_loop, args=(container, stop), daemon=True)
    replayer.start()

    def shutdown(signum: int, frame: FrameType | None) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    _banner(team, base_url, aws.url, config_path, generated)
    server.server.serve_forever()
    replayer.join(timeout=REPLAY_EVERY_S)
    aws.stop()
    print("leadclock stopped.", flush=True)
    return 0


def _local_environment(endpoint: str, base_url: str) -> None:
    # Dummy credentials: the embedded server accepts any, and nothing can reach a real account.
    defaults = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LEADCLOCK_TABLE_PREFIX": "leadclock-local-",
        "LEADCLOCK_ADMIN_KEY_REF": "env:LEADCLOCK_ADMIN_KEY",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ["LEADCLOCK_AWS_ENDPOINT"] = endpoint
    os.environ["PUBLIC_BASE_URL"] = base_url
    os.environ.setdefault("LEADCLOCK_ADMIN_KEY", "local-" + secrets.token_urlsafe(12))


def _demo_secrets(team: TeamConfig) -> dict[str, str]:
    """Give every env: secret the configuration names a value, so the demo runs as it is."""
    schemes = {s.secret_ref: s.auth_scheme for s in team.sources}
    if team.twilio_auth_token_ref:
        schemes[team.twilio_auth_token_ref] = "twilio"
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


def _replay_loop(container: object, stop: threading.Event) -> None:
    from chalicelib.services.assignment import Assigner
    from chalicelib.services.landing import replay_pending
    from chalicelib.wiring import Container

    assert isinstance(container, Container)
    assigner = Assigner(team=container.team, routing=container.routing, clock=container.clock)
    while not stop.wait(REPLAY_EVERY_S):
        replay_pending(store=container.store, clock=container.clock, assigner=assigner)


def _banner(
    team: TeamConfig, base: str, dynamo: str, config_path: Path, generated: dict[str, str]
) -> None:
    from chalicelib.cli.examples import examples

    key = os.environ["LEADCLOCK_ADMIN_KEY"]
    lines = [
        f"leadclock is running for {team.name}  (config: {config_path})",
        f"  API            {base}",
        f"  DynamoDB       {dynamo}  (embedded, in memory; gone when you stop)",
        f"  admin key      {key}   (header x-api-key)",
        "",
        "Webhook URLs:",
    ]
    lines += [
        f"  {s.name:<12} {base}/webhooks/forms/{s.name}   ({s.auth_scheme})" for s in team.sources
    ]
    lines += [
        f"  twilio voice  {base}/webhooks/twilio/voice",
        f"  twilio sms    {base}/webhooks/twilio/sms",
    ]
    lines += [f"  twilio status {base}/webhooks/twilio/status", ""]
    if generated:
        lines.append("Demo secrets generated for this run (set them yourself to keep them):")
        lines += [f"  {name}={value}" for name, value in generated.items()]
        lines.append("")
    lines.append("Try it (paste into another terminal):")
    lines += examples(team, base, key)
    lines += ["", "leadclock ready. Ctrl-C stops everything."]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
