"""Cold import of the capture path against a bare `import boto3`, each in fresh interpreters,
median of N runs. The capture path is `import app` (every blueprint: what the Lambda's API
handler imports) plus building the adapters (`wiring.build`), because adapters are imported
lazily and the first request would otherwise pay for them unseen."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.bench.report import Figure, at_most, info, must_be

ROOT = Path(__file__).resolve().parents[2]
RUNS = 15
MAX_RATIO = 1.5
# Modules that must stay off the capture path, and some that should (reported, no budget).
FORBIDDEN = ("twilio.rest", "slack_sdk")
WATCHED = ("yaml", "jinja2", "boto3")

# Time only the import: interpreter start-up is the same for both and is not what we budget.
_TIMED = """
import json, sys, time
t = time.perf_counter()
{module}
ms = (time.perf_counter() - t) * 1000
print(json.dumps({{"ms": ms, "loaded": {{m: m in sys.modules for m in {names!r}}}}}))
"""
CAPTURE_PATH = (
    "import app; from chalicelib import wiring; from chalicelib.settings import load_settings; "
    "wiring.build(load_settings())"
)
_BEFORE = "import json, sys; print(json.dumps(sorted(sys.modules)), flush=True); " + CAPTURE_PATH


def run(notes: list[str]) -> list[Figure]:
    """The cold-import figures; the import-time breakdown goes to `notes`."""
    env = _environment()
    names = FORBIDDEN + WATCHED
    app_code = _TIMED.format(module=CAPTURE_PATH, names=names)
    boto_code = _TIMED.format(module="import boto3", names=names)
    # One untimed run each first, so both find their bytecode caches written.
    run_fresh(app_code, env)
    run_fresh(boto_code, env)
    app_ms: list[float] = []
    boto_ms: list[float] = []
    loaded: dict[str, bool] = {}
    for i in range(RUNS):
        # Alternate the order so neither import always runs on a warmer machine.
        pair = [(app_code, app_ms), (boto_code, boto_ms)]
        for code, times in pair if i % 2 == 0 else reversed(pair):
            result = run_fresh(code, env)
            times.append(result["ms"])
            if times is app_ms:
                loaded = result["loaded"]
    app_median, boto_median = statistics.median(app_ms), statistics.median(boto_ms)
    ratio = app_median / boto_median
    notes.append(
        f"cold import over {RUNS} fresh interpreters each: import app "
        f"{_spread(app_ms)}, import boto3 {_spread(boto_ms)}"
    )
    notes += _breakdown(env)
    return [
        info("cold_import_capture_ms", round(app_median, 1)),
        info("cold_import_boto3_ms", round(boto_median, 1)),
        at_most("cold_import_ratio", round(ratio, 2), MAX_RATIO, "x"),
        # Fastest against fastest: less sensitive to a busy machine than the medians.
        info("cold_import_ratio_of_fastest", round(min(app_ms) / min(boto_ms), 2)),
        must_be("capture_imports_twilio_rest", loaded["twilio.rest"], False),
        must_be("capture_imports_slack_sdk", loaded["slack_sdk"], False),
        info("capture_imports_yaml", loaded["yaml"]),
        info("capture_imports_jinja2", loaded["jinja2"]),
        info("capture_imports_boto3", loaded["boto3"]),
    ]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LEADCLOCK_"))}
    env.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
    return env


def run_fresh(code: str, env: dict[str, str], *flags: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter; its output, and the last JSON line it printed."""
    done = subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"failed in a fresh interpreter:\n{done.stderr[-2000:]}")
    return {"stdout": done.stdout, "stderr": done.stderr, **_last_json(done.stdout)}


def _last_json(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _breakdown(env: dict[str, str]) -> list[str]:
    """Where `import app` spends its time, from one `python -X importtime` run: the ten
    slowest modules by their own time, and own time summed per top-level package."""
    done = run_fresh(_BEFORE, env, "-X", "importtime")
    already = set(json.loads(done["stdout"].splitlines()[0]))
    rows = [row for row in _importtime_rows(done["stderr"]) if row[0] not in already]
    total_us = sum(own for _, own, _, _ in rows)
    packages: dict[str, int] = defaultdict(int)
    importers: dict[str, list[str]] = defaultdict(list)
    for name, own, _, parent in rows:
        package = _root(name)
        packages[package] += own
        if _root(parent) != package and parent not in importers[package]:
            importers[package].append(parent)
    lines = [
        f"import app, one `python -X importtime` run: {len(rows)} modules, "
        f"{total_us / 1000:.0f} ms of own time (importtime's own overhead included)",
        "  slowest modules (own time / with their imports):",
    ]
    for name, own, cumulative, _ in sorted(rows, key=lambda r: -r[1])[:10]:
        lines.append(f"    {own / 1000:7.1f} ms / {cumulative / 1000:7.1f} ms  {name}")
    lines.append("  own time per top-level package, and who imports it:")
    for package, own in sorted(packages.items(), key=lambda p: -p[1])[:10]:
        share = 100 * own / total_us if total_us else 0.0
        by = ", ".join(importers[package][:3])
        lines.append(f"    {own / 1000:7.1f} ms  {share:4.0f}%  {package:<14} <- {by}")
    return lines


def _importtime_rows(stderr: str) -> list[tuple[str, int, int, str]]:
    """(module, own us, cumulative us, importing module) per `-X importtime` line. A module's
    line follows those of the modules it imports, indented one level deeper than its own."""
    parsed: list[tuple[str, int, int, int]] = []
    for line in stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        name = parts[2].strip()
        level = (len(parts[2].rstrip()) - 1 - len(name)) // 2
        parsed.append((name, int(parts[0]), int(parts[1]), level))
    rows = []
    for i, (name, own, cumulative, level) in enumerate(parsed):
        parent = next((p[0] for p in parsed[i + 1 :] if p[3] < level), "app")
        rows.append((name, own, cumulative, parent))
    return rows


def _root(module: str) -> str:
    return module.split(".", 1)[0]


def _spread(times: list[float]) -> str:
    return f"median {statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f})"
