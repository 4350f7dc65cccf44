"""Admin commands for a deployed stage.

    python -m chalicelib.cli.admin validate [--file PATH]
    python -m chalicelib.cli.admin load-config --stage prod [--file PATH] [--region R]

`load-config` validates the team file and replaces the configuration in the stage's tables
(the table prefix comes from .chalice/config.json); running Lambdas pick it up within 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from chalicelib.domain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = os.environ.get("LEADCLOCK_CONFIG", str(ROOT / "infra" / "team.demo.yaml"))


def main(argv: list[str] | None = None) -> int:
    """Run one admin command; exit 2 on an invalid file."""
    args = _parser().parse_args(argv)
    from chalicelib.team_file import load_team_file

    try:
        team = load_team_file(args.file)
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    summary = (
        f"{args.file}: team {team.name!r}, {len(team.sources)} sources, "
        f"{len(team.tracking_numbers)} tracking numbers, {len(team.queues)} queues"
    )
    if args.command == "validate":
        print(f"valid: {summary}")
        return 0

    from chalicelib.adapters.dynamo.models import bind
    from chalicelib.adapters.dynamo.team import DynamoTeamStore

    prefix = args.table_prefix or stage_table_prefix(args.stage)
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    bind(table_prefix=prefix, region=region or "us-east-1", host=args.endpoint)
    DynamoTeamStore().save(team)
    print(f"loaded into {prefix}team: {summary}")
    return 0


def stage_table_prefix(stage: str, config: Path = ROOT / ".chalice" / "config.json") -> str:
    """The LEADCLOCK_TABLE_PREFIX a Chalice stage deploys with."""
    data = json.loads(config.read_text())
    stage_env = data.get("stages", {}).get(stage, {}).get("environment_variables", {})
    prefix = stage_env.get("LEADCLOCK_TABLE_PREFIX") or data.get("environment_variables", {}).get(
        "LEADCLOCK_TABLE_PREFIX"
    )
    if not prefix:
        raise SystemExit(f"stage {stage!r} has no LEADCLOCK_TABLE_PREFIX in {config}")
    return str(prefix)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("validate", "load-config"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--file", default=DEFAULT_FILE, help="team file (YAML or JSON)")
        if name == "load-config":
            cmd.add_argument("--stage", default="dev", help="Chalice stage (table prefix)")
            cmd.add_argument("--table-prefix", help="override the stage's table prefix")
            cmd.add_argument("--region", help="AWS region (default: AWS_REGION)")
            cmd.add_argument("--endpoint", help="DynamoDB endpoint (a local server)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
