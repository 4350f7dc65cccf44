"""Test-wide setup: dummy AWS credentials so nothing can reach a real account."""

from __future__ import annotations

import os

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
# An endpoint override from the developer's shell must never leak into tests.
os.environ.pop("LEADCLOCK_AWS_ENDPOINT", None)
os.environ.pop("AWS_PROFILE", None)
