"""The admin command loads the team file into a stage's tables, and refuses an invalid one."""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import mock_aws

from chalicelib.adapters.dynamo.models import bind, create_tables
from chalicelib.adapters.dynamo.team import DynamoTeamStore
from chalicelib.cli.admin import main, stage_table_prefix
from chalicelib.team_file import load_team_file

DEMO = Path(__file__).resolve().parents[2] / "infra" / "team.demo.yaml"


def test_load_config_puts_the_demo_team_in_the_stage_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with mock_aws():
        bind(table_prefix="leadclock-prod-", region="us-east-1", host=None)
        create_tables()
        assert main(["load-config", "--stage", "prod", "--file", str(DEMO)]) == 0
        assert DynamoTeamStore().load() == load_team_file(DEMO)
    assert "loaded into leadclock-prod-team" in capsys.readouterr().out


def test_invalid_file_is_refused_with_its_path_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "team.yaml"
    bad.write_text(
        "team: {name: X}\nsources:\n  - name: web\n    auth: {scheme: token, secret: hunter2}\n"
    )
    assert main(["validate", "--file", str(bad)]) == 2
    assert "sources[0].auth.secret" in capsys.readouterr().err


def test_stage_prefix_comes_from_chalice_config() -> None:
    assert stage_table_prefix("prod") == "leadclock-prod-"
