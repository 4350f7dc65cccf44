"""Secret references resolve from the environment and SSM; the team document round-trips
through DynamoDB and is cached per container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.adapters.dynamo.models import TeamModel
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.adapters.dynamo.team import DynamoTeamStore, NoTeamConfigError
from chalicelib.adapters.secrets import SecretMissingError, SecretResolver
from chalicelib.ports import TeamChangedError, TeamStore
from chalicelib.team_file import load_team_file
from tests.fakes import StaticTeamStore

DEMO = load_team_file(Path(__file__).resolve().parents[2] / "infra" / "team.demo.yaml")
REGION = "us-east-1"


class RecordingSsm:
    """An SSM client that counts the parameters it was asked for."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_parameter(self, **kwargs: Any) -> Any:
        self.asked.append(kwargs["Name"])
        return self.client.get_parameter(**kwargs)


@pytest.fixture(scope="module")
def ssm_client(module_dynamo: DynamoLeadStore) -> Any:
    """A boto3 SSM client inside the module's moto mock (built once: clients are slow)."""
    client = boto3.client("ssm", region_name=REGION)
    client.put_parameter(Name="/leadclock/test/twilio", Value="s3cr3t", Type="SecureString")
    client.put_parameter(Name="/leadclock/test/partner", Value="whsec_x", Type="SecureString")
    return client


@pytest.fixture
def ssm(ssm_client: Any) -> RecordingSsm:
    return RecordingSsm(ssm_client)


def factory(ssm: RecordingSsm, built: list[int]) -> Callable[[], Any]:
    def make() -> Any:
        built.append(1)
        return ssm

    return make


def test_env_refs_read_the_environment_and_never_build_an_ssm_client(
    ssm: RecordingSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADCLOCK_TEST_SECRET", "from-env")
    built: list[int] = []
    resolver = SecretResolver(factory(ssm, built))
    assert resolver.resolve("env:LEADCLOCK_TEST_SECRET") == "from-env"
    assert built == []


def test_ssm_refs_read_a_secure_string_once_per_ref(ssm: RecordingSsm) -> None:
    built: list[int] = []
    resolver = SecretResolver(factory(ssm, built))
    for _ in range(3):
        assert resolver.resolve("ssm:/leadclock/test/twilio") == "s3cr3t"
        assert resolver.resolve("ssm:/leadclock/test/partner") == "whsec_x"
    assert ssm.asked == ["/leadclock/test/twilio", "/leadclock/test/partner"]


@pytest.mark.parametrize(
    "ref", ["env:LEADCLOCK_TEST_UNSET", "ssm:/leadclock/test/missing", "vault:/x", "s3cr3t"]
)
def test_a_ref_to_nothing_raises_secret_missing(
    ref: str, ssm: RecordingSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADCLOCK_TEST_UNSET", raising=False)
    resolver = SecretResolver(lambda: ssm)
    with pytest.raises(SecretMissingError) as caught:
        resolver.resolve(ref)
    assert "s3cr3t" not in str(caught.value)


def test_saved_team_loads_back_unchanged_in_another_container(dynamo: DynamoLeadStore) -> None:
    DynamoTeamStore().save(DEMO)
    assert DynamoTeamStore().load() == DEMO


def test_loading_before_any_save_raises_no_team_config(dynamo: DynamoLeadStore) -> None:
    with pytest.raises(NoTeamConfigError):
        DynamoTeamStore().load()


def test_a_loaded_team_is_served_from_the_cache_within_its_ttl(dynamo: DynamoLeadStore) -> None:
    DynamoTeamStore().save(DEMO)
    cached = DynamoTeamStore()
    assert cached.load() == DEMO
    # Another container replaces the document: this one keeps its copy until the ttl passes.
    DynamoTeamStore().save(replace(DEMO, name="Renamed"))
    assert cached.load() == DEMO
    TeamModel.get("team").delete()
    assert cached.load() == DEMO


def test_save_refreshes_the_saving_containers_own_cache(dynamo: DynamoLeadStore) -> None:
    team = DynamoTeamStore()
    team.save(DEMO)
    assert team.load() == DEMO
    team.save(replace(DEMO, name="Renamed"))
    assert team.load().name == "Renamed"


def test_with_no_ttl_every_load_reads_the_table(dynamo: DynamoLeadStore) -> None:
    uncached = DynamoTeamStore(ttl_s=0)
    DynamoTeamStore().save(DEMO)
    assert uncached.load() == DEMO
    DynamoTeamStore().save(replace(DEMO, name="Renamed"))
    assert uncached.load().name == "Renamed"
    TeamModel.get("team").delete()
    with pytest.raises(NoTeamConfigError):
        uncached.load()


@pytest.fixture(params=["memory", "dynamo"])
def team_store(request: pytest.FixtureRequest) -> TeamStore:
    if request.param == "memory":
        return StaticTeamStore(DEMO)
    request.getfixturevalue("dynamo")
    store = DynamoTeamStore()
    store.save(DEMO)
    return store


def test_an_edit_on_a_stale_version_is_refused_and_the_newer_save_stays(
    team_store: TeamStore,
) -> None:
    _, version = team_store.load_latest()
    renamed = replace(DEMO, name="First edit")
    newer = team_store.save(renamed, expected_version=version)
    assert newer == version + 1
    with pytest.raises(TeamChangedError):
        team_store.save(replace(DEMO, name="Stale edit"), expected_version=version)
    assert team_store.load_latest() == (renamed, newer)


def test_a_fresh_read_sees_another_containers_save_past_the_cache(
    dynamo: DynamoLeadStore,
) -> None:
    mine, theirs = DynamoTeamStore(ttl_s=3600), DynamoTeamStore()
    mine.save(DEMO)
    mine.load()
    theirs.save(replace(DEMO, name="Theirs"))
    assert mine.load().name == DEMO.name  # the cache, by design, for the capture path
    assert mine.load_latest()[0].name == "Theirs"  # edits always start from the latest
