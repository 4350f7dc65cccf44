"""Capture latency in a fresh interpreter: the first request of a cold container (imports, one
botocore client, the team config read) and warm requests after it, through chalice.test.Client
against the embedded server. Informative: moto's own time is inside these figures."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from chalicelib.cli.embedded import EmbeddedAws
from tests.bench.cold_import import run_fresh
from tests.bench.report import Figure, info

ROOT = Path(__file__).resolve().parents[2]
WARM_REQUESTS = 30

_CHILD = """
import json, sys, time
from app import app
from chalice.test import Client
client = Client(app)
def post(i):
    body = json.dumps({"name": "Bench", "phone": f"+1415555{i:04d}"})
    headers = {"Content-Type": "application/json", "X-Leadclock-Token": "bench-token"}
    t = time.perf_counter()
    reply = client.http.post("/webhooks/forms/website", headers=headers, body=body)
    assert reply.status_code == 201, reply.body
    return (time.perf_counter() - t) * 1000
first = post(100)
warm = [post(200 + i) for i in range(WARM)]
print(json.dumps({"first_ms": first, "warm_ms": warm}))
""".replace("WARM", str(WARM_REQUESTS))


def run(notes: list[str]) -> list[Figure]:
    """Cold first request and warm median, in ms."""
    aws = EmbeddedAws().start()
    try:
        env = _environment(aws.url)
        _seed(env)
        result = run_fresh(_CHILD, env)
    finally:
        aws.stop()
    warm = sorted(result["warm_ms"])
    notes.append(
        f"capture latency in a fresh interpreter: first request {result['first_ms']:.0f} ms, "
        f"then {WARM_REQUESTS} warm requests, median {statistics.median(warm):.0f} ms"
    )
    return [
        info("capture_cold_first_request_ms", round(result["first_ms"], 1)),
        info("capture_warm_request_ms_median", round(statistics.median(warm), 1)),
    ]


def _environment(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LEADCLOCK_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LEADCLOCK_AWS_ENDPOINT": endpoint,
            # chalice.test.Client applies the dev stage's variables from .chalice/config.json.
            "LEADCLOCK_TABLE_PREFIX": "leadclock-dev-",
            "LEADCLOCK_SECRET_WEBSITE": "bench-token",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def _seed(env: dict[str, str]) -> None:
    # Tables and team config are made by another process, so the measured one starts cold.
    seed = (
        "from chalicelib import wiring; from chalicelib.settings import load_settings; "
        "from chalicelib.adapters.dynamo.models import create_tables; "
        "from chalicelib.team_file import load_team_file; "
        "c = wiring.build(load_settings()); create_tables(); "
        "c.team.save(load_team_file('infra/team.demo.yaml'))"
    )
    subprocess.run([sys.executable, "-c", seed], cwd=ROOT, env=env, check=True, timeout=120)
