"""`chalice package` builds what Lambda will run: every handler imports from the zip alone, the zip
fits its budget, and the template's tables and permissions are the ones the code needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.dynamo.models import MODELS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# The venv's own chalice, next to the interpreter running the tests (not resolved: a venv's
# python is a link, and resolving it would leave the venv).
CHALICE = Path(sys.executable).parent / "chalice"
ZIP_BUDGET_BYTES = 30_000_000  # design.md: deployment zip <= 30 MB
# A cold run downloads and builds every wheel from PyPI; later runs reuse .chalice/deployments/.
PACKAGE_TIMEOUT_S = 900
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    # TransactWriteItems is not an IAM action: each item is authorised as PutItem, UpdateItem or
    # ConditionCheckItem.
    "dynamodb:ConditionCheckItem",
}
QUEUE_ACTIONS = {
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ChangeMessageVisibility",
}

# Runs in a fresh `python -S -I`: no site-packages, no PYTHONPATH, no current directory on
# sys.path. It puts the unzipped package first, imports one handler as Lambda does, and reports
# any module that came from somewhere other than the package or the standard library.
_IMPORT_ONE_HANDLER = r"""
import importlib, json, sys, sysconfig
root, handler = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
stdlib = tuple({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")})
outside = [p for p in sys.path[1:] if not p.startswith(sys.base_prefix) or "site-packages" in p]
error = None
try:
    module_name, attr = handler.rsplit(".", 1)
    target = getattr(importlib.import_module(module_name), attr)
    if not callable(target):
        error = f"{handler} is not callable"
except BaseException as exc:
    error = f"{type(exc).__name__}: {exc}"
foreign = sorted(
    name for name, module in list(sys.modules.items())
    if (path := getattr(module, "__file__", None)) and not path.startswith((root, *stdlib))
)
print(json.dumps({"error": error, "outside_path": outside, "foreign_modules": foreign}))
"""


@dataclass(frozen=True)
class Package:
    template: dict[str, Any]
    zip_path: Path
    unzipped: Path

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template["Resources"])

    def functions(self) -> dict[str, dict[str, Any]]:
        """Logical id to properties of every Lambda function in the template."""
        return {
            name: res["Properties"]
            for name, res in self.resources.items()
            if res["Type"] in FUNCTION_TYPES
        }


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    out = tmp_path_factory.mktemp("chalice-package")
    env = {**os.environ, **DUMMY_AWS}
    env.pop("AWS_PROFILE", None)
    command = [
        str(CHALICE),
        "package",
        "--stage",
        "dev",
        "--merge-template",
        "infra/resources.json",
        str(out),
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT_S
    )
    assert done.returncode == 0, f"chalice package failed:\n{done.stdout}\n{done.stderr}"
    unzipped = tmp_path_factory.mktemp("deployment-zip")
    with zipfile.ZipFile(out / "deployment.zip") as archive:
        archive.extractall(unzipped)
    template = json.loads((out / "sam.json").read_text())
    return Package(template=template, zip_path=out / "deployment.zip", unzipped=unzipped)


def test_every_handler_in_the_template_imports_from_the_zip_alone(package: Package) -> None:
    functions = package.functions()
    handlers = {props["Handler"] for props in functions.values()}
    assert "app.app" in handlers
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for name, props in functions.items():
        # Compiled wheels in the zip are built for the Lambda runtime; importing them here only
        # proves something if this interpreter is the same version.
        assert props["Runtime"] == runtime, f"{name} runs {props['Runtime']}, tests run {runtime}"

    root = str(package.unzipped)
    failures = {}
    for name, props in sorted(functions.items()):
        lambda_env = props.get("Environment", {}).get("Variables", {})
        env = {k: v for k, v in lambda_env.items() if isinstance(v, str)}
        env.update(DUMMY_AWS, AWS_LAMBDA_FUNCTION_NAME=name)
        done = subprocess.run(
            [sys.executable, "-S", "-I", "-c", _IMPORT_ONE_HANDLER, root, props["Handler"]],
            cwd=package.unzipped,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["outside_path"] == [], f"not isolated: {report['outside_path']}"
        if report["error"] or report["foreign_modules"]:
            failures[props["Handler"]] = report
    assert failures == {}, json.dumps(failures, indent=2)


def test_deployment_zip_is_within_the_30_mb_budget(
    package: Package,
    capsys: pytest.CaptureFixture[str],
    record_property: Any,
) -> None:
    size = package.zip_path.stat().st_size
    by_top = Counter[str]()
    with zipfile.ZipFile(package.zip_path) as archive:
        for info in archive.infolist():
            by_top[info.filename.split("/", 1)[0]] += info.compress_size
    biggest = ", ".join(f"{name} {n / 1e6:.1f} MB" for name, n in by_top.most_common(5))
    record_property("deployment_zip_bytes", size)
    with capsys.disabled():
        print(f"\ndeployment.zip: {size / 1e6:.2f} MB of 30 MB (largest: {biggest})")
    assert size <= ZIP_BUDGET_BYTES, f"deployment.zip is {size / 1e6:.2f} MB: {biggest}"


def test_template_tables_match_the_pynamodb_models(package: Package) -> None:
    tables = {}
    for res in package.resources.values():
        if res["Type"] == "AWS::DynamoDB::Table":
            props = res["Properties"]
            name = props["TableName"]["Fn::Sub"].removeprefix("${TablePrefix}")
            tables[name] = props
    assert set(tables) == set(MODELS)
    for name, model in MODELS.items():
        props = tables[name]
        assert _cfn_shape(props) == _model_shape(model._get_schema()), name
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_table_prefix_default_is_the_dev_stage_prefix(package: Package) -> None:
    default = package.template["Parameters"]["TablePrefix"]["Default"]
    for name, props in package.functions().items():
        assert props["Environment"]["Variables"]["LEADCLOCK_TABLE_PREFIX"] == default, name


def test_runtime_policy_lets_every_function_use_the_tables_and_secrets(package: Package) -> None:
    resources = package.resources
    policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::Policy"]
    attached = {role["Ref"] for policy in policies for role in policy["Roles"]}
    for name, props in package.functions().items():
        role = props["Role"]["Fn::GetAtt"][0]
        assert role in attached, f"{name} runs as {role}: add it to Roles in infra/resources.json"

    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]

    def allowed(action: str, resource: Any) -> bool:
        return any(
            s["Effect"] == "Allow"
            and action in _as_list(s["Action"])
            and resource in _as_list(s["Resource"])
            for s in statements
        )

    for table, res in resources.items():
        if res["Type"] != "AWS::DynamoDB::Table":
            continue
        for action in TABLE_ACTIONS:
            assert allowed(action, {"Fn::GetAtt": [table, "Arn"]}), (table, action)
        if res["Properties"].get("GlobalSecondaryIndexes"):
            assert allowed("dynamodb:Query", {"Fn::Sub": f"${{{table}.Arn}}/index/*"}), table

    parameters = [s for s in statements if "ssm:GetParameter" in _as_list(s["Action"])]
    assert parameters
    assert all(s["Resource"]["Fn::Sub"].endswith(":parameter/leadclock/*") for s in parameters)
    decrypt = [s for s in statements if "kms:Decrypt" in _as_list(s["Action"])]
    assert decrypt and all("kms:ViaService" in s["Condition"]["StringEquals"] for s in decrypt)


def test_timer_queue_dead_letter_queue_and_alarm_are_in_the_template(package: Package) -> None:
    resources = package.resources
    assert all("Type" in res for res in resources.values()), "a merged resource matched nothing"
    queues = {
        res["Properties"]["QueueName"]: (name, res["Properties"])
        for name, res in resources.items()
        if res["Type"] == "AWS::SQS::Queue"
    }
    _, timers = queues["leadclock-timers"]
    dlq_id, dlq = queues["leadclock-timers-dlq"]
    assert timers["VisibilityTimeout"] == 60
    assert timers["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert dlq["MessageRetentionPeriod"] == 1_209_600  # 14 days, the most SQS keeps

    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    dlq_name = {"Fn::GetAtt": [dlq_id, "QueueName"]}
    on_dlq = [
        a
        for a in alarms
        if a["Namespace"] == "AWS/SQS"
        and a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": dlq_name}]
    ]
    assert len(on_dlq) == 1
    assert (on_dlq[0]["ComparisonOperator"], on_dlq[0]["Threshold"]) == ("GreaterThanThreshold", 0)

    # Every function Chalice subscribes to a queue: the queue is in the template, created first
    # (Chalice names it by ARN, which CloudFormation cannot see), and holds a message invisible
    # for at least as long as the function may run.
    subscribed = 0
    for name, props in package.functions().items():
        for event in props.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            subscribed += 1
            queue_name = event["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[1]
            assert queue_name in queues, f"{name} reads {queue_name}, which the template lacks"
            queue_id, queue = queues[queue_name]
            assert queue_id in _as_list(resources[name].get("DependsOn", [])), name
            assert props["Timeout"] <= queue["VisibilityTimeout"], name
    assert subscribed, "no function reads the timer queue"


def test_runtime_policy_lets_every_function_use_the_timer_queues_and_send_email(
    package: Package,
) -> None:
    resources = package.resources
    statements = [
        s
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    queue_ids = [name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
    assert len(queue_ids) == 2
    for queue_id in queue_ids:
        arn = {"Fn::GetAtt": [queue_id, "Arn"]}
        for action in QUEUE_ACTIONS:
            assert any(
                action in _as_list(s["Action"]) and arn in _as_list(s["Resource"])
                for s in statements
            ), (queue_id, action)
    assert any("ses:SendEmail" in _as_list(s["Action"]) for s in statements)


def test_vendor_functions_is_a_relative_link_to_the_blueprints() -> None:
    link = ROOT / "vendor" / "functions"
    assert link.is_symlink()
    assert os.readlink(link) == "../functions"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _keys(schema: list[dict[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((k["AttributeName"], k["KeyType"]) for k in schema)


def _model_shape(schema: dict[str, Any]) -> dict[str, Any]:
    """Keys, key attributes and indexes of a PynamoDB model, as comparable values."""

    def indexes(entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            i["index_name"]: (
                _keys(i["key_schema"]),
                i["projection"]["ProjectionType"],
                frozenset(i["projection"].get("NonKeyAttributes", ())),
            )
            for i in entries
        }

    return {
        "keys": _keys(schema["key_schema"]),
        "attributes": {
            (a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]
        },
        "global": indexes(schema["global_secondary_indexes"]),
        "local": indexes(schema["local_secondary_indexes"]),
    }


def _cfn_shape(props: dict[str, Any]) -> dict[str, Any]:
    """The same view of an AWS::DynamoDB::Table's properties."""

    def indexes(entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            i["IndexName"]: (
                _keys(i["KeySchema"]),
                i["Projection"]["ProjectionType"],
                frozenset(i["Projection"].get("NonKeyAttributes", ())),
            )
            for i in entries
        }

    return {
        "keys": _keys(props["KeySchema"]),
        "attributes": {
            (a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]
        },
        "global": indexes(props.get("GlobalSecondaryIndexes", [])),
        "local": indexes(props.get("LocalSecondaryIndexes", [])),
    }
